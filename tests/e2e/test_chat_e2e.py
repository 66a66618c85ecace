"""Chat over HTTP against the local stack, with its own OpenAI-compatible stand-in."""

from __future__ import annotations

import uuid

from tests.helpers import assert_error, bearer, register, sign_in


def _user(http, messages_for) -> dict[str, str]:
    email = f"chat-{uuid.uuid4().hex[:8]}@example.com"
    register(http, messages_for, email)
    return bearer(sign_in(http, email))


def test_chat_round_trip_through_the_local_stack(http, messages_for):
    headers = _user(http, messages_for)
    category = http.post("/categories", json={"name": "Notes", "assistant": "summarizer"}, headers=headers).json()
    text = (
        "The local stack serves every route of the template. Each request becomes a real API Gateway event. "
        "Lunch is at noon. The handler runs in its own process like a Lambda container."
    )
    answer = http.post(f"/categories/{category['id']}/messages", json={"message": text}, headers=headers)
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "answered" and body["answer"].startswith("Summary (extractive")
    assert body["model"] == "assisti-local-no-model" and body["usage"]["completion_tokens"] > 0

    help_answer = http.post(f"/categories/{category['id']}/messages", json={"message": "/help"}, headers=headers)
    assert "/usage" in help_answer.json()["answer"]
    listed = http.get(f"/categories/{category['id']}/messages", headers=headers).json()["messages"]
    assert [m["message"] for m in listed] == [text, "/help"]
    usage = http.get("/me/usage", headers=headers).json()
    assert usage["messages"]["used"] == 2 and usage["tokens"]["used"] > 0  # the command counts too


def test_chat_isolation_over_http(http, messages_for):
    ann, bo = _user(http, messages_for), _user(http, messages_for)
    category = http.post("/categories", json={"name": "Mine"}, headers=ann).json()
    assert_error(http.get(f"/categories/{category['id']}", headers=bo), 404)
    assert_error(http.get(f"/categories/{category['id']}/messages", headers=bo), 404)
    assert_error(http.get("/categories"), 401)


def test_a_repeated_message_with_an_idempotency_key_is_answered_and_charged_once(http, messages_for):
    headers = _user(http, messages_for)
    category = http.post("/categories", json={"name": "Retry"}, headers=headers).json()["id"]
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    first = http.post(f"/categories/{category}/messages", json={"message": "Hello there"}, headers=keyed)
    again = http.post(f"/categories/{category}/messages", json={"message": "Hello there"}, headers=keyed)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert http.get("/me/usage", headers=headers).json()["messages"]["used"] == 1
    other = http.post(f"/categories/{category}/messages", json={"message": "Something else"}, headers=keyed)
    assert_error(other, 422, "idempotency_key_reused")
