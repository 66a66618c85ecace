"""What every PynamoDB model shares: region, endpoint, and a connection for transactions."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from assisti_common.settings import get_settings

M = TypeVar("M", bound=Model)
TRANSACT_TRIES = 4


class TableMeta:
    region = get_settings().aws_region
    host = get_settings().aws_endpoint_url
    # Lambda-sized timeouts: a stuck call must fail well inside API Gateway's 30 s.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


@cache
def transaction_connection() -> Connection:
    """One per container, like the models' own: a new Connection builds a new botocore session and
    client (~90 ms each time, measured), which every transaction paid before."""
    return Connection(
        region=TableMeta.region,
        host=TableMeta.host,
        connect_timeout_seconds=TableMeta.connect_timeout_seconds,
        read_timeout_seconds=TableMeta.read_timeout_seconds,
        max_retry_attempts=TableMeta.max_retry_attempts,
    )


def find(model: type[M], hash_key: Any, range_key: Any = None) -> M | None:
    """The item with these keys, read consistently (a write just made is seen), or None."""
    try:
        return model.get(hash_key, range_key, consistent_read=True)
    except DoesNotExist:
        return None


def is_condition_failure(exc: PynamoDBException) -> bool:
    return exc.cause_response_code in {"ConditionalCheckFailedException", "TransactionCanceledException"}


def conditional_update(item: Model, actions: list[Any], condition: Any, *, versioned: bool = True) -> bool:
    """Applies `actions` if `condition` holds: True when it did, False when the condition failed
    (another writer got there first, or the item is gone). Other errors propagate. `versioned=False`
    drops a VersionAttribute's own condition, for atomic counters whose `condition` says it all."""
    try:
        item.update(actions=actions, condition=condition, add_version_condition=versioned)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def transact(build: Callable[[TransactWrite], None]) -> bool:
    """Runs the transaction `build` fills: True when written, False when one of its conditions failed.
    DynamoDB cancels, rather than queues, a transaction that meets another on the same item (a
    user's usage counter): those are tried again."""
    for attempt in range(TRANSACT_TRIES):
        try:
            with TransactWrite(connection=transaction_connection()) as tx:
                build(tx)
            return True
        except TransactWriteError as exc:
            reasons = set(cancellation_codes(exc))
            if "ConditionalCheckFailed" in reasons:
                return False
            if "TransactionConflict" not in reasons or attempt == TRANSACT_TRIES - 1:
                raise
            time.sleep(0.02 * 2**attempt)
    raise AssertionError("unreachable: the last try returns or raises")


def cancellation_codes(exc: TransactWriteError) -> list[str | None]:
    """Why DynamoDB cancelled a transaction, one code per write in order (None for a write that was
    fine); empty when it was refused as a whole (throttled, invalid)."""
    return [reason.code if reason is not None else None for reason in exc.cancellation_reasons or []]
