"""Streamed answers over real HTTP through `make dev`'s stack: the gateway relays the streaming function
(uvicorn, as behind the Lambda Web Adapter) as it writes, and the stand-in LLM streams at a set rate."""

from __future__ import annotations

import itertools
import json
import time
import uuid

import httpx
import pytest

from tests.helpers import bearer, register, sign_in

SSE = {"accept": "text/event-stream"}


@pytest.fixture
def user(http, messages_for) -> dict[str, str]:
    email = f"stream-{uuid.uuid4().hex[:8]}@example.com"
    register(http, messages_for, email)
    return bearer(sign_in(http, email))


@pytest.fixture
def llm(http):
    def control(**settings: object) -> None:
        assert http.post("/_local/llm", json=settings).status_code == 200

    yield control
    control(tokens_per_second=None)


def read_events(response: httpx.Response):
    """(seconds since the request, event, data) for each event, as the client receives it."""
    started = time.monotonic()
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield time.monotonic() - started, name, json.loads(line.removeprefix("data: "))


def _category(http, user) -> str:
    return str(http.post("/categories", json={"name": "Live"}, headers=user).json()["id"])


def test_the_first_delta_arrives_long_before_the_answer_is_complete(http, user, llm):
    llm(tokens_per_second=25)  # the stand-in's answer is ~80 tokens: ~3 s to write
    category = _category(http, user)
    with http.stream(
        "POST", f"/categories/{category}/messages", json={"message": "Stream please"}, headers={**user, **SSE}
    ) as response:
        assert response.status_code == 201 and response.headers["content-type"].startswith("text/event-stream")
        events = list(read_events(response))
    names = [name for _, name, _ in events]
    assert names[0] == "message" and names[-1] == "done" and names.count("delta") > 10
    first_delta = next(at for at, name, _ in events if name == "delta")
    done_at = events[-1][0]
    assert first_delta < done_at / 3  # streamed, not buffered
    done = events[-1][2]
    assert done["answer"] == "".join(data["text"] for _, name, data in events if name == "delta")


def test_a_client_that_disconnects_mid_stream_loses_nothing(http, user, llm):
    llm(tokens_per_second=30)
    category = _category(http, user)
    with http.stream(
        "POST", f"/categories/{category}/messages", json={"message": "I will hang up"}, headers={**user, **SSE}
    ) as response:
        for _, name, data in read_events(response):
            if name == "delta":
                break  # the phone loses its connection after the first piece
            message_id = data["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stored = http.get(f"/categories/{category}/messages", headers=user).json()["messages"]
        if stored and stored[0]["status"] != "pending":
            break
        time.sleep(0.2)
    assert stored[0]["id"] == message_id and stored[0]["status"] == "answered"
    assert stored[0]["answer"] and stored[0]["usage"]["completion_tokens"] > 0
    assert http.get("/me/usage", headers=user).json()["tokens"]["used"] > 0  # settled


@pytest.mark.parametrize(("script", "code"), [("drop:4", "llm_unreachable"), ("fail:4", "llm_error")])
def test_a_stand_in_that_breaks_mid_answer_ends_the_stream_in_error_and_the_message_is_retryable(
    http, user, llm, script, code
):
    llm(script=[script])
    category = _category(http, user)
    with http.stream(
        "POST", f"/categories/{category}/messages", json={"message": "Break"}, headers={**user, **SSE}
    ) as response:
        events = list(read_events(response))
    assert [name for _, name, _ in events] == ["message", "delta", "delta", "delta", "delta", "error"]
    assert events[-1][2]["error"]["code"] == code
    stored = http.get(f"/categories/{category}/messages", headers=user).json()["messages"][0]
    assert stored["status"] == "failed"
    with http.stream(
        "POST", f"/categories/{category}/messages/{stored['id']}/retry", headers={**user, **SSE}
    ) as response:
        assert [name for _, name, _ in read_events(response)][-1] == "done"


def test_a_stall_shorter_than_the_timeout_only_delays_the_answer(http, user, llm):
    llm(script=["stall:1"])
    category = _category(http, user)
    with http.stream(
        "POST", f"/categories/{category}/messages", json={"message": "Wait"}, headers={**user, **SSE}
    ) as response:
        events = list(read_events(response))
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(events)]
    assert events[-1][1] == "done" and max(gaps) >= 0.9


def test_a_revoked_session_cannot_open_a_stream(http, user):
    category = _category(http, user)
    assert http.post("/auth/sign-out", headers=user).status_code == 204
    response = http.post(f"/categories/{category}/messages", json={"message": "x"}, headers={**user, **SSE})
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
