"""Categories and messages. Every call takes the owner's id, and every key starts with it, so one
user cannot even address another's data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from assisti_common.db.base import conditional_update, find
from assisti_common.db.models import CategoryModel, MessageModel
from assisti_common.ids import new_id

Page = tuple[list[Any], dict[str, Any] | None]


def conversation_key(owner_id: str, category_id: str) -> str:
    return f"{owner_id}#{category_id}"


# --- categories --------------------------------------------------------------------------------


def create_category(owner_id: str, name: str, assistant: str, language: str | None, instructions: str) -> CategoryModel:
    now = datetime.now(UTC)
    category = CategoryModel(
        owner_id,
        new_id(),
        name=name,
        assistant=assistant,
        language=language,
        instructions=instructions,
        created_at=now,
        updated_at=now,
    )
    category.save(condition=CategoryModel.category_id.does_not_exist())
    return category


def get_category(owner_id: str, category_id: str) -> CategoryModel | None:
    return find(CategoryModel, owner_id, category_id)


def list_categories(owner_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
    page = CategoryModel.query(owner_id, scan_index_forward=False, limit=limit, last_evaluated_key=start_key)
    return list(page), page.last_evaluated_key


def update_category(category: CategoryModel, **fields: Any) -> bool:
    """Sets the given fields if the category still exists. False when it was deleted meanwhile."""
    columns = {
        "name": CategoryModel.name,
        "assistant": CategoryModel.assistant,
        "language": CategoryModel.language,
        "instructions": CategoryModel.instructions,
    }
    actions: list[Any] = [columns[name].set(value) for name, value in fields.items()]
    actions.append(CategoryModel.updated_at.set(datetime.now(UTC)))
    return conditional_update(category, actions, CategoryModel.category_id.exists())


def delete_category(owner_id: str, category_id: str) -> None:
    """Messages first, the category last: a failure part-way can simply be repeated."""
    delete_conversation(owner_id, category_id)
    CategoryModel(owner_id, category_id).delete()


def delete_conversation(owner_id: str, category_id: str) -> None:
    key = conversation_key(owner_id, category_id)
    with MessageModel.batch_write() as batch:
        for message in MessageModel.query(key, attributes_to_get=["conversation", "message_id"]):
            batch.delete(message)


def purge_user_chat(owner_id: str) -> None:
    for category in CategoryModel.query(owner_id, attributes_to_get=["owner_id", "category_id"]):
        delete_category(owner_id, category.category_id)


# --- messages ----------------------------------------------------------------------------------


def put_message(
    owner_id: str,
    category_id: str,
    text: str,
    *,
    kind: str = "llm",
    answer: str | None = None,
    model: str | None = None,
) -> MessageModel:
    """Stores the user's message before anything can fail, so it is never lost."""
    now = datetime.now(UTC)
    message = MessageModel(
        conversation_key(owner_id, category_id),
        new_id(),
        owner_id=owner_id,
        category_id=category_id,
        message=text,
        kind=kind,
        status="answered" if answer is not None else "pending",
        answer=answer,
        model=model,
        created_at=now,
        answered_at=now if answer is not None else None,
        latency_ms=0 if answer is not None else None,
    )
    message.save(condition=MessageModel.message_id.does_not_exist())
    return message


def get_message(owner_id: str, category_id: str, message_id: str) -> MessageModel | None:
    return find(MessageModel, conversation_key(owner_id, category_id), message_id)


def list_messages(owner_id: str, category_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
    page = MessageModel.query(
        conversation_key(owner_id, category_id), scan_index_forward=True, limit=limit, last_evaluated_key=start_key
    )
    return list(page), page.last_evaluated_key


def recent_messages(owner_id: str, category_id: str, before_id: str, limit: int) -> list[MessageModel]:
    """Up to `limit` messages older than `before_id`, newest first (one Query)."""
    return list(
        MessageModel.query(
            conversation_key(owner_id, category_id),
            MessageModel.message_id < before_id,
            scan_index_forward=False,
            limit=limit,
        )
    )


def record_answer(
    message: MessageModel, answer: str, model: str, prompt_tokens: int, completion_tokens: int, latency_ms: int
) -> bool:
    """Stores the answer unless the message was deleted meanwhile (then False)."""
    return _finish(
        message,
        [
            MessageModel.answer.set(answer),
            MessageModel.status.set("answered"),
            MessageModel.model.set(model),
            MessageModel.prompt_tokens.set(prompt_tokens),
            MessageModel.completion_tokens.set(completion_tokens),
            MessageModel.latency_ms.set(latency_ms),
            MessageModel.answered_at.set(datetime.now(UTC)),
            MessageModel.error_code.remove(),
            MessageModel.error_message.remove(),
        ],
    )


def record_failure(message: MessageModel, code: str, text: str, model: str, latency_ms: int) -> bool:
    return _finish(
        message,
        [
            MessageModel.status.set("failed"),
            MessageModel.error_code.set(code),
            MessageModel.error_message.set(text),
            MessageModel.model.set(model),
            MessageModel.latency_ms.set(latency_ms),
        ],
    )


def claim_for_retry(message: MessageModel) -> bool:
    """Moves a failed message back to pending; only one retry at a time wins."""
    return conditional_update(message, [MessageModel.status.set("pending")], MessageModel.status == "failed")


def _finish(message: MessageModel, actions: list[Any]) -> bool:
    return conditional_update(message, actions, MessageModel.message_id.exists())


def delete_message(owner_id: str, category_id: str, message_id: str) -> None:
    MessageModel(conversation_key(owner_id, category_id), message_id).delete()
