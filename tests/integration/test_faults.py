"""The fault suite: each fault injected where the code meets it, then the final state checked.

Every write path is run once per DynamoDB write it makes, with that write throttled through all the
SDK's retries (tests/faults.py answers it as DynamoDB does). The client must get a 503 with
Retry-After in the common error shape, and repeating the same request once the throttling is over
must end exactly where a run without the fault ends: nothing half-written stands in the way.

The LLM, SES, S3 and SQS faults follow; faults already covered elsewhere are listed in the README's
"Reliability" section with their tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from local.mailbox import Mailbox
from local.provision import provision
from tests.conftest import FAKE_LLM, TEMPLATE
from tests.faults import THROTTLES, DynamoDBFaults, dynamodb_faults
from tests.helpers import PASSWORD, assert_error, bearer, latest_code, register, sign_in

EMAIL = "faults@example.com"
NEW_PASSWORD = "a different horse battery staple"


@dataclass
class Run:
    """One run of a write path: the client, the mailbox, and what setup made for the request."""

    api: TestClient
    mailbox: Mailbox
    headers: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))

    def code(self) -> str:
        return latest_code(self.messages_for, EMAIL)

    def messages_for(self, email: str) -> list[dict[str, Any]]:
        return [mail.as_json() for mail in self.mailbox.messages(email)]

    def signed_up(self) -> None:
        response = self.api.post("/auth/sign-up", json={"email": EMAIL, "password": PASSWORD})
        assert response.status_code == 201, response.text

    def registered(self) -> None:
        register(self.api, self.messages_for, EMAIL)

    def asked_for_a_reset(self) -> None:
        self.signed_in()
        assert self.api.post("/auth/forgot-password", json={"email": EMAIL}).status_code == 200

    def signed_in(self) -> None:
        self.registered()
        self.headers = bearer(tokens := sign_in(self.api, EMAIL))
        self.ids["refresh_token"] = tokens["refresh_token"]

    def category(self) -> None:
        self.signed_in()
        response = self.api.post("/categories", json={"name": "Faults"}, headers=self.headers)
        self.ids["category"] = response.json()["id"]

    def message(self) -> None:
        self.category()
        response = self.api.post(
            f"/categories/{self.ids['category']}/messages", json={"message": "Explain tides."}, headers=self.headers
        )
        self.ids["message"] = response.json()["id"]

    def failed_message(self) -> None:
        FAKE_LLM.script("500", "500", "500")
        self.message()

    def ocr_item(self) -> None:
        self.signed_in()
        self.ids["item"] = self.api.post("/ocr", json={"title": "Faults"}, headers=self.headers).json()["item"]["id"]

    def get(self, path: str) -> Any:
        response = self.api.get(path, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()


@dataclass(frozen=True)
class WritePath:
    name: str
    setup: Callable[[Run], None]
    request: Callable[[Run], httpx.Response]
    status: int  # of the successful answer
    settled: Callable[[Run, httpx.Response], None]  # the state a run without faults ends in
    # What the app does with a successful answer that says "retry" (a message failed, retryable).
    follow_up: Callable[[Run, httpx.Response], httpx.Response] | None = None


def _user(run: Run) -> dict[str, Any]:
    return dict(run.get("/me"))


def _signed_up(run: Run, response: httpx.Response) -> None:
    confirmed = run.api.post("/auth/confirm-sign-up", json={"email": EMAIL, "code": run.code(), "password": PASSWORD})
    assert confirmed.status_code == 200, confirmed.text
    run.headers = bearer(sign_in(run.api, EMAIL))


def _confirmed(run: Run, response: httpx.Response) -> None:
    run.headers = bearer(sign_in(run.api, EMAIL))
    assert _user(run)["email"] == EMAIL


def _signed_in(run: Run, response: httpx.Response) -> None:
    run.headers = bearer(response.json())
    sessions = run.get("/me/sessions")["sessions"]
    assert len(sessions) == 1, sessions  # the throttled sign-in left no session behind


def _refreshed(run: Run, response: httpx.Response) -> None:
    run.headers = bearer(response.json())
    assert _user(run)["email"] == EMAIL
    assert len(run.get("/me/sessions")["sessions"]) == 1


def _password_reset(run: Run, response: httpx.Response) -> None:
    sign_in(run.api, EMAIL, NEW_PASSWORD)
    assert_error(run.api.post("/auth/sign-in", json={"email": EMAIL, "password": PASSWORD}), 401)


def _one_category(run: Run, response: httpx.Response) -> None:
    (category,) = run.get("/categories")["categories"]
    assert category["id"] == response.json()["id"] and category["name"] == "Faults"


def _tokens(message: dict[str, Any]) -> int:
    usage = message["usage"]
    return int(usage["prompt_tokens"]) + int(usage["completion_tokens"])


def _answered_once(run: Run, response: httpx.Response) -> None:
    category = run.ids["category"]
    (message,) = run.get(f"/categories/{category}/messages")["messages"]
    assert message["id"] == response.json()["id"] and message["status"] == "answered"
    usage = run.get("/me/usage")
    assert usage["messages"]["used"] == 1 and usage["tokens"]["used"] == _tokens(message)


def _retried(run: Run, response: httpx.Response) -> None:
    (message,) = run.get(f"/categories/{run.ids['category']}/messages")["messages"]
    assert message["status"] == "answered"
    assert run.get("/me/usage")["tokens"]["used"] == _tokens(message)  # charged once


def _category_gone(run: Run, response: httpx.Response) -> None:
    assert run.get("/categories")["categories"] == []
    assert_error(run.api.get(f"/categories/{run.ids['category']}/messages", headers=run.headers), 404)


def _one_item(run: Run, response: httpx.Response) -> None:
    (item,) = run.get("/ocr")["items"]
    assert item["id"] == response.json()["item"]["id"] and item["status"] == "awaiting_upload"


def _item_gone(run: Run, response: httpx.Response) -> None:
    assert run.get("/ocr")["items"] == []


def _account_gone(run: Run, response: httpx.Response) -> None:
    assert_error(run.api.post("/auth/sign-in", json={"email": EMAIL, "password": PASSWORD}), 401)
    run.registered()  # the address is free again


def _retry_if_not_stored(run: Run, response: httpx.Response) -> httpx.Response:
    """A message whose answer could not be saved comes back failed and retryable, like one the LLM
    failed; the app retries it."""
    message = response.json()
    if message["status"] == "answered":
        return response
    assert message["status"] == "failed" and message["error"]["code"] == "answer_not_stored", message
    path = f"/categories/{run.ids['category']}/messages/{message['id']}/retry"
    retried = run.api.post(path, headers=run.headers)
    assert retried.status_code == 200, retried.text
    return retried


def _idempotent(run: Run) -> dict[str, str]:
    return {**run.headers, "Idempotency-Key": run.idempotency_key}


WRITE_PATHS = [
    WritePath(
        "sign-up",
        lambda run: None,
        lambda run: run.api.post("/auth/sign-up", json={"email": EMAIL, "password": PASSWORD, "name": "F"}),
        201,
        _signed_up,
    ),
    WritePath(
        "confirm-sign-up",
        Run.signed_up,
        lambda run: run.api.post(
            "/auth/confirm-sign-up", json={"email": EMAIL, "code": run.code(), "password": PASSWORD}
        ),
        200,
        _confirmed,
    ),
    WritePath(
        "sign-in",
        Run.registered,
        lambda run: run.api.post("/auth/sign-in", json={"email": EMAIL, "password": PASSWORD}),
        200,
        _signed_in,
    ),
    WritePath(
        "refresh",
        Run.signed_in,
        lambda run: run.api.post("/auth/refresh", json={"refresh_token": run.ids["refresh_token"]}),
        200,
        _refreshed,
    ),
    WritePath(
        "confirm-forgot-password",
        Run.asked_for_a_reset,
        lambda run: run.api.post(
            "/auth/confirm-forgot-password", json={"email": EMAIL, "code": run.code(), "new_password": NEW_PASSWORD}
        ),
        200,
        _password_reset,
    ),
    WritePath(
        "create category",
        Run.signed_in,
        lambda run: run.api.post("/categories", json={"name": "Faults"}, headers=_idempotent(run)),
        201,
        _one_category,
    ),
    WritePath(
        "send message",
        Run.category,
        lambda run: run.api.post(
            f"/categories/{run.ids['category']}/messages", json={"message": "Explain tides."}, headers=_idempotent(run)
        ),
        201,
        _answered_once,
        _retry_if_not_stored,
    ),
    WritePath(
        "retry message",
        Run.failed_message,
        lambda run: run.api.post(
            f"/categories/{run.ids['category']}/messages/{run.ids['message']}/retry", headers=run.headers
        ),
        200,
        _retried,
        _retry_if_not_stored,
    ),
    WritePath(
        "delete category",
        Run.message,
        lambda run: run.api.delete(f"/categories/{run.ids['category']}", headers=run.headers),
        204,
        _category_gone,
    ),
    WritePath(
        "create image item",
        Run.signed_in,
        lambda run: run.api.post("/ocr", json={"title": "Faults"}, headers=_idempotent(run)),
        201,
        _one_item,
    ),
    WritePath(
        "delete image item",
        Run.ocr_item,
        lambda run: run.api.delete(f"/ocr/{run.ids['item']}", headers=run.headers),
        204,
        _item_gone,
    ),
    WritePath(
        "delete account",
        Run.message,
        lambda run: run.api.request("DELETE", "/me", json={"password": PASSWORD}, headers=run.headers),
        204,
        _account_gone,
    ),
]


@pytest.fixture
def fresh_account(moto_server: str) -> Callable[[], None]:
    """Empties the account: moto reset, every resource of the template created again."""
    from aws_lambda_powertools.utilities import parameters

    def reset() -> None:
        httpx.post(f"{moto_server}/moto-api/reset").raise_for_status()
        provision(TEMPLATE, moto_server)
        parameters.clear_caches()
        FAKE_LLM.reset()

    return reset


def _start(fresh_account: Callable[[], None], api: TestClient, path: WritePath) -> Run:
    fresh_account()
    run = Run(api, Mailbox())
    path.setup(run)
    FAKE_LLM.reset()
    return run


def _writes_of(path: WritePath, run: Run, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    with dynamodb_faults(monkeypatch, DynamoDBFaults()) as recorded:
        response = path.request(run)
    assert response.status_code == path.status, response.text
    path.settled(run, response)
    return recorded.writes


@pytest.mark.parametrize("path", WRITE_PATHS, ids=[path.name for path in WRITE_PATHS])
def test_a_throttled_write_is_a_503_and_repeating_the_request_ends_as_if_it_never_happened(
    gateway_app: Any, fresh_account: Callable[[], None], monkeypatch: pytest.MonkeyPatch, path: WritePath
) -> None:
    with TestClient(gateway_app, base_url="http://127.0.0.1:3000") as api:
        writes = _writes_of(path, _start(fresh_account, api, path), monkeypatch)
        assert writes, f"{path.name} makes no DynamoDB write"
        for number, operation in enumerate(writes, 1):
            run = _start(fresh_account, api, path)
            faults = DynamoDBFaults(code=THROTTLES[number % 2], fail_write=number)
            with dynamodb_faults(monkeypatch, faults):
                response = path.request(run)
            where = f"{path.name}: write {number} of {len(writes)} ({operation}) throttled"
            assert faults.failed == [operation], where
            if response.status_code == 503:
                assert_error(response, 503, "service_busy")
                assert response.headers["Retry-After"] == "1", where
                response = path.request(run)  # the client repeats it, as Retry-After says
            # Else the request did without the write (a record of what was done: logged instead).
            assert response.status_code == path.status, f"{where}; then: {response.text}"
            path.settled(run, path.follow_up(run, response) if path.follow_up else response)
