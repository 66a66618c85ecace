"""The call to the LLM through the `openai` SDK, against any OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import openai
from openai import OpenAI

from assisti_chat.prompt import estimate_tokens
from assisti_chat.settings import ChatSettings, get_chat_settings
from assisti_common.observability import logger


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


def _api_key(settings: ChatSettings) -> str:
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
    settings = get_chat_settings()
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
    settings = get_chat_settings()
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
