"""Chat rules that need neither AWS nor a model: commands, prompts, the history budget."""

from __future__ import annotations

from email.utils import formatdate

import httpx
import pytest
from pydantic import ValidationError

from assisti_chat import assistants, commands, llm_client, prompt
from assisti_chat.assistants import UnknownAssistant
from assisti_chat.settings import ChatSettings
from assisti_common.errors import ValidationFailed
from local.fake_llm import extractive_summary
from tests.conftest import TEMPLATE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/help", ("help", ())),
        ("  /HELP  ", ("help", ())),
        ("/assistant language_tutor Spanish", ("assistant", ("language_tutor", "Spanish"))),
        ("/usage", ("usage", ())),
    ],
)
def test_commands_are_parsed(text, expected):
    command = commands.parse_command(text)
    assert (command.name, command.args) == expected


@pytest.mark.parametrize("text", ["hello", "/helpme", "/etc/passwd is a file", "what does /help do?", ""])
def test_everything_else_goes_to_the_model(text):
    assert commands.parse_command(text) is None


def test_system_prompt_has_the_assistant_language_and_instructions():
    prompt = assistants.system_prompt("language_tutor", "German", "Use short sentences.")
    assert "German" in prompt and "Use short sentences." in prompt
    assert "{language}" not in assistants.system_prompt("general", None, "")
    assert set(assistants.ASSISTANTS) == {"general", "summarizer", "grammar", "language_tutor", "science", "coder"}


def test_history_keeps_the_newest_exchanges_that_fit_oldest_first():
    exchanges = [prompt.Exchange(f"q{index}", "a" * 400) for index in range(10)]  # newest first
    kept = prompt.fit_history(exchanges, budget_tokens=250)
    assert [exchange.message for exchange in kept] == ["q1", "q0"]
    assert prompt.fit_history(exchanges, budget_tokens=0) == []
    assert len(prompt.fit_history(exchanges, budget_tokens=10_000)) == 10


def test_build_messages_alternates_roles():
    messages = prompt.build_messages("sys", [prompt.Exchange("q", "a")], "now")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]


def test_llm_waits_must_fit_an_answer_budget():
    with pytest.raises(ValidationError):
        ChatSettings(ASSISTI_CHAT_ANSWER_BUDGET_SECONDS=891)
    with pytest.raises(ValidationError):
        ChatSettings(ASSISTI_LLM_TIMEOUT_SECONDS=10, ASSISTI_CHAT_ANSWER_BUDGET_SECONDS=8)
    with pytest.raises(ValidationError):
        ChatSettings(ASSISTI_CHAT_ANSWER_BUDGET_SECONDS=100, ASSISTI_CHAT_PENDING_SECONDS=60)
    assert ChatSettings(ASSISTI_LLM_TIMEOUT_SECONDS=8, ASSISTI_LLM_MAX_RETRIES=2).llm_max_retries == 2


def _chat_functions():
    return {f.logical_id: f for f in TEMPLATE.functions() if f.logical_id in ("ChatFunction", "ChatStreamFunction")}


def test_each_chat_functions_budget_ends_before_it_times_out_and_pending_outlives_both():
    functions = _chat_functions()
    assert set(functions) == {"ChatFunction", "ChatStreamFunction"}
    pending = set()
    for function in functions.values():
        settings = ChatSettings.model_validate({**function.environment})
        assert settings.chat_answer_budget_seconds < function.timeout
        pending.add(settings.pending_deadline_seconds)
    assert ChatSettings.model_validate(functions["ChatFunction"].environment).chat_answer_budget_seconds <= 28
    # Both agree when a message reads as failed, and only once no live request can still be answering it.
    assert len(pending) == 1 and pending.pop() > max(f.timeout for f in functions.values())


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "20"}, 20.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_in_all_its_forms(headers, seconds):
    assert llm_client.retry_after_seconds(httpx.Headers(headers)) == seconds


def test_retry_after_as_an_http_date():
    wait = llm_client.retry_after_seconds(httpx.Headers({"retry-after": formatdate(usegmt=True)}))
    assert wait is not None and -2 < wait <= 0


@pytest.mark.parametrize("cap", [1000, 1001, 1002, 1003])
def test_a_long_answer_is_cut_at_a_character_boundary_within_the_cap(cap):
    text = "aé€😀" * 2000  # 1, 2, 3 and 4 bytes in UTF-8
    cut = llm_client.capped(text, cap)
    assert len(cut.encode()) <= cap and cut.endswith(llm_client.TRUNCATION_NOTE)
    kept = cut.removesuffix(llm_client.TRUNCATION_NOTE)
    assert text.startswith(kept) and len(kept.encode()) > cap - len(llm_client.TRUNCATION_NOTE.encode()) - 4


def test_a_short_answer_is_kept_whole_and_always_storable():
    assert llm_client.capped("short é", 1000) == "short é"
    assert llm_client.capped("lone \ud800 surrogate", 1000) == "lone ? surrogate"


def test_the_assistant_command_is_checked_by_the_api_schema():
    assert commands.assistant_change(("Coder",)) == {"assistant": "coder"}
    assert commands.assistant_change(("language_tutor", "Brazilian", "Portuguese")) == {
        "assistant": "language_tutor",
        "language": "Brazilian Portuguese",
    }
    with pytest.raises(UnknownAssistant):
        commands.assistant_change(("poet",))
    for language in ("x" * 41, "x"):
        with pytest.raises(ValidationFailed) as refused:
            commands.assistant_change(("language_tutor", language))
        assert [detail["field"] for detail in refused.value.details] == ["language"]


def test_extractive_summary_keeps_the_central_sentences_in_order():
    text = (
        "Cats sleep a lot. Cats hunt mice at night. The stock market fell. "
        "Many cats sleep sixteen hours a day. Cats are popular pets."
    )
    summary = extractive_summary(text, sentences_wanted=3)
    assert "stock market" not in summary
    assert summary.index("Cats sleep a lot") < summary.index("sixteen hours")
