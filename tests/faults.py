"""Injecting AWS faults below botocore's retries, as AWS itself would answer.

`DynamoDBFaults` answers chosen DynamoDB writes with a real throttling error response (HTTP 400 and
the JSON error body DynamoDB sends), so botocore's retry handler, PynamoDB's exception wrapping and
Powertools all see exactly what they would see in AWS. A write is one request the code makes: its
SDK retries are the same write, and a fault on it lasts through them (the SDK gives up, as it does
against a table throttled for longer than its back-off).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.endpoint import Endpoint

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
THROTTLES = ("ProvisionedThroughputExceededException", "ThrottlingException")


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def throttle_response(request: AWSRequest, code: str) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Rate exceeded"})
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
    return AWSResponse(request.url, 400, headers, _Raw(body.encode()))


def header(request: AWSRequest, name: str) -> str:
    value = request.headers.get(name, "")
    return value.decode() if isinstance(value, bytes) else str(value)


def dynamodb_operation(request: AWSRequest) -> str | None:
    target = header(request, "X-Amz-Target")
    return target.split(".", 1)[1] if target.startswith("DynamoDB_") else None


@dataclass
class DynamoDBFaults:
    """Counts the DynamoDB writes the code makes, and throttles the `fail_write`-th (1-based) with
    `code` through all its SDK retries. `writes` lists every write's operation, in order."""

    code: str = THROTTLES[0]
    fail_write: int | None = None
    writes: list[str] = field(default_factory=list)
    _invocations: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        """The operation of the write it throttled, if it came to it."""
        return self.writes[self.fail_write - 1 : self.fail_write] if self.fail_write else []

    def answer(self, request: AWSRequest) -> AWSResponse | None:
        operation = dynamodb_operation(request)
        if operation not in WRITES:
            return None
        invocation = header(request, "amz-sdk-invocation-id")  # the same on each SDK retry of one call
        if invocation not in self._invocations:
            self._invocations.append(invocation)
            self.writes.append(operation)
        number = self._invocations.index(invocation) + 1
        return throttle_response(request, self.code) if number == self.fail_write else None


@contextmanager
def botocore_answers(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[AWSRequest], AWSResponse | None]
) -> Iterator[None]:
    """Every request any botocore client in this process sends (PynamoDB's and boto3's) goes first to
    `answer`, which may answer it, raise as the network would, or let it through (None). The SDK's
    back-off is skipped so a test does not sleep through its retries."""
    from botocore.retries.standard import ExponentialBackoff

    send = Endpoint._send

    def answered_send(endpoint: Endpoint, request: AWSRequest) -> AWSResponse:
        return answer(request) or send(endpoint, request)

    with monkeypatch.context() as patch:
        patch.setattr(Endpoint, "_send", answered_send)
        patch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
        yield


@contextmanager
def dynamodb_faults(monkeypatch: pytest.MonkeyPatch, faults: DynamoDBFaults) -> Iterator[DynamoDBFaults]:
    with botocore_answers(monkeypatch, faults.answer):
        yield faults


@contextmanager
def ses_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SES unreachable (every try of every send)."""
    from botocore.exceptions import EndpointConnectionError

    def unreachable(request: AWSRequest) -> None:
        if "/v2/email/outbound-emails" in request.url:
            raise EndpointConnectionError(endpoint_url=request.url)

    with botocore_answers(monkeypatch, unreachable):
        yield
