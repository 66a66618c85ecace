"""Chat through the real handler: categories, messages, the LLM on loopback, failures, quotas."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from assisti_chat import llm_client
from assisti_chat.settings import get_chat_settings
from assisti_common.db import chat, usage
from assisti_common.db.models import MessageModel, UsageModel
from assisti_common.db.users import find_user_by_email
from tests.conftest import FAKE_LLM
from tests.helpers import assert_error


@pytest.fixture
def llm():
    FAKE_LLM.reset()
    yield FAKE_LLM
    FAKE_LLM.reset()


@pytest.fixture
def chat_env(monkeypatch):
    """Sets chat variables for one test: the function reads them as a cold start with them would."""

    def apply(**variables: object) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, str(value))
        get_chat_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_chat_settings.cache_clear()


def _ann_id() -> str:
    return find_user_by_email("ann@example.com").id  # type: ignore[union-attr]


def _tokens_used(api, headers) -> int:
    used: int = api.get("/me/usage", headers=headers).json()["tokens"]["used"]
    return used


def _pending_after_a_crash(api, headers, monkeypatch, category_id: str) -> dict:
    """A message whose request died between storing it and storing its answer."""

    def stopped(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the container was stopped mid-request")

    monkeypatch.setattr(llm_client, "complete", stopped)
    assert _send(api, headers, category_id, "Explain tides.").status_code == 500
    monkeypatch.undo()
    (pending,) = api.get(f"/categories/{category_id}/messages", headers=headers).json()["messages"]
    return pending


def _in_parallel(count: int, call):
    """`call(index)` from `count` threads released together, so the requests really overlap."""
    start = threading.Barrier(count)

    def run(index: int):
        start.wait()
        return call(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


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
    # Commands count against the message quota (they are stored); the refused one is not counted.
    assert api.get("/me/usage", headers=ann).json()["messages"]["used"] == 3
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
    assert _send(api, ann, category["id"], "/usage").status_code == 201  # commands need no tokens


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


# --- the token quota is reserved before the LLM and settled after ---------------------------------


def test_a_burst_of_parallel_messages_stays_within_the_token_quota(api, ann, llm, chat_env):
    # Given a small daily token quota, and answers slow enough for a burst to overlap
    chat_env(ASSISTI_CHAT_DAILY_TOKENS=300, ASSISTI_LLM_MAX_ANSWER_TOKENS=100, ASSISTI_LLM_TIMEOUT_SECONDS=5)
    category = _category(api, ann)
    llm.script(*["delay:0.5"] * 10)

    # When ten messages are sent at once
    responses = _in_parallel(10, lambda index: _send(api, ann, category["id"], f"question {index}"))

    # Then only those whose reservation fitted were answered; the others were refused up front
    answered = [response.json() for response in responses if response.status_code == 201]
    refused = [response for response in responses if response.status_code != 201]
    assert answered and refused
    assert all(body["status"] == "answered" for body in answered)
    for response in refused:
        assert_error(response, 429, "quota_exceeded")
    assert {request["messages"][-1]["content"] for request in llm.requests} == {body["message"] for body in answered}
    # ... the day ends within the quota, settled to what the answers really used (nothing left reserved)
    used = _tokens_used(api, ann)
    assert used <= 300
    assert used == sum(body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] for body in answered)
    assert api.get("/me/usage", headers=ann).json()["messages"]["used"] == len(answered)


def test_a_retry_reserves_its_tokens_before_calling_the_llm(api, ann, llm):
    category = _category(api, ann)
    llm.script("500", "500", "500")
    failed = _send(api, ann, category["id"], "Explain tides.").json()
    assert failed["status"] == "failed"
    assert _tokens_used(api, ann) == 0  # the failed attempt gave its whole reservation back

    # Given less room left today than a retry's reservation, though the quota is not yet reached
    UsageModel(_ann_id(), usage.today(), messages=1, tokens=200_000 - 100).save()
    llm.reset()
    retry = f"/categories/{category['id']}/messages/{failed['id']}/retry"
    assert_error(api.post(retry, headers=ann), 429, "quota_exceeded")
    assert llm.requests == []
    assert api.get(f"/categories/{category['id']}/messages", headers=ann).json()["messages"][0]["status"] == "failed"

    # Once there is room, the retry goes through and is settled to what it used
    UsageModel(_ann_id(), usage.today(), messages=1, tokens=0).save()
    answered = api.post(retry, headers=ann).json()
    assert answered["status"] == "answered"
    assert _tokens_used(api, ann) == answered["usage"]["prompt_tokens"] + answered["usage"]["completion_tokens"]


# --- nothing waits past the answer budget, nothing stays pending ----------------------------------


@pytest.mark.parametrize(
    ("script", "code"),
    [("429:20", "llm_rate_limited"), ("slow", "llm_timeout")],
)
def test_llm_waits_end_within_the_answer_budget_and_leave_the_message_retryable(api, ann, llm, chat_env, script, code):
    # Given a 3 s budget, and an LLM that asks for a 20 s pause (the SDK waits up to 120 s) or hangs
    chat_env(ASSISTI_CHAT_ANSWER_BUDGET_SECONDS=3)
    category = _category(api, ann)
    llm.script(script)

    started = time.monotonic()
    response = _send(api, ann, category["id"], "Explain photosynthesis.")

    assert time.monotonic() - started < 3
    failed = response.json()
    assert response.status_code == 201 and failed["status"] == "failed" and failed["error"]["code"] == code
    assert len(llm.requests) == 1  # no second attempt fits in what is left
    assert _tokens_used(api, ann) == 0
    retried = api.post(f"/categories/{category['id']}/messages/{failed['id']}/retry", headers=ann)
    assert retried.status_code == 200 and retried.json()["status"] == "answered"


def test_a_message_left_pending_past_its_deadline_reads_as_failed_and_one_retry_settles_it(api, ann, llm, monkeypatch):
    # Given a request that died between storing the message and storing its answer
    category = _category(api, ann)
    pending = _pending_after_a_crash(api, ann, monkeypatch, category["id"])
    listed = f"/categories/{category['id']}/messages"
    assert pending["status"] == "pending" and pending["error"] is None  # still within its deadline

    # When its deadline has passed
    message = chat.get_message(_ann_id(), category["id"], pending["id"])
    assert message is not None
    message.update(actions=[MessageModel.created_at.set(datetime.now(UTC) - timedelta(hours=1))])

    # Then it reads as failed, and can be retried: by one retry only, even when two race
    (shown,) = api.get(listed, headers=ann).json()["messages"]
    assert shown["status"] == "failed" and shown["error"]["code"] == "llm_timeout"
    assert _tokens_used(api, ann) > 0  # its reservation is still held, until a retry settles it
    llm.script("delay:0.5", "delay:0.5")
    retry = f"{listed}/{pending['id']}/retry"
    responses = _in_parallel(2, lambda _: api.post(retry, headers=ann))
    assert sorted(response.status_code for response in responses) == [200, 409]
    answered = next(response.json() for response in responses if response.status_code == 200)
    assert answered["status"] == "answered" and answered["error"] is None
    # ... and the stale reservation was given back: the day counts only what the answer used
    assert _tokens_used(api, ann) == answered["usage"]["prompt_tokens"] + answered["usage"]["completion_tokens"]
    assert api.get(listed, headers=ann).json()["messages"][0]["status"] == "answered"


def test_deleting_a_message_gives_back_the_tokens_it_still_holds(api, ann, llm, monkeypatch):
    category = _category(api, ann)
    pending = _pending_after_a_crash(api, ann, monkeypatch, category["id"])
    assert _tokens_used(api, ann) > 0

    assert api.delete(f"/categories/{category['id']}/messages/{pending['id']}", headers=ann).status_code == 204

    assert _tokens_used(api, ann) == 0


# --- commands obey the same rules as messages and the API ----------------------------------------


def test_commands_count_against_the_message_quota(api, ann, llm):
    category = _category(api, ann)
    UsageModel(_ann_id(), usage.today(), messages=200, tokens=0).save()  # Given today's messages are used up
    for text in ["/help " + "x" * 7990, "/usage", "/assistant coder"]:
        assert_error(_send(api, ann, category["id"], text), 429, "quota_exceeded")
    assert api.get(f"/categories/{category['id']}/messages", headers=ann).json()["messages"] == []
    assert api.get(f"/categories/{category['id']}", headers=ann).json()["assistant"] == "general"


@pytest.mark.parametrize("language", ["x" * 7000, "x" * 41, "x"])
def test_the_assistant_command_takes_only_a_language_the_api_would(api, ann, llm, language):
    category = _category(api, ann, assistant="language_tutor", language="Spanish")
    patched = api.patch(f"/categories/{category['id']}", json={"language": language}, headers=ann)
    assert_error(patched, 422, "validation_error")

    response = _send(api, ann, category["id"], f"/assistant language_tutor {language}")

    body = assert_error(response, 422, "validation_error")
    assert [detail["field"] for detail in body["error"]["details"]] == ["language"]
    assert "x" * 41 not in response.text  # never echoed back
    assert api.get(f"/categories/{category['id']}", headers=ann).json()["language"] == "Spanish"
    assert api.get(f"/categories/{category['id']}/messages", headers=ann).json()["messages"] == []
    assert api.get("/me/usage", headers=ann).json()["messages"]["used"] == 0  # a refused command costs nothing


# --- stored items stay far below DynamoDB's 400 KB ------------------------------------------------


def test_a_huge_answer_is_stored_cut_to_the_size_cap(api, ann, llm, chat_env):
    chat_env(ASSISTI_CHAT_MAX_ANSWER_BYTES=20_000)
    category = _category(api, ann)
    llm.script("huge")  # ~500 KB from an endpoint that ignores max_tokens

    response = _send(api, ann, category["id"], "Tell me everything.")

    assert response.status_code == 201, response.text
    body = response.json()
    answer = body["answer"]
    assert body["status"] == "answered" and answer.startswith("é é ")
    assert len(answer.encode()) <= 20_000
    assert answer.endswith(llm_client.TRUNCATION_NOTE)
    stored = api.get(f"/categories/{category['id']}/messages", headers=ann).json()["messages"]
    assert [message["answer"] for message in stored] == [answer]
