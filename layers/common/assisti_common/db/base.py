"""What every PynamoDB model shares: region, endpoint, and a connection for transactions."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PynamoDBException, UpdateError
from pynamodb.models import Model

from assisti_common.settings import get_settings

M = TypeVar("M", bound=Model)


class TableMeta:
    region = get_settings().aws_region
    host = get_settings().aws_endpoint_url
    # Lambda-sized timeouts: a stuck call must fail well inside API Gateway's 30 s.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


def transaction_connection() -> Connection:
    return Connection(region=TableMeta.region, host=TableMeta.host)


def find(model: type[M], hash_key: Any, range_key: Any = None) -> M | None:
    """The item with these keys, read consistently (a write just made is seen), or None."""
    try:
        return model.get(hash_key, range_key, consistent_read=True)
    except DoesNotExist:
        return None


def is_condition_failure(exc: PynamoDBException) -> bool:
    return exc.cause_response_code in {"ConditionalCheckFailedException", "TransactionCanceledException"}


def conditional_update(item: Model, actions: list[Any], condition: Any) -> bool:
    """Applies `actions` if `condition` holds: True when it did, False when the condition failed
    (another writer got there first, or the item is gone). Other errors propagate."""
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
