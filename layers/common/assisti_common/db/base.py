"""What every PynamoDB model shares: region, endpoint, and a connection for transactions."""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException

from assisti_common.settings import get_settings


class TableMeta:
    region = get_settings().aws_region
    host = get_settings().aws_endpoint_url
    # Lambda-sized timeouts: a stuck call must fail well inside API Gateway's 30 s.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


def transaction_connection() -> Connection:
    return Connection(region=TableMeta.region, host=TableMeta.host)


def is_condition_failure(exc: PynamoDBException) -> bool:
    return exc.cause_response_code in {"ConditionalCheckFailedException", "TransactionCanceledException"}
