"""Chat rules: categories, messages, answers, quotas. Knows nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from assisti_chat import assistants, commands, llm_client, prompt
from assisti_chat.quota import QuotaExceeded, next_reset
from assisti_chat.settings import get_chat_settings
from assisti_common.db import chat, usage
from assisti_common.db.models import CategoryModel, MessageModel
from assisti_common.errors import Conflict, NotFound
from assisti_common.observability import logger, metrics
from assisti_common.pagination import Page, paginate
from assisti_common.principal import Principal

HISTORY_SCAN = 50  # recent messages read per answer; the token budget then trims them
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


def list_messages(principal: Principal, category_id: str, limit: int, cursor: str | None) -> Page[MessageModel]:
    _category(principal, category_id)
    return paginate(
        f"messages:{principal.user_id}:{category_id}",
        cursor,
        lambda start: chat.list_messages(principal.user_id, category_id, limit, start),
    )


def delete_message(principal: Principal, category_id: str, message_id: str) -> None:
    if chat.get_message(principal.user_id, category_id, message_id) is None:
        raise NotFound("No such message.")
    chat.delete_message(principal.user_id, category_id, message_id)


def send_message(principal: Principal, category_id: str, text: str) -> MessageModel:
    """Fast-path commands answer at once; anything else is stored first, then answered by the LLM."""
    category = _category(principal, category_id)
    command = commands.parse_command(text)
    if command is not None:
        return _run_command(principal, category, text, command)
    settings = get_chat_settings()
    day = usage.today()
    if not usage.reserve_message(principal.user_id, day, settings.chat_daily_messages, settings.chat_daily_tokens):
        raise QuotaExceeded("Today's chat quota is used up.")
    message = chat.put_message(principal.user_id, category_id, text)
    return _answer(category, message, day)


def retry_message(principal: Principal, category_id: str, message_id: str) -> MessageModel:
    category = _category(principal, category_id)
    message = chat.get_message(principal.user_id, category_id, message_id)
    if message is None:
        raise NotFound("No such message.")
    if message.status != "failed" or not chat.claim_for_retry(message):
        raise Conflict("Only a message whose answer failed can be retried.")
    settings = get_chat_settings()
    day = usage.today()
    if usage.get_usage(principal.user_id, day).tokens >= settings.chat_daily_tokens:
        chat.record_failure(message, "quota_exceeded", "Today's token quota is used up.", settings.chat_model, 0)
        raise QuotaExceeded("Today's token quota is used up.")
    return _answer(category, message, day)


def _answer(category: CategoryModel, message: MessageModel, day: str) -> MessageModel:
    settings = get_chat_settings()
    earlier = chat.recent_messages(category.owner_id, category.category_id, message.message_id, HISTORY_SCAN)
    exchanges = [
        prompt.Exchange(item.message, item.answer)
        for item in earlier
        if item.kind == "llm" and item.status == "answered" and item.answer
    ]
    messages = prompt.build_messages(
        assistants.system_prompt(category.assistant, category.language, category.instructions),
        prompt.fit_history(exchanges, settings.chat_history_tokens),
        message.message,
    )
    try:
        result = llm_client.complete(messages)
    except llm_client.LLMFailure as failure:
        chat.record_failure(message, failure.code, failure.message, settings.chat_model, failure.latency_ms)
        logger.warning("LLM answer failed", extra={"error_code": failure.code, "message_id": message.message_id})
        metrics.add_metric(name="llm_failures", unit="Count", value=1)
        return message
    chat.record_answer(
        message, result.text, result.model, result.prompt_tokens, result.completion_tokens, result.latency_ms
    )
    usage.add_tokens(category.owner_id, day, result.prompt_tokens + result.completion_tokens)
    metrics.add_metric(name="llm_tokens", unit="Count", value=result.prompt_tokens + result.completion_tokens)
    metrics.add_metric(name="llm_latency", unit="Milliseconds", value=result.latency_ms)
    return message


def _run_command(principal: Principal, category: CategoryModel, text: str, command: commands.Command) -> MessageModel:
    if command.name == "assistant":
        answer = _switch_assistant(category, command.args)
    elif command.name == "usage":
        today = get_usage(principal)
        answer = (
            f"Today ({today.day}, UTC) you sent {today.messages} of {today.message_limit} messages and used "
            f"{today.tokens} of {today.token_limit} tokens. The quota resets at "
            f"{today.resets_at.strftime('%H:%M')} UTC."
        )
    else:
        answer = commands.help_text(category.assistant)
    return chat.put_message(
        principal.user_id, category.category_id, text, kind="command", answer=answer, model=FAST_PATH_MODEL
    )


def _switch_assistant(category: CategoryModel, args: tuple[str, ...]) -> str:
    if not args:
        return "Name an assistant: " + ", ".join(assistants.ASSISTANTS) + "."
    name = args[0].lower()
    language = " ".join(args[1:]) or None
    try:
        assistants.check_choice(name, language or category.language)
    except assistants.LanguageRequired:
        return "Say which language to practise, e.g. /assistant language_tutor Spanish."
    changes: dict[str, object] = {"assistant": name}
    if language:
        changes["language"] = language
    chat.update_category(category, **changes)
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
