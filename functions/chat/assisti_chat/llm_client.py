"""The call to the LLM through the `openai` SDK, against any OpenAI-compatible endpoint.

The SDK's own retries are off: it would honour a Retry-After of up to two minutes, far past the
function's timeout. Here every attempt, back-off and Retry-After is cut to the time left before the
request's deadline, and an answer is capped in size before anything stores it."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import openai
from openai import OpenAI

from assisti_chat.prompt import estimate_prompt_tokens, estimate_tokens
from assisti_chat.settings import ChatSettings, get_chat_settings
from assisti_common.observability import logger

# A retry is only worth its wait if at least this much of the budget is left for the attempt itself.
MIN_ATTEMPT_SECONDS = 1.0
BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 0.5, 8.0
TRUNCATION_NOTE = "\n\n[Assisti cut this answer short: it was too long to keep.]"


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    usage_estimated: bool = False  # the endpoint gave no usage: the counts are estimates


class LLMFailure(Exception):
    """The answer failed after the bounded retries. `code` is stored on the message."""

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
    """One client per container; `complete` does the retries, each attempt with its own timeout."""
    settings = get_chat_settings()
    return OpenAI(api_key=_api_key(settings), base_url=settings.openai_base_url, max_retries=0)


TIMED_OUT = ("llm_timeout", "The assistant took too long to answer.")
MALFORMED = ("llm_bad_response", "The assistant's service sent a malformed answer.")
_FAILURES: list[tuple[type[Exception], str, str]] = [
    (openai.APITimeoutError, *TIMED_OUT),
    (openai.RateLimitError, "llm_rate_limited", "The assistant is busy right now."),
    (openai.InternalServerError, "llm_unavailable", "The assistant's service failed."),
    (openai.APIConnectionError, "llm_unreachable", "The assistant's service could not be reached."),
    (openai.AuthenticationError, "llm_misconfigured", "The assistant's service refused our credentials."),
    (openai.APIResponseValidationError, *MALFORMED),
    (openai.APIStatusError, "llm_rejected", "The assistant's service rejected the request."),
]


def _failure(exc: openai.OpenAIError, latency_ms: int) -> LLMFailure:
    for kind, code, message in _FAILURES:
        if isinstance(exc, kind):
            return LLMFailure(code, message, latency_ms)
    return LLMFailure("llm_error", "The assistant failed to answer.", latency_ms)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The server's Retry-After (retry-after-ms, seconds or an HTTP date), or None when it gives none."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            try:
                return parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return None
    return None


def _retry_wait(exc: openai.OpenAIError, attempt: int) -> float | None:
    """How long to wait before trying again (the server's word first), or None if retrying cannot help.
    The same failures as the SDK retries: timeouts, lost connections, 408, 409, 429 and 5xx."""
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code not in (408, 409, 429) and exc.status_code < 500:
            return None
        asked = retry_after_seconds(exc.response.headers)
        if asked is not None and asked > 0:
            return asked
    elif not isinstance(exc, openai.APIConnectionError):
        return None
    # Jitter spreads out the retries of a burst; it is not a secret.
    return min(BACKOFF_SECONDS * 2.0**attempt, MAX_BACKOFF_SECONDS) * (1 - 0.25 * random.random())  # noqa: S311


def capped(text: str, max_bytes: int) -> str:
    """`text` within `max_bytes` of UTF-8: cut at a character boundary and marked when too long.
    Unpaired surrogates (JSON can carry them) are replaced, so the text can always be stored."""
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return data.decode()
    logger.warning("an LLM answer was cut to the size cap", extra={"answer_bytes": len(data)})
    room = max_bytes - len(TRUNCATION_NOTE.encode())
    return data[:room].decode("utf-8", "ignore") + TRUNCATION_NOTE  # "ignore" drops only a split last character


class _Stopwatch:
    """Milliseconds since the call began: every outcome, failures included, carries its latency."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


@contextmanager
def _as_llm_failure(elapsed: _Stopwatch) -> Iterator[None]:
    """What can go wrong in a call, streamed or not, as the one LLMFailure the service stores."""
    try:
        yield
    except TimeoutError as exc:
        raise LLMFailure(*TIMED_OUT, elapsed()) from exc
    except openai.OpenAIError as exc:
        raise _failure(exc, elapsed()) from exc
    except (AttributeError, IndexError, TypeError, ValueError) as exc:  # a 200 that is not a completion
        raise LLMFailure(*MALFORMED, elapsed()) from exc


def _completion(text: Any, model: str, usage: Any, messages: list[dict[str, str]], elapsed: _Stopwatch) -> Completion:
    """The answer, capped, with the endpoint's token counts or, when it gave none, estimates marked so."""
    if not isinstance(text, str) or not text.strip():
        raise LLMFailure("llm_bad_response", "The assistant's service sent an empty answer.", elapsed())
    return Completion(
        text=capped(text, get_chat_settings().chat_max_answer_bytes),
        model=model,
        prompt_tokens=int(usage.prompt_tokens) if usage else estimate_prompt_tokens(messages),
        completion_tokens=int(usage.completion_tokens) if usage else estimate_tokens(text),
        latency_ms=elapsed(),
        usage_estimated=usage is None,
    )


def complete(messages: list[dict[str, str]], deadline: float) -> Completion:
    """The model's answer, given up by `deadline` (a `time.monotonic()` instant) whatever the server asks."""
    settings = get_chat_settings()
    elapsed = _Stopwatch()
    with _as_llm_failure(elapsed):
        response: Any = _attempts(messages, deadline, settings)
        model = str(response.model or settings.chat_model)
        return _completion(response.choices[0].message.content, model, response.usage, messages, elapsed)


def _attempts(messages: list[dict[str, str]], deadline: float, settings: ChatSettings, stream: bool = False) -> Any:
    """The SDK's call, tried again while that can help and the wait fits before `deadline`. Raises
    the last attempt's error, or TimeoutError when too little time is left to try at all."""
    for attempt in range(settings.llm_max_retries + 1):
        left = deadline - time.monotonic()
        if left < MIN_ATTEMPT_SECONDS:
            raise TimeoutError
        try:
            options: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
            completions: Any = client().chat.completions  # one call for both shapes: the overloads differ
            return completions.create(
                model=settings.chat_model,
                messages=messages,
                max_tokens=settings.llm_max_answer_tokens,
                timeout=min(settings.llm_timeout_seconds, left),  # the connect, and each read and write
                **options,
            )
        except openai.OpenAIError as exc:
            wait = _retry_wait(exc, attempt)
            if (
                wait is None
                or attempt == settings.llm_max_retries
                or time.monotonic() + wait + MIN_ATTEMPT_SECONDS > deadline
            ):
                raise
            time.sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


def stream(messages: list[dict[str, str]], deadline: float) -> Generator[str, None, Completion]:
    """The model's answer as it is written: yields each piece of text, then returns the Completion.

    Only the opening of the stream is retried (nothing has been shown yet); a failure after the first
    piece raises LLMFailure at once, and so does reaching `deadline` between pieces. The token counts
    are the endpoint's (`stream_options.include_usage`) or, when it sends none, estimates, marked so."""
    settings = get_chat_settings()
    elapsed = _Stopwatch()
    pieces: list[str] = []
    size = 0
    with _as_llm_failure(elapsed):
        chunks: Any = _attempts(messages, deadline, settings, stream=True)
        usage, model = None, settings.chat_model
        for chunk in chunks:
            if time.monotonic() > deadline:
                chunks.close()
                raise TimeoutError
            model = str(chunk.model or model)
            usage = chunk.usage or usage
            text = chunk.choices[0].delta.content if chunk.choices else None
            if not text or size >= settings.chat_max_answer_bytes:
                continue  # over the cap: the rest is read (for the usage) but neither shown nor kept
            pieces.append(text)
            size += len(text.encode("utf-8", "replace"))
            yield text
    return _completion("".join(pieces), model, usage, messages, elapsed)
