"""Categories and messages. Every call takes the owner's id, and every key starts with it, so one
user cannot even address another's data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from assisti_common.db import usage
from assisti_common.db.base import conditional_update, find, transact
from assisti_common.db.models import CategoryModel, MessageModel
from assisti_common.db.usage import Quota
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
#
# An LLM message holds the tokens reserved for its answer (`reserved_tokens` on `reserved_day`) from
# the moment it is stored until its attempt settles; each change of that holding and the matching
# change of the usage counter are one transaction, so tokens are counted once, however requests race.

CHANGE_TRIES = 3


def _actions(values: dict[str, Any]) -> list[Any]:
    return [
        getattr(MessageModel, name).remove() if value is None else getattr(MessageModel, name).set(value)
        for name, value in values.items()
    ]


def _apply(message: MessageModel, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(message, name, value)


def _holds(tokens: int) -> Any:
    """The message still holds exactly `tokens` (items from before reservations hold none)."""
    condition = MessageModel.reserved_tokens == tokens
    return condition | MessageModel.reserved_tokens.does_not_exist() if tokens == 0 else condition


def _same_attempt(message: MessageModel) -> Any:
    """The message is still pending on the attempt `message` was read (or claimed) in."""
    retried = (
        MessageModel.retried_at.does_not_exist()
        if message.retried_at is None
        else MessageModel.retried_at == message.retried_at
    )
    return (MessageModel.status == "pending") & retried & _holds(int(message.reserved_tokens))


def attempt_started_at(message: MessageModel) -> datetime:
    return message.retried_at or message.created_at


def _new_message(owner_id: str, category_id: str, text: str, **fields: Any) -> MessageModel:
    return MessageModel(
        conversation_key(owner_id, category_id),
        new_id(),
        owner_id=owner_id,
        category_id=category_id,
        message=text,
        created_at=datetime.now(UTC),
        **fields,
    )


def count_command(owner_id: str, day: str, quota: Quota) -> bool:
    """Counts a fast-path command against the day's message quota: False when it is used up."""
    return transact(lambda tx: usage.count(tx, owner_id, day, messages=1, quota=quota))


def put_answered(owner_id: str, category_id: str, text: str, answer: str, model: str) -> MessageModel:
    """Stores a fast-path command with its answer (counted beforehand by count_command)."""
    message = _new_message(
        owner_id, category_id, text, kind="command", status="answered", answer=answer, model=model, latency_ms=0
    )
    message.answered_at = message.created_at
    message.save(condition=MessageModel.message_id.does_not_exist())
    return message


def put_pending(owner_id: str, category_id: str, text: str, day: str, tokens: int, quota: Quota) -> MessageModel | None:
    """Stores the user's message before anything can fail, so it is never lost, and in the same
    transaction counts it and reserves `tokens` for its answer. None (nothing written) over the quota."""
    message = _new_message(
        owner_id, category_id, text, kind="llm", status="pending", reserved_tokens=tokens, reserved_day=day
    )

    def build(tx: TransactWrite) -> None:
        tx.save(message, condition=MessageModel.message_id.does_not_exist())
        usage.count(tx, owner_id, day, messages=1, tokens=tokens, quota=quota)

    return message if transact(build) else None


def get_message(owner_id: str, category_id: str, message_id: str) -> MessageModel | None:
    return find(MessageModel, conversation_key(owner_id, category_id), message_id)


def list_messages(owner_id: str, category_id: str, limit: int, start_key: dict[str, Any] | None) -> Page:
    page = MessageModel.query(
        conversation_key(owner_id, category_id), scan_index_forward=True, limit=limit, last_evaluated_key=start_key
    )
    return list(page), page.last_evaluated_key


def recent_messages(owner_id: str, category_id: str, before_id: str | None, limit: int) -> list[MessageModel]:
    """Up to `limit` messages older than `before_id` (or the newest), newest first (one Query)."""
    return list(
        MessageModel.query(
            conversation_key(owner_id, category_id),
            MessageModel.message_id < before_id if before_id else None,
            scan_index_forward=False,
            limit=limit,
        )
    )


def claim_for_retry(message: MessageModel, stale_before: datetime, day: str, tokens: int, quota: Quota) -> bool:
    """Starts a new attempt at a failed message, or at a pending one whose attempt began before
    `stale_before` (no request is left to finish it). One transaction reserves `tokens` on `day` and
    gives back what the old attempt still held. False when another retry got there first, the
    message changed meanwhile, or the quota has no room."""
    held, held_day = int(message.reserved_tokens), message.reserved_day
    stale = (
        (MessageModel.status == "pending")
        & (MessageModel.created_at < stale_before)
        & (MessageModel.retried_at.does_not_exist() | (MessageModel.retried_at < stale_before))
    )
    values: dict[str, Any] = {
        "status": "pending",
        "retried_at": datetime.now(UTC),
        "reserved_tokens": tokens,
        "reserved_day": day,
        "error_code": None,
        "error_message": None,
    }
    changes = {day: tokens}
    if held and held_day:
        changes[held_day] = changes.get(held_day, 0) - held  # one update per item in a transaction

    def build(tx: TransactWrite) -> None:
        tx.update(
            message, actions=_actions(values), condition=((MessageModel.status == "failed") | stale) & _holds(held)
        )
        for changed_day, change in changes.items():
            usage.count(tx, message.owner_id, changed_day, tokens=change, quota=quota if changed_day == day else None)

    if not transact(build):
        return False
    _apply(message, values)
    return True


def record_answer(
    message: MessageModel,
    answer: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    latency_ms: int,
    usage_estimated: bool = False,
) -> None:
    """Stores the answer and settles the reservation to the tokens really used."""
    values = {
        "answer": answer,
        "status": "answered",
        "model": model,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "usage_estimated": usage_estimated,
        "latency_ms": latency_ms,
        "answered_at": datetime.now(UTC),
        "error_code": None,
        "error_message": None,
    }
    _settle(message, values, used=prompt_tokens + completion_tokens)


def record_failure(
    message: MessageModel, code: str, text: str, model: str, latency_ms: int, partial: str | None = None, used: int = 0
) -> None:
    """Marks the attempt failed and settles its reservation to `used`: nothing for an answer that never
    started, the estimated cost of what a stream had sent before it broke (kept as `partial`)."""
    values = {
        "status": "failed",
        "error_code": code,
        "error_message": text,
        "model": model,
        "latency_ms": latency_ms,
        "answer": partial or None,
    }
    _settle(message, values, used=used)


def _settle(message: MessageModel, values: dict[str, Any], used: int) -> None:
    held, day = int(message.reserved_tokens), message.reserved_day or usage.today()
    values["reserved_tokens"] = 0

    def build(tx: TransactWrite) -> None:
        tx.update(message, actions=_actions(values), condition=_same_attempt(message))
        if used != held:
            usage.count(tx, message.owner_id, day, tokens=used - held)

    if not transact(build) and used:
        # The attempt lost its message (deleted, or claimed by a retry once it looked stale), and
        # whoever took it gave the reservation back: what the answer used is still counted.
        transact(lambda tx: usage.count(tx, message.owner_id, day, tokens=used))
    _apply(message, values)  # the caller shows what this attempt got, even if no longer stored


def delete_message(owner_id: str, category_id: str, message_id: str) -> bool:
    """Deletes the message and gives back what its unsettled attempt still holds. False when there
    is no such message."""
    for _ in range(CHANGE_TRIES):
        message = get_message(owner_id, category_id, message_id)
        if message is None:
            return False
        if _delete_releasing(message):
            return True
    raise RuntimeError("the message kept changing while it was being deleted")


def _delete_releasing(message: MessageModel) -> bool:
    """One transaction, unless the holding changed since `message` was read (then False)."""
    held, day = int(message.reserved_tokens), message.reserved_day

    def build(tx: TransactWrite) -> None:
        tx.delete(message, condition=_holds(held))
        if held and day:
            usage.count(tx, message.owner_id, day, tokens=-held)

    return transact(build)
