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
from collections.abc import Iterator
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


def _header(request: AWSRequest, name: str) -> str:
    value = request.headers.get(name, "")
    return value.decode() if isinstance(value, bytes) else str(value)


def dynamodb_operation(request: AWSRequest) -> str | None:
    target = _header(request, "X-Amz-Target")
    return target.split(".", 1)[1] if target.startswith("DynamoDB_") else None


@dataclass
class DynamoDBFaults:
    """Counts the DynamoDB writes the code makes, and throttles the `fail_write`-th (1-based) with
    `code` through all its SDK retries. `writes` lists every write's operation, in order."""

    code: str = THROTTLES[0]
    fail_write: int | None = None
    writes: list[str] = field(default_factory=list)
    _invocations: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # the operation of the write it throttled
    attempts_failed: int = 0  # that write's tries, the SDK's retries included

    def answer(self, request: AWSRequest) -> AWSResponse | None:
        operation = dynamodb_operation(request)
        if operation not in WRITES:
            return None
        invocation = _header(request, "amz-sdk-invocation-id")  # the same on each SDK retry of one call
        if invocation not in self._invocations:
            self._invocations.append(invocation)
            self.writes.append(operation)
        number = self._invocations.index(invocation) + 1
        if number != self.fail_write:
            return None
        self.attempts_failed += 1
        if len(self.failed) < 1:
            self.failed.append(operation)
        return throttle_response(request, self.code)


@contextmanager
def dynamodb_faults(monkeypatch: pytest.MonkeyPatch, faults: DynamoDBFaults) -> Iterator[DynamoDBFaults]:
    """Every botocore client in this process (PynamoDB's and boto3's) goes through `faults`; the SDK's
    back-off is skipped so a test does not sleep through it."""
    from botocore.retries.standard import ExponentialBackoff

    send = Endpoint._send

    def faulty_send(endpoint: Endpoint, request: AWSRequest) -> AWSResponse:
        return faults.answer(request) or send(endpoint, request)

    with monkeypatch.context() as patch:
        patch.setattr(Endpoint, "_send", faulty_send)
        patch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
        yield faults
