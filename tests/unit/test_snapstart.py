"""SnapStart's runtime hooks: each HTTP function warms itself before the snapshot, and every restored
copy reseeds `random`, drops connections made before the snapshot, and fetches its secrets again."""

from __future__ import annotations

import random
import subprocess
import sys

from assisti_common import aws, snapstart
from assisti_common.db.models import SessionModel, UserModel
from local.template import ROOT

REGISTERED = r"""
import importlib, sys
from snapshot_restore_py import get_after_restore, get_before_snapshot
from assisti_common import lazy
importlib.import_module(sys.argv[1])
assert lazy.pending(), "the route table defers its service"
before, after = get_before_snapshot(), get_after_restore()
assert [f.__name__ for f, _, _ in before] == ["before_snapshot"], before
assert [f.__name__ for f, _, _ in after] == ["after_restore"], after
for function, args, kwargs in before:
    function(*args, **kwargs)  # the warm-up: deferred modules, clients, a 404 through the app, the dummy hash
from assisti_common import aws
assert aws.client.cache_info().currsize >= 1
assert lazy.pending() == [], lazy.pending()
if sys.argv[1] == "assisti_auth.app":
    from assisti_auth import passwords
    assert passwords.dummy_hash.cache_info().currsize == 1
print("ok")
"""


def test_every_http_function_registers_its_hooks_and_warms_up_before_the_snapshot():
    for module in ("assisti_auth.app", "assisti_chat.app", "assisti_ocr_api.app", "assisti_vision_api.app"):
        done = subprocess.run([sys.executable, "-c", REGISTERED, module], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.strip().endswith("ok"), (module, done.stderr[-2000:])


def test_a_restored_copy_does_not_repeat_the_snapshots_random_numbers():
    random.seed(1234)
    in_the_snapshot = [random.random() for _ in range(3)]
    random.seed(1234)  # every copy restored from one snapshot starts from the same state...
    snapstart.after_restore()
    assert [random.random() for _ in range(3)] != in_the_snapshot  # ...until the hook reseeds it


def test_a_restored_copy_drops_connections_and_cached_secrets(monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    cleared = []
    monkeypatch.setattr(parameters, "clear_caches", lambda: cleared.append(True))
    aws.client("s3")
    sentinel = object()
    monkeypatch.setattr(UserModel, "_connection", sentinel)
    monkeypatch.setattr(SessionModel, "_connection", sentinel)

    snapstart.after_restore()

    assert aws.client.cache_info().currsize == 0
    assert UserModel._connection is None and SessionModel._connection is None
    assert cleared == [True]  # the keyring and the LLM key are fetched again, aging from the restore


def test_outside_lambda_without_the_runtime_hooks_nothing_is_registered(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # as where the runtime has no SnapStart
    assert snapstart.register(lambda: None) is False
