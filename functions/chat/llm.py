"""The LLM side of chat: built-in assistants, fast-path commands, the prompt within a token budget,
and the call through the `openai` SDK to any OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import openai
from openai import OpenAI

from assisti_common.observability import logger
from assisti_common.settings import Settings, get_settings

ASSISTANTS: dict[str, str] = {
    "general": "You are Assisti, a helpful and concise assistant. Answer clearly; say so when you are unsure.",
    "summarizer": (
        "You are Assisti's summarizer. Summarize the text the user sends faithfully and concisely, as a short "
        "paragraph or a few bullet points. Add nothing that is not in the text."
    ),
    "grammar": (
        "You are Assisti's grammar fixer. Return the user's text with spelling, grammar and punctuation "
        "corrected, keeping their meaning and tone; then list the main corrections briefly."
    ),
    "language_tutor": (
        "You are Assisti's language tutor for {language}. Converse with the learner in {language} at their "
        "level. Gently correct their mistakes and explain each correction briefly in English."
    ),
    "science": (
        "You are Assisti's science explainer. Answer science questions accurately and simply, with the key "
        "reasoning, and say when something is uncertain or debated."
    ),
    "coder": (
        "You are Assisti's coding helper. Give correct, idiomatic code in fenced blocks, explain briefly, and "
        "point out edge cases and bugs."
    ),
}

COMMANDS = {
    "/help": "what Assisti can do in this chat",
    "/assistant NAME [LANGUAGE]": "switch this chat's assistant (" + ", ".join(ASSISTANTS) + ")",
    "/usage": "today's messages and tokens against your quota",
}


def system_prompt(assistant: str, language: str | None, instructions: str) -> str:
    prompt = ASSISTANTS[assistant].format(language=language or "English")
    if instructions.strip():
        prompt += f"\n\nThe user's own instructions for this chat:\n{instructions.strip()}"
    return prompt


# --- fast paths ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    name: str  # help | assistant | usage
    args: tuple[str, ...]


def parse_command(text: str) -> Command | None:
    """A fast-path command, answered without the LLM; anything else is for the model."""
    words = text.strip().split()
    if not words or words[0].lower() not in {"/help", "/assistant", "/usage"}:
        return None
    return Command(words[0].lower().lstrip("/"), tuple(words[1:]))


def help_text(assistant: str) -> str:
    lines = [f"This chat uses the '{assistant}' assistant. Write anything to ask it; these commands are instant:"]
    lines += [f"  {command} - {meaning}" for command, meaning in COMMANDS.items()]
    lines.append("Assistants: " + ", ".join(ASSISTANTS) + " (language_tutor takes a language, e.g. Spanish).")
    return "\n".join(lines)


# --- the prompt ------------------------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    """About 4 characters a token for English (OpenAI's rule of thumb), plus framing per message.
    An estimate is enough to keep the history inside its budget; usage is billed from the API's counts."""
    return math.ceil(len(text) / 4) + 4


@dataclass(frozen=True)
class Exchange:
    message: str
    answer: str


def fit_history(exchanges_newest_first: Sequence[Exchange], budget_tokens: int) -> list[Exchange]:
    """As many recent exchanges as fit the budget, returned oldest first."""
    kept: list[Exchange] = []
    used = 0
    for exchange in exchanges_newest_first:
        cost = estimate_tokens(exchange.message) + estimate_tokens(exchange.answer)
        if used + cost > budget_tokens:
            break
        kept.append(exchange)
        used += cost
    return list(reversed(kept))


def build_messages(system: str, history: Sequence[Exchange], message: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}]
    for exchange in history:
        messages += [{"role": "user", "content": exchange.message}, {"role": "assistant", "content": exchange.answer}]
    messages.append({"role": "user", "content": message})
    return messages


# --- the call ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int


class LLMFailure(Exception):
    """The answer failed after the SDK's bounded retries. `code` is stored on the message."""

    def __init__(self, code: str, message: str, latency_ms: int = 0) -> None:
        super().__init__(message)
        self.code, self.message, self.latency_ms = code, message, latency_ms


def _api_key(settings: Settings) -> str:
    if settings.openai_api_key:
        return settings.openai_api_key
    if settings.openai_api_key_secret_id:
        from aws_lambda_powertools.utilities import parameters

        try:
            value = parameters.get_secret(settings.openai_api_key_secret_id, max_age=300)
            text = value.decode() if isinstance(value, bytes) else str(value)
            if text.lstrip().startswith("{"):  # a JSON secret: {"api_key": "..."}
                return str(json.loads(text)["api_key"])
            return text
        except (parameters.exceptions.GetParameterError, ValueError, KeyError) as exc:
            logger.error("the LLM API key secret could not be read", extra={"error_type": type(exc).__name__})
            raise LLMFailure("llm_misconfigured", "The language model's API key could not be read.") from exc
    raise LLMFailure("llm_misconfigured", "No API key is configured for the language model.")


@lru_cache(maxsize=1)
def client() -> OpenAI:
    """One client per container. The SDK retries timeouts, 429 and 5xx with exponential backoff."""
    settings = get_settings()
    return OpenAI(
        api_key=_api_key(settings),
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )


_FAILURES: list[tuple[type[Exception], str, str]] = [
    (openai.APITimeoutError, "llm_timeout", "The assistant took too long to answer."),
    (openai.RateLimitError, "llm_rate_limited", "The assistant is busy right now."),
    (openai.InternalServerError, "llm_unavailable", "The assistant's service failed."),
    (openai.APIConnectionError, "llm_unreachable", "The assistant's service could not be reached."),
    (openai.AuthenticationError, "llm_misconfigured", "The assistant's service refused our credentials."),
    (openai.APIResponseValidationError, "llm_bad_response", "The assistant's service sent a malformed answer."),
    (openai.APIStatusError, "llm_rejected", "The assistant's service rejected the request."),
]


def complete(messages: list[dict[str, str]]) -> Completion:
    settings = get_settings()
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        response: Any = client().chat.completions.create(
            model=settings.chat_model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=settings.llm_max_answer_tokens,
        )
        choice = response.choices[0]
        text = choice.message.content
        usage = response.usage
        if not isinstance(text, str) or not text.strip():
            raise LLMFailure("llm_bad_response", "The assistant's service sent an empty answer.", elapsed())
        return Completion(
            text=text,
            model=str(response.model or settings.chat_model),
            prompt_tokens=int(usage.prompt_tokens) if usage else sum(estimate_tokens(m["content"]) for m in messages),
            completion_tokens=int(usage.completion_tokens) if usage else estimate_tokens(text),
            latency_ms=elapsed(),
        )
    except LLMFailure:
        raise
    except openai.OpenAIError as exc:
        for kind, code, message in _FAILURES:
            if isinstance(exc, kind):
                raise LLMFailure(code, message, elapsed()) from exc
        raise LLMFailure("llm_error", "The assistant failed to answer.", elapsed()) from exc
    except (AttributeError, IndexError, TypeError, ValueError) as exc:  # a 200 that is not a completion
        raise LLMFailure("llm_bad_response", "The assistant's service sent a malformed answer.", elapsed()) from exc
