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

from local.functions import LambdaContext, call_handler, load_handler
from local.mailbox import Mailbox
from local.provision import provision
from tests.conftest import FAKE_LLM, TEMPLATE
from tests.faults import THROTTLES, DynamoDBFaults, dynamodb_faults, ses_down
from tests.helpers import PASSWORD, assert_error, bearer, latest_code, register, sign_in
from tests.images import encode, text_image
from tests.integration import test_ocr as ocr

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


# --- the LLM ----------------------------------------------------------------------------------------

LLM_FAULTS = {
    # fault: (the stand-in's script, the stored error code)
    "timeout": (["slow", "slow", "slow"], "llm_timeout"),
    "429 with Retry-After": (["429:1", "429:1", "429:1"], "llm_rate_limited"),
    "500": (["500", "500", "500"], "llm_unavailable"),
    "malformed body": (["malformed"], "llm_bad_response"),
    "empty answer": (["empty"], "llm_bad_response"),
    "dropped mid-answer": (["drop", "drop", "drop"], "llm_unreachable"),
    "stream dropped mid-answer": (["drop:2", "drop:2", "drop:2"], "llm_unreachable"),
}


@pytest.mark.parametrize("fault", LLM_FAULTS)
def test_a_failing_llm_leaves_the_message_failed_retryable_and_its_tokens_given_back(
    api: TestClient, ann: dict[str, str], fault: str
) -> None:
    script, code = LLM_FAULTS[fault]
    category = api.post("/categories", json={"name": "LLM faults"}, headers=ann).json()["id"]
    streamed = fault.startswith("stream")
    FAKE_LLM.reset()
    FAKE_LLM.script(*script)
    sent = api.post(
        f"/categories/{category}/messages",
        json={"message": "Explain tides."},
        headers={**ann, "accept": "text/event-stream"} if streamed else ann,
    )
    assert sent.status_code == 201, sent.text
    (message,) = api.get(f"/categories/{category}/messages", headers=ann).json()["messages"]
    assert message["status"] == "failed" and message["error"]["code"] == code, message
    usage = api.get("/me/usage", headers=ann).json()
    charged = 0 if message["answer"] is None else usage["tokens"]["used"]  # a stream's partial is charged
    assert usage["tokens"]["used"] == charged and usage["messages"]["used"] == 1  # no reservation held

    FAKE_LLM.reset()
    retried = api.post(f"/categories/{category}/messages/{message['id']}/retry", headers=ann)
    assert retried.status_code == 200 and retried.json()["status"] == "answered", retried.text
    after = api.get("/me/usage", headers=ann).json()
    assert after["tokens"]["used"] == charged + _tokens(retried.json())
    assert after["messages"]["used"] == 1  # a retry is the same message


# --- SES --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ask", "then"),
    [
        (lambda api: api.post("/auth/sign-up", json={"email": EMAIL, "password": PASSWORD}), "/auth/confirm-sign-up"),
        (lambda api: api.post("/auth/forgot-password", json={"email": EMAIL}), "/auth/confirm-forgot-password"),
    ],
    ids=["sign-up", "forgot-password"],
)
def test_when_ses_fails_the_code_request_is_a_503_and_asking_again_at_once_works(
    api: TestClient, aws: str, monkeypatch: pytest.MonkeyPatch, ask: Callable[[TestClient], httpx.Response], then: str
) -> None:
    run = Run(api, Mailbox())
    if then == "/auth/confirm-forgot-password":
        run.registered()
    with ses_down(monkeypatch):
        failed = ask(api)
    assert_error(failed, 503, "service_unavailable")
    assert failed.headers["Retry-After"] == "1" and failed.json()["error"]["details"] == {"retry_after_seconds": 1}
    assert run.messages_for(EMAIL) == [] or then == "/auth/confirm-forgot-password"

    again = ask(api)  # not "a code was just sent": the send that failed does not count
    assert again.status_code in (200, 201), again.text
    body = {"email": EMAIL, "code": run.code()}
    body |= {"password": PASSWORD} if then == "/auth/confirm-sign-up" else {"new_password": NEW_PASSWORD}
    assert api.post(then, json=body).status_code == 200


# --- S3 and SQS: the image worker --------------------------------------------------------------------


@pytest.fixture(scope="session")
def worker_handler(moto_server: str) -> Any:
    return load_handler(ocr.WORKER.handler)


def _ocr_upload(api: TestClient, headers: dict[str, str], words: list[str]) -> str:
    created = ocr.create(api, headers)
    assert ocr.upload(created, encode(text_image(words))).status_code == 204
    return str(created["item"]["id"])


def _settled_done(api: TestClient, headers: dict[str, str], aws: str, item_id: str, label: str) -> None:
    done = ocr.item(api, headers, item_id)
    assert done["status"] == "done" and done["label"] == label, done
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"]  # the version labelled; no leftovers


def test_a_throttled_worker_write_is_redelivered_and_the_item_ends_done(
    api: TestClient,
    ann: dict[str, str],
    aws: str,
    worker_handler: Any,
    fresh_account: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pump = ocr._pump(aws, ocr.WORKER, worker_handler)
    item_id = _ocr_upload(api, ann, ["Throttled"])
    with dynamodb_faults(monkeypatch, DynamoDBFaults()) as recorded:
        ocr.drain(pump)
    _settled_done(api, ann, aws, item_id, "Throttled")
    assert recorded.writes
    for number, operation in enumerate(recorded.writes, 1):
        fresh_account()
        run = Run(api, Mailbox())
        run.signed_in()
        item_id = _ocr_upload(api, run.headers, ["Throttled"])
        with dynamodb_faults(monkeypatch, DynamoDBFaults(fail_write=number)) as faults:
            pump.poll_once(wait_seconds=0)
        assert faults.failed == [operation], f"write {number}"
        ocr.drain(pump)  # SQS delivers the message again
        _settled_done(api, run.headers, aws, item_id, "Throttled")


def test_a_worker_killed_mid_item_is_redelivered_and_the_item_ends_done(
    api: TestClient, ann: dict[str, str], aws: str, worker_handler: Any
) -> None:
    item_id = _ocr_upload(api, ann, ["Killed once"])
    killed = ocr.QueuePump(ocr.WORKER.queues[0], ocr._claim_then_die, aws, retry_delay=0)
    killed.poll_once(wait_seconds=0)  # claims the item, reads the image, dies
    assert ocr.item(api, ann, item_id)["status"] == "processing"
    ocr.drain(ocr._pump(aws, ocr.WORKER, worker_handler))  # the visibility timeout ends: redelivered
    _settled_done(api, ann, aws, item_id, "Killed once")


def test_events_delivered_out_of_order_label_the_last_upload(
    api: TestClient, ann: dict[str, str], aws: str, worker_handler: Any
) -> None:
    """The app uploads again after a dropped connection: two events for the item's key, delivered
    newest first. The label is the last upload's; the older event is then a no-op."""
    pump = ocr._pump(aws, ocr.WORKER, worker_handler)
    created = ocr.create(api, ann)
    ocr.upload(created, encode(text_image(["First"])))
    first = ocr._upload_message(pump)
    ocr.upload(created, encode(text_image(["Second"])))
    second = ocr._upload_message(pump)
    for message in (second, first):
        event = ocr.sqs_event([message], pump.source.queue_arn)
        assert call_handler(worker_handler, event, LambdaContext("ocr")) == {"batchItemFailures": []}
    _settled_done(api, ann, aws, created["item"]["id"], "Second")
