"""Chat rules: categories, messages, answers, quotas. Knows nothing of HTTP."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from assisti_chat import assistants, commands, llm_client, prompt
from assisti_chat.quota import QuotaExceeded, next_reset
from assisti_chat.settings import STORE_SECONDS, get_chat_settings
from assisti_common import aws
from assisti_common.db import chat, usage
from assisti_common.db.models import CategoryModel, MessageModel
from assisti_common.errors import Conflict, NotFound
from assisti_common.observability import logger, metrics
from assisti_common.pagination import Page, paginate
from assisti_common.principal import Principal

HISTORY_SCAN = 50  # recent messages read per answer; the token budget then trims them
_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chat-reads")  # reads overlapped in one request
FAST_PATH_MODEL = "assisti/fast-path"


@dataclass(frozen=True)
class Usage:
    day: str
    messages: int
    tokens: int
    message_limit: int
    token_limit: int
    resets_at: datetime


# --- categories ----------------------------------------------------------------------------------


def _category(principal: Principal, category_id: str) -> CategoryModel:
    category = chat.get_category(principal.user_id, category_id)
    if category is None:
        raise NotFound("No such category.")
    return category


def create_category(
    principal: Principal, name: str, assistant: str, language: str | None, instructions: str
) -> CategoryModel:
    assistants.check_choice(assistant, language)
    return chat.create_category(principal.user_id, name, assistant, language, instructions)


def get_category(principal: Principal, category_id: str) -> CategoryModel:
    return _category(principal, category_id)


def list_categories(principal: Principal, limit: int, cursor: str | None) -> Page[CategoryModel]:
    return paginate(
        f"categories:{principal.user_id}", cursor, lambda start: chat.list_categories(principal.user_id, limit, start)
    )


def update_category(principal: Principal, category_id: str, changes: dict[str, object]) -> CategoryModel:
    category = _category(principal, category_id)
    assistant = str(changes.get("assistant", category.assistant))
    language = changes.get("language", category.language)
    assistants.check_choice(assistant, str(language) if language else None)
    if changes and not chat.update_category(category, **changes):
        raise NotFound("No such category.")
    return _category(principal, category_id)


def delete_category(principal: Principal, category_id: str) -> None:
    _category(principal, category_id)
    chat.delete_category(principal.user_id, category_id)


# --- messages ------------------------------------------------------------------------------------


def _quota() -> usage.Quota:
    settings = get_chat_settings()
    return usage.Quota(messages=settings.chat_daily_messages, tokens=settings.chat_daily_tokens)


def _deadline() -> float:
    """When the LLM's waits must be over (a `time.monotonic()` instant), leaving time to store the outcome."""
    return time.monotonic() + get_chat_settings().chat_answer_budget_seconds - STORE_SECONDS


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=get_chat_settings().pending_deadline_seconds)


def _timed_out(message: MessageModel, now: datetime) -> bool:
    """Pending past its deadline: the request that was answering it is gone (it crashed or timed out)."""
    return message.status == "pending" and chat.attempt_started_at(message) < _stale_before(now)


def _retryable(message: MessageModel | None, now: datetime) -> bool:
    return message is not None and (message.status == "failed" or _timed_out(message, now))


def _as_seen(message: MessageModel, now: datetime) -> MessageModel:
    """Nothing reads as pending past its deadline: such a message is shown failed, and can be retried."""
    if _timed_out(message, now):
        message.status = "failed"
        message.error_code, message.error_message = llm_client.TIMED_OUT
    return message


def list_messages(principal: Principal, category_id: str, limit: int, cursor: str | None) -> Page[MessageModel]:
    _category(principal, category_id)
    items, next_cursor = paginate(
        f"messages:{principal.user_id}:{category_id}",
        cursor,
        lambda start: chat.list_messages(principal.user_id, category_id, limit, start),
    )
    now = datetime.now(UTC)
    return [_as_seen(item, now) for item in items], next_cursor


def delete_message(principal: Principal, category_id: str, message_id: str) -> None:
    if not chat.delete_message(principal.user_id, category_id, message_id):
        raise NotFound("No such message.")


@dataclass(frozen=True)
class AnswerStream:
    """A message being answered as the model writes: `message` as stored (pending, or a command's
    answered message), then `pieces` of the answer. Iterating `pieces` to the end stores the result;
    a failure raises LLMFailure after the message is stored failed (with what arrived)."""

    message: MessageModel
    pieces: Iterator[str]


def send_message(principal: Principal, category_id: str, text: str) -> MessageModel:
    """Fast-path commands answer at once; anything else is stored first, then answered by the LLM."""
    message, messages, deadline = _begin_send(principal, category_id, text)
    return message if messages is None else _answer(message, messages, deadline)


def send_message_streamed(principal: Principal, category_id: str, text: str) -> AnswerStream:
    message, messages, deadline = _begin_send(principal, category_id, text)
    return AnswerStream(message, iter(()) if messages is None else _answer_streamed(message, messages, deadline))


def _begin_send(
    principal: Principal, category_id: str, text: str
) -> tuple[MessageModel, list[dict[str, str]] | None, float]:
    """The stored message (reserved), its prompt and deadline; a command comes back answered, no prompt."""
    deadline = _deadline()
    command = commands.parse_command(text)
    # The history is read while the category is: two round trips at once, before the first token.
    history = (
        None if command else _READS.submit(chat.recent_messages, principal.user_id, category_id, None, HISTORY_SCAN)
    )
    category = _category(principal, category_id)
    if command is not None:
        return _run_command(principal, category, text, command), None, deadline
    assert history is not None
    messages = _prompt(category, text, history.result())
    message = chat.put_pending(principal.user_id, category_id, text, usage.today(), _bound(messages), _quota())
    if message is None:
        raise QuotaExceeded("Today's chat quota is used up.")
    return message, messages, deadline


def retry_message(principal: Principal, category_id: str, message_id: str) -> MessageModel:
    return _answer(*_begin_retry(principal, category_id, message_id))


def retry_message_streamed(principal: Principal, category_id: str, message_id: str) -> AnswerStream:
    message, messages, deadline = _begin_retry(principal, category_id, message_id)
    return AnswerStream(message, _answer_streamed(message, messages, deadline))


def _begin_retry(
    principal: Principal, category_id: str, message_id: str
) -> tuple[MessageModel, list[dict[str, str]], float]:
    deadline, now = _deadline(), datetime.now(UTC)
    category = _category(principal, category_id)
    message = chat.get_message(principal.user_id, category_id, message_id)
    if message is None:
        raise NotFound("No such message.")
    if not _retryable(message, now):
        raise Conflict("Only a message whose answer failed can be retried.")
    earlier = chat.recent_messages(principal.user_id, category_id, message.message_id, HISTORY_SCAN)
    messages = _prompt(category, message.message, earlier)
    if not chat.claim_for_retry(message, _stale_before(now), usage.today(), _bound(messages), _quota()):
        if _retryable(chat.get_message(principal.user_id, category_id, message_id), now):
            raise QuotaExceeded("Today's chat quota is used up.")  # still there to claim: the quota said no
        raise Conflict("Only a message whose answer failed can be retried.")
    return message, messages, deadline


def _prompt(category: CategoryModel, text: str, earlier: list[MessageModel]) -> list[dict[str, str]]:
    """The prompt: the category's system prompt, as much of `earlier` (newest first) as fits, `text`."""
    settings = get_chat_settings()
    exchanges = [
        prompt.Exchange(item.message, item.answer)
        for item in earlier
        if item.kind == "llm" and item.status == "answered" and item.answer
    ]
    return prompt.build_messages(
        assistants.system_prompt(category.assistant, category.language, category.instructions),
        prompt.fit_history(exchanges, settings.chat_history_tokens),
        text,
    )


def _bound(messages: list[dict[str, str]]) -> int:
    """The tokens reserved before the LLM is called: the prompt and the longest answer it may give."""
    return prompt.estimate_prompt_tokens(messages) + get_chat_settings().llm_max_answer_tokens


def _answer(message: MessageModel, messages: list[dict[str, str]], deadline: float) -> MessageModel:
    """Calls the LLM for a stored, reserved message, then settles the reservation either way."""
    settings = get_chat_settings()
    try:
        result = llm_client.complete(messages, deadline)
    except llm_client.LLMFailure as failure:
        chat.record_failure(message, failure.code, failure.message, settings.chat_model, failure.latency_ms)
        logger.warning("LLM answer failed", extra={"error_code": failure.code, "message_id": message.message_id})
        metrics.add_metric(name="llm_failures", unit="Count", value=1)
        return message
    with contextlib.suppress(llm_client.LLMFailure):  # not stored: _store_answer stored it failed instead
        _store_answer(message, result)
    return message


def _answer_streamed(message: MessageModel, messages: list[dict[str, str]], deadline: float) -> Iterator[str]:
    """The answer's pieces as they arrive; at the end the message is stored answered, or failed with
    the part that arrived, and the reservation settled either way (what was streamed is charged)."""
    settings = get_chat_settings()
    sent: list[str] = []
    answer = llm_client.stream(messages, deadline)
    try:
        while True:
            piece = next(answer)
            sent.append(piece)
            yield piece
    except StopIteration as finished:
        result: llm_client.Completion = finished.value
    except llm_client.LLMFailure as failure:
        partial = llm_client.capped("".join(sent), settings.chat_max_answer_bytes) if sent else None
        used = prompt.estimate_prompt_tokens(messages) + prompt.estimate_tokens(partial) if partial else 0
        chat.record_failure(
            message, failure.code, failure.message, settings.chat_model, failure.latency_ms, partial=partial, used=used
        )
        logger.warning("LLM stream failed", extra={"error_code": failure.code, "message_id": message.message_id})
        metrics.add_metric(name="llm_failures", unit="Count", value=1)
        raise
    _store_answer(message, result)


ANSWER_NOT_STORED = ("answer_not_stored", "The answer could not be saved. Retry the message.")


def _store_answer(message: MessageModel, result: llm_client.Completion) -> None:
    """Stores the answer and settles the reservation. When DynamoDB is too busy to take it, the
    message is stored failed and retryable instead (its reservation given back, nothing charged for
    an answer the user never got), and LLMFailure says so: a message is never left pending."""
    try:
        chat.record_answer(
            message,
            result.text,
            result.model,
            result.prompt_tokens,
            result.completion_tokens,
            result.latency_ms,
            usage_estimated=result.usage_estimated,
        )
    except Exception as exc:
        if not aws.is_busy(exc):
            raise
        chat.record_failure(message, *ANSWER_NOT_STORED, result.model, result.latency_ms)
        logger.warning("LLM answer not stored", extra={"message_id": message.message_id})
        raise llm_client.LLMFailure(*ANSWER_NOT_STORED, result.latency_ms) from exc
    metrics.add_metric(name="llm_tokens", unit="Count", value=result.prompt_tokens + result.completion_tokens)
    metrics.add_metric(name="llm_latency", unit="Milliseconds", value=result.latency_ms)


def _run_command(principal: Principal, category: CategoryModel, text: str, command: commands.Command) -> MessageModel:
    # Checked before it is counted: a refused command is neither counted nor stored.
    change = commands.assistant_change(command.args) if command.name == "assistant" and command.args else None
    if not chat.count_command(principal.user_id, usage.today(), _quota()):
        raise QuotaExceeded("Today's chat quota is used up.")
    if command.name == "assistant":
        answer = _switch_assistant(category, change)
    elif command.name == "usage":
        today = get_usage(principal)
        answer = (
            f"Today ({today.day}, UTC) you sent {today.messages} of {today.message_limit} messages and used "
            f"{today.tokens} of {today.token_limit} tokens. The quota resets at "
            f"{today.resets_at.strftime('%H:%M')} UTC."
        )
    else:
        answer = commands.help_text(category.assistant)
    return chat.put_answered(principal.user_id, category.category_id, text, answer, FAST_PATH_MODEL)


def _switch_assistant(category: CategoryModel, change: dict[str, Any] | None) -> str:
    if change is None:
        return "Name an assistant: " + ", ".join(assistants.ASSISTANTS) + "."
    name, language = str(change["assistant"]), change.get("language")
    try:
        assistants.check_choice(name, language or category.language)
    except assistants.LanguageRequired:
        return "Say which language to practise, e.g. /assistant language_tutor Spanish."
    chat.update_category(category, **change)
    suffix = f" ({language or category.language})" if name == assistants.NEEDS_LANGUAGE else ""
    return f"This chat now uses the '{name}' assistant{suffix}."


# --- usage ---------------------------------------------------------------------------------------


def get_usage(principal: Principal) -> Usage:
    settings = get_chat_settings()
    day = usage.today()
    item = usage.get_usage(principal.user_id, day)
    return Usage(
        day,
        int(item.messages),
        int(item.tokens),
        settings.chat_daily_messages,
        settings.chat_daily_tokens,
        next_reset(),
    )
