"""The chat function: routes only. Every route needs a valid access token.

The service (PynamoDB, the openai SDK) is imported by the first request that reaches it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, status

from assisti_chat.assistants import LanguageRequired, UnknownAssistant
from assisti_chat.quota import QuotaExceeded
from assisti_chat.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryPageOut,
    CategoryPatchIn,
    ErrorOut,
    MessageIn,
    MessageOut,
    MessagePageOut,
    QuotaOut,
    UsageCountOut,
    UsageOut,
)
from assisti_chat.settings import get_chat_settings
from assisti_chat.streaming import STREAM_RESPONSE, stream_answer, wants_events
from assisti_common import idempotency, lazy
from assisti_common.errors import Conflict, InvalidCursor, NotFound
from assisti_common.http import (
    CurrentPrincipal,
    PageCursor,
    PageLimit,
    ResourceId,
    create_app,
    errors,
    lambda_handler,
)
from assisti_common.idempotency import IdempotencyKey

if TYPE_CHECKING:
    from assisti_chat import service
    from assisti_common.db.models import CategoryModel, MessageModel
else:
    service = lazy.module("assisti_chat.service")

# Validated at cold start: a bad chat variable fails here, naming the variable, and only in chat.
get_chat_settings()

categories = APIRouter(prefix="/categories", tags=["categories"])
messages = APIRouter(prefix="/categories/{category_id}/messages", tags=["messages"])
me = APIRouter(prefix="/me", tags=["usage"])


def _category_out(category: CategoryModel) -> CategoryOut:
    return CategoryOut(
        id=category.category_id,
        name=category.name,
        assistant=category.assistant,
        language=category.language,
        instructions=category.instructions,
        created_at=category.created_at,
        updated_at=category.updated_at,
    )


def _message_out(message: MessageModel) -> MessageOut:
    error = ErrorOut(code=message.error_code, message=message.error_message or "") if message.error_code else None
    return MessageOut(
        id=message.message_id,
        category_id=message.category_id,
        message=message.message,
        answer=message.answer,
        status=message.status,
        kind=message.kind,
        model=message.model,  # type: ignore[arg-type]
        usage=UsageCountOut(
            prompt_tokens=int(message.prompt_tokens),
            completion_tokens=int(message.completion_tokens),
            estimated=bool(message.usage_estimated),
        ),
        latency_ms=int(message.latency_ms) if message.latency_ms is not None else None,
        created_at=message.created_at,
        error=error if message.status == "failed" else None,
    )


def _message_json(message: MessageModel) -> dict[str, Any]:
    return _message_out(message).model_dump(mode="json")


@categories.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryOut,
    responses=errors(UnknownAssistant, LanguageRequired),
)
def create_category(principal: CurrentPrincipal, body: CategoryIn, replay: IdempotencyKey) -> Any:
    def create() -> dict[str, Any]:
        category = service.create_category(principal, body.name, body.assistant, body.language, body.instructions)
        return _category_out(category).model_dump(mode="json")

    return idempotency.once(principal, replay, "POST /categories", body.model_dump(mode="json"), create)


@categories.get("", response_model=CategoryPageOut, responses=errors(InvalidCursor))
def list_categories(principal: CurrentPrincipal, limit: PageLimit = 20, cursor: PageCursor = None) -> CategoryPageOut:
    items, next_cursor = service.list_categories(principal, limit, cursor)
    return CategoryPageOut(categories=[_category_out(item) for item in items], next_cursor=next_cursor)


@categories.get("/{category_id}", response_model=CategoryOut, responses=errors(NotFound))
def get_category(principal: CurrentPrincipal, category_id: ResourceId) -> CategoryOut:
    return _category_out(service.get_category(principal, category_id))


@categories.patch(
    "/{category_id}", response_model=CategoryOut, responses=errors(NotFound, UnknownAssistant, LanguageRequired)
)
def patch_category(principal: CurrentPrincipal, category_id: ResourceId, body: CategoryPatchIn) -> CategoryOut:
    return _category_out(service.update_category(principal, category_id, body.changes()))


@categories.delete("/{category_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(NotFound))
def delete_category(principal: CurrentPrincipal, category_id: ResourceId) -> None:
    service.delete_category(principal, category_id)


@messages.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageOut,
    responses={201: STREAM_RESPONSE, **errors(NotFound, UnknownAssistant, QuotaExceeded)},
)
def send_message(
    request: Request, principal: CurrentPrincipal, category_id: ResourceId, body: MessageIn, replay: IdempotencyKey
) -> Any:
    """With an Idempotency-Key, a repeat gets the first answer: no second message, no second charge.
    With `Accept: text/event-stream`, the answer streams (the key does not apply to a stream)."""
    if wants_events(request):
        answer = service.send_message_streamed(principal, category_id, body.message)
        return stream_answer(answer, _message_json, status.HTTP_201_CREATED)
    return idempotency.once(
        principal,
        replay,
        f"POST /categories/{category_id}/messages",
        body.model_dump(mode="json"),
        lambda: _message_json(service.send_message(principal, category_id, body.message)),
    )


@messages.get("", response_model=MessagePageOut, responses=errors(NotFound, InvalidCursor))
def list_messages(
    principal: CurrentPrincipal, category_id: ResourceId, limit: PageLimit = 50, cursor: PageCursor = None
) -> MessagePageOut:
    items, next_cursor = service.list_messages(principal, category_id, limit, cursor)
    return MessagePageOut(messages=[_message_out(item) for item in items], next_cursor=next_cursor)


@messages.delete("/{message_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(NotFound))
def delete_message(principal: CurrentPrincipal, category_id: ResourceId, message_id: ResourceId) -> None:
    service.delete_message(principal, category_id, message_id)


@messages.post(
    "/{message_id}/retry",
    response_model=MessageOut,
    responses={200: STREAM_RESPONSE, **errors(NotFound, Conflict, QuotaExceeded)},
)
def retry_message(
    request: Request,
    principal: CurrentPrincipal,
    category_id: ResourceId,
    message_id: ResourceId,
    replay: IdempotencyKey,
) -> Any:
    if wants_events(request):
        answer = service.retry_message_streamed(principal, category_id, message_id)
        return stream_answer(answer, _message_json, status.HTTP_200_OK)
    return idempotency.once(
        principal,
        replay,
        f"POST /categories/{category_id}/messages/{message_id}/retry",
        None,
        lambda: _message_json(service.retry_message(principal, category_id, message_id)),
    )


@me.get("/usage", response_model=UsageOut)
def get_usage(principal: CurrentPrincipal) -> UsageOut:
    today = service.get_usage(principal)
    return UsageOut(
        date=today.day,
        messages=QuotaOut(used=today.messages, limit=today.message_limit),
        tokens=QuotaOut(used=today.tokens, limit=today.token_limit),
        resets_at=today.resets_at,
    )


app = create_app(
    "Assisti chat",
    "Chatrooms ('categories') and messages answered by an OpenAI-compatible LLM, with fast-path commands.",
    [categories, messages, me],
)
handler = lambda_handler(app)
