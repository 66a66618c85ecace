"""The one place boto3 clients are made: the region and endpoint from the settings (moto locally),
and Lambda-sized timeouts, so a stuck call fails well inside API Gateway's 30 s."""

from __future__ import annotations

from functools import cache
from typing import Any

from assisti_common.settings import get_settings


@cache
def client(service: str, read_timeout: int = 5, **config: Any) -> Any:
    """One client per service and container (clients are thread-safe and reuse connections). boto3 is
    imported with the first client: a request that calls no AWS service does not pay for it."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(
            connect_timeout=2, read_timeout=read_timeout, retries={"max_attempts": 3, "mode": "standard"}, **config
        ),
    )


# AWS's answers for "too much at once" or "not now": the request may succeed if repeated shortly.
# The last two are the reasons a cancelled DynamoDB transaction gives for a throttled item.
BUSY_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ProvisionedThroughputExceeded",
        "ThrottlingError",
    }
)


def is_busy(exc: BaseException) -> bool:
    """Whether `exc`, or anything it was raised from, is AWS saying "busy, try again" after the SDK's
    own retries, or a connection to AWS that failed or timed out. Duck-typed on botocore's and
    PynamoDB's exceptions, so that asking does not import either."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _busy_code(current) or _is_connection_failure(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _busy_code(exc: BaseException) -> bool:
    error = getattr(exc, "response", None)
    codes = {(error.get("Error") or {}).get("Code")} if isinstance(error, dict) else set()
    codes.add(getattr(exc, "cause_response_code", None))  # PynamoDB's wrapping of the same answer
    reasons = getattr(exc, "cancellation_reasons", None) or []  # PynamoDB's TransactWriteError
    codes.update(getattr(reason, "code", None) for reason in reasons if reason is not None)
    return not BUSY_CODES.isdisjoint(codes)


def _is_connection_failure(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    # botocore's EndpointConnectionError, ConnectTimeoutError and ReadTimeoutError all derive from these.
    return type(exc).__module__.startswith("botocore") and bool(names & {"ConnectionError", "HTTPClientError"})
