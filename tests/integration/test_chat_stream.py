"""Streamed answers (Accept: text/event-stream) through the chat handler as API Gateway's HTTP API runs
it: the same events as the streaming function URL, in one body. The e2e tests check real streaming."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FAKE_LLM
from tests.helpers import assert_error

SSE = {"accept": "text/event-stream"}


@pytest.fixture
def llm():
    FAKE_LLM.reset()
    yield FAKE_LLM
    FAKE_LLM.reset()


def parse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def _category(api, headers) -> str:
    response = api.post("/categories", json={"name": "Stream"}, headers=headers)
    assert response.status_code == 201
    return str(response.json()["id"])


def _stream(api, headers, category: str, text: str):
    response = api.post(f"/categories/{category}/messages", json={"message": text}, headers={**headers, **SSE})
    return response, parse_events(response.text) if response.headers["content-type"].startswith("text/event") else []


def test_a_streamed_answer_is_message_then_deltas_then_done_and_is_stored(api, ann, llm):
    category = _category(api, ann)
    response, events = _stream(api, ann, category, "Tell me something")
    assert response.status_code == 201 and response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in events]
    assert names[0] == "message" and names[-1] == "done" and set(names[1:-1]) == {"delta"} and len(names) > 3
    assert events[0][1]["status"] == "pending" and events[0][1]["answer"] is None
    done = events[-1][1]
    assert done["status"] == "answered" and done["id"] == events[0][1]["id"]
    assert "".join(data["text"] for name, data in events if name == "delta") == done["answer"]
    assert done["usage"]["completion_tokens"] > 0 and done["usage"]["estimated"] is False
    stored = api.get(f"/categories/{category}/messages", headers=ann).json()["messages"]
    assert stored == [done]
    assert api.get("/me/usage", headers=ann).json()["tokens"]["used"] == sum(
        done["usage"][k] for k in ("prompt_tokens", "completion_tokens")
    )


def test_without_the_accept_header_the_answer_is_json_as_before(api, ann, llm):
    category = _category(api, ann)
    response = api.post(f"/categories/{category}/messages", json={"message": "Hi"}, headers=ann)
    assert response.status_code == 201 and response.json()["status"] == "answered"


def test_a_command_streams_as_one_message_and_one_done(api, ann, llm):
    category = _category(api, ann)
    _, events = _stream(api, ann, category, "/help")
    assert [name for name, _ in events] == ["message", "done"]
    assert events[-1][1]["kind"] == "command" and "/usage" in events[-1][1]["answer"]
    assert llm.requests == []


@pytest.mark.parametrize(("script", "code"), [("fail:3", "llm_error"), ("drop:3", "llm_unreachable")])
def test_an_answer_that_fails_halfway_ends_in_error_and_is_stored_failed_with_what_arrived(api, ann, llm, script, code):
    category = _category(api, ann)
    llm.script(script)
    response, events = _stream(api, ann, category, "Tell me something long")
    names = [name for name, _ in events]
    assert response.status_code == 201 and names == ["message", "delta", "delta", "delta", "error"]
    error = events[-1][1]["error"]
    assert error["code"] == code and error["message"]
    failed = error["details"]["message"]
    partial = "".join(data["text"] for name, data in events if name == "delta")
    assert failed["status"] == "failed" and failed["answer"] == partial and failed["error"]["code"] == code
    stored = api.get(f"/categories/{category}/messages", headers=ann).json()["messages"][0]
    assert stored["status"] == "failed" and stored["answer"] == partial  # never stored as complete
    assert api.get("/me/usage", headers=ann).json()["tokens"]["used"] > 0  # what streamed is charged

    retried = api.post(f"/categories/{category}/messages/{stored['id']}/retry", headers={**ann, **SSE})
    retry_events = parse_events(retried.text)
    assert retried.status_code == 200 and retry_events[-1][0] == "done"
    assert retry_events[-1][1]["status"] == "answered" and retry_events[-1][1]["answer"] != partial


def test_an_endpoint_that_streams_no_usage_gets_estimated_counts_marked_as_such(api, ann, llm):
    category = _category(api, ann)
    llm.script("nousage")
    _, events = _stream(api, ann, category, "Count me")
    usage = events[-1][1]["usage"]
    assert usage["estimated"] is True and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0


def test_a_stream_needs_a_live_session_and_quota_before_it_opens(api, ann, llm, monkeypatch):
    category = _category(api, ann)
    assert api.post("/auth/sign-out", headers=ann).status_code == 204
    response, _ = _stream(api, ann, category, "Hello")
    assert_error(response, 401)
    assert not response.headers["content-type"].startswith("text/event-stream")
