"""Chat through the real handler: categories, messages, the LLM on loopback, failures, quotas."""

from __future__ import annotations

import pytest

from assisti_common.db import usage
from assisti_common.db.models import MessageModel, UsageModel
from assisti_common.db.users import find_user_by_email
from tests.conftest import FAKE_LLM
from tests.helpers import assert_error


@pytest.fixture
def llm():
    FAKE_LLM.reset()
    yield FAKE_LLM
    FAKE_LLM.reset()


def _category(api, headers, **body) -> dict:
    response = api.post("/categories", json={"name": "Chat", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _send(api, headers, category_id: str, text: str):
    return api.post(f"/categories/{category_id}/messages", json={"message": text}, headers=headers)


# --- categories ----------------------------------------------------------------------------------


def test_category_crud(api, ann):
    created = _category(
        api, ann, name="Spanish", assistant="language_tutor", language="Spanish", instructions="Keep it simple."
    )
    assert created["assistant"] == "language_tutor" and created["language"] == "Spanish"
    assert api.get(f"/categories/{created['id']}", headers=ann).json()["name"] == "Spanish"
    patched = api.patch(f"/categories/{created['id']}", json={"name": "Español", "assistant": "general"}, headers=ann)
    assert patched.status_code == 200 and patched.json()["name"] == "Español"
    assert patched.json()["updated_at"] >= created["updated_at"]
    assert api.delete(f"/categories/{created['id']}", headers=ann).status_code == 204
    assert_error(api.get(f"/categories/{created['id']}", headers=ann), 404, "not_found")


def test_categories_list_newest_first_over_several_pages(api, ann):
    names = [f"chat {index}" for index in range(5)]
    for name in names:
        _category(api, ann, name=name)
    seen, cursor = [], None
    while True:
        page = api.get("/categories", params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=ann).json()
        seen += [category["name"] for category in page["categories"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(names))


def test_bad_category_input(api, ann):
    assert_error(api.post("/categories", json={"name": "x", "assistant": "poet"}, headers=ann), 422)
    # One rule, one answer: the tutor needs a language on create, on update and by command.
    no_language = {"name": "x", "assistant": "language_tutor"}
    assert_error(api.post("/categories", json=no_language, headers=ann), 422, "language_required")
    assert_error(api.post("/categories", json={"name": ""}, headers=ann), 422)
    category = _category(api, ann)
    tutor = {"assistant": "language_tutor"}
    assert_error(api.patch(f"/categories/{category['id']}", json=tutor, headers=ann), 422, "language_required")
    assert_error(api.get("/categories", params={"cursor": "forged.cursor"}, headers=ann), 400, "invalid_cursor")
    assert_error(api.get("/categories"), 401)


# --- messages and the LLM ------------------------------------------------------------------------


def test_a_message_gets_an_answer_with_usage_and_is_stored(api, ann, llm):
    category = _category(api, ann, instructions="Answer like a pirate.")
    response = _send(api, ann, category["id"], "What is the boiling point of water?")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "answered" and body["error"] is None
    assert "You said" in body["answer"] and body["model"] == "test-model"
    assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
    assert body["latency_ms"] >= 0 and body["category_id"] == category["id"]
    system = llm.requests[-1]["messages"][0]
    assert system["role"] == "system" and "Answer like a pirate." in system["content"]
    listed = api.get(f"/categories/{category['id']}/messages", headers=ann).json()["messages"]
    assert [m["id"] for m in listed] == [body["id"]]
    today = api.get("/me/usage", headers=ann).json()
    assert today["messages"]["used"] == 1
    assert today["tokens"]["used"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]


def test_the_summarizer_gives_an_extractive_summary(api, ann, llm):
    category = _category(api, ann, assistant="summarizer")
    text = (
        "Rust is a language. Rust gives memory safety without garbage collection. The weather was nice. "
        "Rust's borrow checker enforces memory safety at compile time. Lunch was pasta."
    )
    answer = _send(api, ann, category["id"], text).json()["answer"]
    assert "memory safety" in answer and "pasta" not in answer


def test_history_is_sent_in_order_and_trimmed_to_the_token_budget(api, ann, llm):
    category = _category(api, ann)
    for index in range(6):
        _send(api, ann, category["id"], f"message {index} " + "x" * 1500)
    _send(api, ann, category["id"], "the last one")
    prompt = llm.requests[-1]["messages"]
    users = [m["content"] for m in prompt if m["role"] == "user"]
    assert users[-1] == "the last one"
    earlier = [text.split()[1] for text in users[:-1]]
    # Each exchange costs ~ (1510/4 + 4) + answer; a 2000-token budget keeps only the newest few.
    assert 1 <= len(earlier) < 6 and earlier == sorted(earlier) and earlier[-1] == "5"
    assert [m["role"] for m in prompt[1:-1]] == ["user", "assistant"] * len(earlier)


def test_messages_paginate_chronologically(api, ann, llm):
    category = _category(api, ann)
    sent = [_send(api, ann, category["id"], f"hello {index}").json()["id"] for index in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/categories/{category['id']}/messages", params=params, headers=ann).json()
        seen += [m["id"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sent
    other = _category(api, ann)
    first = api.get(f"/categories/{category['id']}/messages", params={"limit": 2}, headers=ann).json()
    assert_error(
        api.get(f"/categories/{other['id']}/messages", params={"cursor": first["next_cursor"]}, headers=ann),
        400,
        "invalid_cursor",
    )


@pytest.mark.parametrize(
    ("script", "code", "calls"),
    [
        (["slow", "slow", "slow"], "llm_timeout", 3),
        (["429", "429", "429"], "llm_rate_limited", 3),
        (["500", "500", "500"], "llm_unavailable", 3),
        (["malformed"], "llm_bad_response", 1),
        (["empty"], "llm_bad_response", 1),
    ],
)
def test_a_failing_llm_never_loses_the_message_and_retry_answers_it(api, ann, llm, script, code, calls):
    category = _category(api, ann)
    llm.script(*script)
    response = _send(api, ann, category["id"], "Explain photosynthesis.")
    assert response.status_code == 201
    failed = response.json()
    assert failed["status"] == "failed" and failed["answer"] is None
    assert failed["error"]["code"] == code and failed["error"]["message"]
    assert len(llm.requests) == calls  # bounded retries, then give up
    stored = api.get(f"/categories/{category['id']}/messages", headers=ann).json()["messages"]
    assert [(m["id"], m["status"], m["message"]) for m in stored] == [
        (failed["id"], "failed", "Explain photosynthesis.")
    ]

    retried = api.post(f"/categories/{category['id']}/messages/{failed['id']}/retry", headers=ann)
    assert retried.status_code == 200
    assert retried.json()["status"] == "answered" and retried.json()["id"] == failed["id"]
    assert retried.json()["error"] is None
    assert_error(api.post(f"/categories/{category['id']}/messages/{failed['id']}/retry", headers=ann), 409)


def test_a_transient_failure_is_retried_transparently(api, ann, llm):
    category = _category(api, ann)
    llm.script("500", "429")
    body = _send(api, ann, category["id"], "hi").json()
    assert body["status"] == "answered" and len(llm.requests) == 3


def test_failed_answers_are_not_in_the_next_prompt(api, ann, llm):
    category = _category(api, ann)
    llm.script("malformed")
    _send(api, ann, category["id"], "lost question")
    _send(api, ann, category["id"], "next question")
    contents = [m["content"] for m in llm.requests[-1]["messages"]]
    assert "lost question" not in contents


# --- fast paths ----------------------------------------------------------------------------------


def test_fast_path_commands_never_call_the_llm(api, ann, llm):
    category = _category(api, ann)
    help_answer = _send(api, ann, category["id"], "/help").json()
    assert help_answer["status"] == "answered" and "/assistant" in help_answer["answer"]
    assert help_answer["model"] == "assisti/fast-path" and help_answer["kind"] == "command"
    switched = _send(api, ann, category["id"], "/assistant language_tutor French").json()
    assert "language_tutor" in switched["answer"]
    assert api.get(f"/categories/{category['id']}", headers=ann).json()["language"] == "French"
    usage_answer = _send(api, ann, category["id"], "/usage").json()["answer"]
    assert "0 of" in usage_answer
    assert_error(_send(api, ann, category["id"], "/assistant poet"), 422, "unknown_assistant")
    assert llm.requests == []
    assert api.get("/me/usage", headers=ann).json()["messages"]["used"] == 0
    # The switched assistant shapes the next real answer.
    _send(api, ann, category["id"], "Bonjour")
    assert "French" in llm.requests[-1]["messages"][0]["content"]


# --- bad input, quotas and isolation -------------------------------------------------------------


def test_bad_messages(api, ann):
    category = _category(api, ann)
    assert_error(_send(api, ann, category["id"], ""), 422, "validation_error")
    assert_error(_send(api, ann, category["id"], "   \n"), 422, "validation_error")
    assert_error(_send(api, ann, category["id"], "x" * 8001), 422, "validation_error")
    assert_error(api.post(f"/categories/{category['id']}/messages", json={}, headers=ann), 422)
    assert_error(_send(api, ann, "no-such-category", "hi"), 404)


def test_over_the_daily_quota_is_a_429_with_the_reset_time(api, ann, llm):
    category = _category(api, ann)
    owner = find_user_by_email("ann@example.com").id  # type: ignore[union-attr]
    UsageModel(owner, usage.today(), messages=200, tokens=0).save()  # Given today's messages are used up
    body = assert_error(_send(api, ann, category["id"], "one more"), 429, "quota_exceeded")
    assert body["error"]["details"]["resets_at"].endswith("T00:00:00+00:00")
    assert llm.requests == []
    UsageModel(owner, usage.today(), messages=0, tokens=200_000).save()  # ... or today's tokens
    assert_error(_send(api, ann, category["id"], "one more"), 429, "quota_exceeded")
    assert _send(api, ann, category["id"], "/usage").status_code == 201  # commands stay free


def test_another_users_categories_and_messages_answer_404(api, ann, bo, llm):
    category = _category(api, ann)
    message = _send(api, ann, category["id"], "private").json()
    for method, path in [
        ("GET", f"/categories/{category['id']}"),
        ("PATCH", f"/categories/{category['id']}"),
        ("DELETE", f"/categories/{category['id']}"),
        ("GET", f"/categories/{category['id']}/messages"),
        ("POST", f"/categories/{category['id']}/messages"),
        ("DELETE", f"/categories/{category['id']}/messages/{message['id']}"),
        ("POST", f"/categories/{category['id']}/messages/{message['id']}/retry"),
    ]:
        body = (
            {"message": "hi"}
            if path.endswith("messages") and method == "POST"
            else ({"name": "mine"} if method == "PATCH" else None)
        )
        response = api.request(method, path, json=body, headers=bo)
        assert_error(response, 404)
        assert "private" not in response.text
    assert api.get("/categories", headers=bo).json()["categories"] == []
    assert api.get(f"/categories/{category['id']}/messages", headers=ann).json()["messages"][0]["message"] == "private"


def test_deleting_messages_categories_and_the_account(api, ann, llm):
    category = _category(api, ann)
    first = _send(api, ann, category["id"], "one").json()
    _send(api, ann, category["id"], "two")
    assert api.delete(f"/categories/{category['id']}/messages/{first['id']}", headers=ann).status_code == 204
    assert_error(api.delete(f"/categories/{category['id']}/messages/{first['id']}", headers=ann), 404)
    assert len(api.get(f"/categories/{category['id']}/messages", headers=ann).json()["messages"]) == 1
    assert api.delete(f"/categories/{category['id']}", headers=ann).status_code == 204
    assert list(MessageModel.scan()) == []

    keep = _category(api, ann)
    _send(api, ann, keep["id"], "kept until the account goes")
    assert api.delete("/me", headers=ann).status_code == 204
    assert list(MessageModel.scan()) == [] and list(UsageModel.scan()) == []


def test_in_aws_the_llm_key_comes_from_secrets_manager(aws):
    import boto3

    from assisti_chat import llm_client as llm
    from assisti_chat.settings import ChatSettings as Settings

    secrets = boto3.client("secretsmanager", endpoint_url=aws)
    secrets.create_secret(Name="assisti/test/openai", SecretString="sk-plain")
    secrets.create_secret(Name="assisti/test/openai-json", SecretString='{"api_key": "sk-json"}')
    assert llm._api_key(Settings(OPENAI_API_KEY=None, OPENAI_API_KEY_SECRET_ID="assisti/test/openai")) == "sk-plain"
    assert llm._api_key(Settings(OPENAI_API_KEY=None, OPENAI_API_KEY_SECRET_ID="assisti/test/openai-json")) == "sk-json"
    with pytest.raises(llm.LLMFailure) as missing:
        llm._api_key(Settings(OPENAI_API_KEY=None, OPENAI_API_KEY_SECRET_ID="assisti/test/absent"))
    assert missing.value.code == "llm_misconfigured"
