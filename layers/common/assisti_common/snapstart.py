"""Lambda SnapStart: what a function does before its initialised memory is snapshotted, and what each
restored copy must redo.

With SnapStart (template.yaml: `SnapStart: ApplyOn: PublishedVersions`), Lambda initialises a version
once, snapshots it, and starts new execution environments from the snapshot: the imports and cold-start
work are paid once per version, not once per container. Everything in the snapshot is shared by every
copy, so:

- before the snapshot, the caller's `warm` step runs (imports and client models a request would
  otherwise load, the dummy password hash): the restored copies start with them done;
- after each restore: `random` is reseeded (its state would be the same in every copy; `secrets` reads
  the OS and needs nothing); the cached boto3 clients and PynamoDB connections are dropped (connections
  opened before the snapshot are dead); Powertools' parameter cache is cleared, so the keyring and the
  LLM key are fetched again and their cache ages from the restore, not from the snapshot.

The hooks are Lambda's own (`snapshot_restore_py`, in the Python runtime). Outside Lambda, where
nothing snapshots the process, `register` does nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from assisti_common.observability import logger


def before_snapshot(warm: Callable[[], None]) -> None:
    warm()
    logger.info("initialised for the snapshot")


def after_restore() -> None:
    from assisti_common import aws

    random.seed()
    aws.client.cache_clear()
    from pynamodb.models import Model

    pending = list(Model.__subclasses__())
    while pending:  # every model class caches its connection (and its botocore client)
        model = pending.pop()
        model._connection = None
        pending += model.__subclasses__()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]


def register(warm: Callable[[], None]) -> bool:
    """Registers the hooks with Lambda's runtime. False where there is no SnapStart runtime to call them."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, warm)
    register_after_restore(after_restore)
    return True
