"""What a cold start imports: each HTTP function's route table answers a request that needs no data
access (an unauthenticated 401) without importing the libraries behind its routes. They wait for the
first request that needs them, or for SnapStart's warm-up (test_snapstart.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local.harness import http_event
from local.template import ROOT

# Each costs tens of milliseconds to import; none is needed to turn away a request without a token.
# (The `botocore` package itself is tiny, and Powertools imports it to tag its user agent.)
DEFERRED = ("boto3", "botocore.session", "pynamodb", "jwt", "cryptography", "openai", "argon2", "aws_xray_sdk")

PROBE = r"""
import importlib, json, sys
from local.functions import LambdaContext
deferred = json.loads(sys.argv[3])
module = importlib.import_module(sys.argv[1])
at_import = sorted(name for name in deferred if name in sys.modules)
response = module.handler(json.loads(sys.argv[2]), LambdaContext("probe"))
after_401 = sorted(name for name in deferred if name in sys.modules)
print(json.dumps({"status": response["statusCode"], "at_import": at_import, "after_401": after_401}))
"""


@pytest.mark.parametrize(
    ("module", "path"),
    [
        ("assisti_auth.app", "/me"),
        ("assisti_chat.app", "/categories"),
        ("assisti_ocr_api.app", "/ocr"),
        ("assisti_vision_api.app", "/vision/animals"),
    ],
)
def test_a_cold_function_turns_away_an_unauthenticated_request_without_its_data_libraries(module, path):
    event = json.dumps(http_event("GET", path))
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE, module, event, json.dumps(DEFERRED)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 401, "at_import": [], "after_401": []}


LAZY = r"""
import sys
from assisti_common import lazy
wave = lazy.module("wave")
assert "wave" not in sys.modules and lazy.pending() == ["wave"]
assert wave.WAVE_FORMAT_PCM == 1  # the first attribute read imports it...
assert "wave" in sys.modules and lazy.pending() == []
assert wave.open is sys.modules["wave"].open  # ...and every read is the real module's
try:
    lazy.module("no_such_module_here")
except ModuleNotFoundError:
    print("ok")  # a misspelt name fails at cold start, not at the first request
"""


def test_a_deferred_module_is_imported_at_its_first_use_and_a_wrong_name_fails_at_once():
    done = subprocess.run([sys.executable, "-c", LAZY], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
