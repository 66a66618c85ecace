"""Image items (image jobs and their results). Every key starts with the owner; every transition is conditional,
so a duplicate or late event never writes a label twice, never moves an item backwards, and never
touches a deleted item."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DeleteError

from assisti_common.db.base import conditional_update, find, is_condition_failure
from assisti_common.db.models import ImageItemModel
from assisti_common.ids import new_id

AWAITING_UPLOAD, PROCESSING, DONE, FAILED = "awaiting_upload", "processing", "done", "failed"
TERMINAL = (DONE, FAILED)


def partition_key(owner_id: str, kind: str) -> str:
    return f"{owner_id}#{kind}"


def create_item(owner_id: str, kind: str, title: str) -> ImageItemModel:
    now = datetime.now(UTC)
    item = ImageItemModel(
        partition_key(owner_id, kind),
        new_id(),
        owner_id=owner_id,
        kind=kind,
        title=title,
        status=AWAITING_UPLOAD,
        created_at=now,
        updated_at=now,
    )
    item.save(condition=ImageItemModel.item_id.does_not_exist())
    return item


def get_item(owner_id: str, kind: str, item_id: str) -> ImageItemModel | None:
    return find(ImageItemModel, partition_key(owner_id, kind), item_id)


def list_items(
    owner_id: str, kind: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[ImageItemModel], dict[str, Any] | None]:
    page = ImageItemModel.query(
        partition_key(owner_id, kind), scan_index_forward=False, limit=limit, last_evaluated_key=start_key
    )
    return list(page), page.last_evaluated_key


def rename(item: ImageItemModel, title: str) -> bool:
    return _update(item, [ImageItemModel.title.set(title)], ImageItemModel.item_id.exists())


def delete_item(item: ImageItemModel) -> bool:
    """Deletes the item if it still names the kept image it named when read: False if a worker has
    finished it since (naming a new image, to delete first), or it is gone."""
    kept = ImageItemModel.image_key == item.image_key if item.image_key else ImageItemModel.image_key.does_not_exist()
    try:
        ImageItemModel(item.partition, item.item_id).delete(condition=ImageItemModel.item_id.exists() & kept)
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True


def claim_by_key(owner_id: str, kind: str, item_id: str, claim_id: str) -> ImageItemModel | None:
    """claim() in one write, without reading the item first: the update returns the claimed item
    (PynamoDB asks for ALL_NEW). None for a missing, done, failed or deleted item."""
    item = ImageItemModel(partition_key(owner_id, kind), item_id)
    return item if claim(item, claim_id) else None


def claim(item: ImageItemModel, claim_id: str) -> bool:
    """awaiting_upload -> processing, or takes over a processing item whose worker died (its message
    came back). False for done, failed or deleted items: the event is then a no-op."""
    return _update(
        item,
        [ImageItemModel.status.set(PROCESSING), ImageItemModel.claim.set(claim_id)],
        ImageItemModel.status.is_in(AWAITING_UPLOAD, PROCESSING),
    )


def finish_done(
    item: ImageItemModel,
    claim_id: str,
    label: str,
    confidence: float | None,
    result: dict[str, Any],
    image_key: str,
) -> bool:
    """processing -> done, with the key of the image the label was read from, only for the delivery
    that holds the claim."""
    return _update(
        item,
        [
            ImageItemModel.status.set(DONE),
            ImageItemModel.image_key.set(image_key),
            ImageItemModel.label.set(label),
            ImageItemModel.confidence.set(confidence) if confidence is not None else ImageItemModel.confidence.remove(),
            ImageItemModel.result.set(result),
            ImageItemModel.error_code.remove(),
            ImageItemModel.error_message.remove(),
        ],
        (ImageItemModel.status == PROCESSING) & (ImageItemModel.claim == claim_id),
    )


def finish_failed(item: ImageItemModel, code: str, message: str, claim_id: str | None = None) -> bool:
    """-> failed, from any state but done/failed (and, with claim_id, only for its holder)."""
    condition = ImageItemModel.status.is_in(AWAITING_UPLOAD, PROCESSING)
    if claim_id is not None:
        condition = condition & (ImageItemModel.claim == claim_id)
    return _update(
        item,
        [
            ImageItemModel.status.set(FAILED),
            ImageItemModel.error_code.set(code),
            ImageItemModel.error_message.set(message),
        ],
        condition,
    )


def _update(item: ImageItemModel, actions: list[Any], condition: Any) -> bool:
    actions = [*actions, ImageItemModel.updated_at.set(datetime.now(UTC))]
    return conditional_update(item, actions, condition & ImageItemModel.item_id.exists())


def all_items(owner_id: str, kind: str) -> Iterator[ImageItemModel]:
    """Every item of one kind of one user (one Query, paged by PynamoDB), for deleting an account."""
    return ImageItemModel.query(partition_key(owner_id, kind))
