"""Idempotent creates for a mobile client on a bad network, with Powertools' idempotency utility.

A POST that creates something accepts an `Idempotency-Key` header. The first request with a key runs
and its response is stored (the IDEMPOTENCY_TABLE, 24 h); a repeat with the same key gets that same
response back (same ids) without creating anything or charging a quota again. The key belongs to the
user: the record is keyed by (user, key), and the operation and body are its payload, so the same key
with a different body, or on another route, is a 422. A repeat that arrives while the first is still
running is a 409 with Retry-After. A first request that fails (an error response) stores nothing: the
client can repeat it with the same key.

Powertools and its DynamoDB client are imported by the first request that carries a key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from fastapi import Depends, Header, Request

from assisti_common.errors import Conflict, ValidationFailed
from assisti_common.principal import Principal

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

HEADER = "Idempotency-Key"
KEPT_SECONDS = 24 * 3600


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was used for a different request. Use a new key for a new request."
    details_example: ClassVar[Any] = None  # answered without field errors (not ValidationFailed's example)


class RequestInProgress(Conflict):
    code = "request_in_progress"
    message = "A request with this Idempotency-Key is still running. Retry shortly for its result."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


@dataclass(frozen=True)
class Replay:
    """A request's idempotency key (None: not idempotent) and its Lambda context (for the time left)."""

    key: str | None
    lambda_context: Any = None


def replay_of(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Any unique string (a UUID) per intended create. A repeat within 24 h with the same "
            "key returns the first response instead of creating again; with a different body, 422.",
        ),
    ] = None,
) -> Replay:
    return Replay(key, request.scope.get("aws.context"))


IdempotencyKey = Annotated[Replay, Depends(replay_of)]


SAVE_RESULT_BACKOFF_SECONDS = (0.1, 0.3, 0.9)  # after the SDK's own retries


@cache
def _persistence() -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from assisti_common import aws
    from assisti_common.observability import logger, metrics
    from assisti_common.settings import get_settings

    class PatientPersistenceLayer(DynamoDBPersistenceLayer):
        """Storing the result comes after the work is done: a throttled write there must not turn a
        done create into an error (the client would repeat it, find the key still in progress, and
        once that lapsed, create again). It is tried again, then given up on with the result still
        returned; the key then stays in progress until the request's time is up."""

        def save_success(self, data: dict[str, Any], result: dict[str, Any]) -> None:
            for pause in (*SAVE_RESULT_BACKOFF_SECONDS, None):
                try:
                    super().save_success(data, result)
                    return
                except Exception as exc:
                    if not aws.is_busy(exc):
                        raise
                    if pause is None:
                        logger.error("idempotent result not stored", extra={"error_type": type(exc).__name__})
                        metrics.add_metric(name="idempotency_results_not_stored", unit="Count", value=1)
                        return
                    time.sleep(pause)

    return PatientPersistenceLayer(table_name=get_settings().idempotency_table, boto3_client=aws.client("dynamodb"))


def _produce(request: dict[str, Any], produce: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return produce()


def once(
    principal: Principal,
    replay: Replay,
    operation: str,
    body: Any,
    produce: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """`produce()` (a JSON-ready response body), run once per (user, key); a repeat gets the first body."""
    if replay.key is None:
        return produce()
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[user_id, key]",
        payload_validation_jmespath="[operation, body]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=KEPT_SECONDS,
        hash_function="sha256",
        # With the context, a request that dies mid-way stops blocking its key when its time is up.
        lambda_context=replay.lambda_context,
    )
    run = idempotent_function(
        _produce, data_keyword_argument="request", persistence_store=_persistence(), config=config
    )
    request = {"user_id": principal.user_id, "key": replay.key, "operation": operation, "body": body}
    try:
        result: dict[str, Any] = run(request=request, produce=produce)
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused() from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise RequestInProgress() from exc
    return result
