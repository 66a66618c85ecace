"""Chat rules that need neither AWS nor a model: commands, prompts, the history budget."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assisti_chat import assistants, commands, prompt
from assisti_chat.settings import ChatSettings
from local.fake_llm import extractive_summary


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


def test_llm_timeouts_must_fit_under_api_gateway():
    with pytest.raises(ValidationError):
        ChatSettings(ASSISTI_LLM_TIMEOUT_SECONDS=10, ASSISTI_LLM_MAX_RETRIES=2)
    assert ChatSettings(ASSISTI_LLM_TIMEOUT_SECONDS=8, ASSISTI_LLM_MAX_RETRIES=2).llm_max_retries == 2


def test_extractive_summary_keeps_the_central_sentences_in_order():
    text = (
        "Cats sleep a lot. Cats hunt mice at night. The stock market fell. "
        "Many cats sleep sixteen hours a day. Cats are popular pets."
    )
    summary = extractive_summary(text, sentences_wanted=3)
    assert "stock market" not in summary
    assert summary.index("Cats sleep a lot") < summary.index("sixteen hours")
