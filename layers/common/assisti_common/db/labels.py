"""Image jobs and their labels. Every key starts with the owner; every transition is conditional,
so a duplicate or late event never writes a label twice, never moves an item backwards, and never
touches a deleted item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist

from assisti_common.db.base import conditional_update, is_condition_failure
from assisti_common.db.models import LabelModel
from assisti_common.ids import new_id
from assisti_common.storage import ImageKey, delete_object

IMAGE_KINDS = ("ocr", "animals", "road_signs")
AWAITING_UPLOAD, PROCESSING, DONE, FAILED = "awaiting_upload", "processing", "done", "failed"
TERMINAL = (DONE, FAILED)


def partition_key(owner_id: str, kind: str) -> str:
    return f"{owner_id}#{kind}"


def create_item(owner_id: str, kind: str, title: str) -> LabelModel:
    now = datetime.now(UTC)
    item = LabelModel(
        partition_key(owner_id, kind),
        new_id(),
        owner_id=owner_id,
        kind=kind,
        title=title,
        status=AWAITING_UPLOAD,
        created_at=now,
        updated_at=now,
    )
    item.save(condition=LabelModel.item_id.does_not_exist())
    return item


def get_item(owner_id: str, kind: str, item_id: str) -> LabelModel | None:
    try:
        return LabelModel.get(partition_key(owner_id, kind), item_id, consistent_read=True)
    except DoesNotExist:
        return None


def list_items(
    owner_id: str, kind: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[LabelModel], dict[str, Any] | None]:
    page = LabelModel.query(
        partition_key(owner_id, kind), scan_index_forward=False, limit=limit, last_evaluated_key=start_key
    )
    return list(page), page.last_evaluated_key


def rename(item: LabelModel, title: str) -> bool:
    return _update(item, [LabelModel.title.set(title)], LabelModel.item_id.exists())


def delete_item(owner_id: str, kind: str, item_id: str) -> None:
    try:
        LabelModel(partition_key(owner_id, kind), item_id).delete(condition=LabelModel.item_id.exists())
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise


def claim(item: LabelModel, claim_id: str) -> bool:
    """awaiting_upload -> processing, or takes over a processing item whose worker died (its message
    came back). False for done, failed or deleted items: the event is then a no-op."""
    return _update(
        item,
        [LabelModel.status.set(PROCESSING), LabelModel.claim.set(claim_id)],
        LabelModel.status.is_in(AWAITING_UPLOAD, PROCESSING),
    )


def finish_done(item: LabelModel, claim_id: str, label: str, confidence: float | None, result: dict[str, Any]) -> bool:
    """processing -> done, only for the delivery that holds the claim."""
    return _update(
        item,
        [
            LabelModel.status.set(DONE),
            LabelModel.label.set(label),
            LabelModel.confidence.set(confidence) if confidence is not None else LabelModel.confidence.remove(),
            LabelModel.result.set(result),
            LabelModel.error_code.remove(),
            LabelModel.error_message.remove(),
        ],
        (LabelModel.status == PROCESSING) & (LabelModel.claim == claim_id),
    )


def finish_failed(item: LabelModel, code: str, message: str, claim_id: str | None = None) -> bool:
    """-> failed, from any state but done/failed (and, with claim_id, only for its holder)."""
    condition = LabelModel.status.is_in(AWAITING_UPLOAD, PROCESSING)
    if claim_id is not None:
        condition = condition & (LabelModel.claim == claim_id)
    return _update(
        item,
        [LabelModel.status.set(FAILED), LabelModel.error_code.set(code), LabelModel.error_message.set(message)],
        condition,
    )


def _update(item: LabelModel, actions: list[Any], condition: Any) -> bool:
    actions = [*actions, LabelModel.updated_at.set(datetime.now(UTC))]
    return conditional_update(item, actions, condition & LabelModel.item_id.exists())


def image_key(item: LabelModel) -> ImageKey:
    return ImageKey(item.kind, item.owner_id, item.item_id)


def purge_user_items(owner_id: str) -> None:
    """Every image item of the user, with its uploaded object (each deleted image first)."""
    for kind in IMAGE_KINDS:
        for item in LabelModel.query(partition_key(owner_id, kind)):
            delete_object(image_key(item))
            delete_item(owner_id, kind, item.item_id)
