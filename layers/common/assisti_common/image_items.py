"""Image items (OCR, animals, road signs): the rules every kind shares. Knows nothing of HTTP."""

from __future__ import annotations

import time
from dataclasses import dataclass

from assisti_common import storage
from assisti_common.db import labels
from assisti_common.db.models import LabelModel
from assisti_common.errors import NotFound
from assisti_common.http import Principal
from assisti_common.keys import get_keyring
from assisti_common.pagination import decode_cursor, encode_cursor

MAX_WAIT_SECONDS = 20


@dataclass(frozen=True)
class CreatedItem:
    item: LabelModel
    upload: storage.PresignedUpload


def _own(principal: Principal, kind: str, item_id: str) -> LabelModel:
    item = labels.get_item(principal.user_id, kind, item_id)
    if item is None:
        raise NotFound("No such item.")
    return item


def create(principal: Principal, kind: str, title: str, content_type: str) -> CreatedItem:
    item = labels.create_item(principal.user_id, kind, title)
    return CreatedItem(item, storage.presigned_upload(labels.image_key(item), content_type))


def get(principal: Principal, kind: str, item_id: str, wait_seconds: float = 0) -> LabelModel:
    """With wait_seconds, long-polls until the item is done or failed (or the wait is over)."""
    item = _own(principal, kind, item_id)
    deadline = time.monotonic() + min(wait_seconds, MAX_WAIT_SECONDS)
    pause = 0.2
    while item.status not in labels.TERMINAL and time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 1.0)
        item = _own(principal, kind, item_id)
    return item


def image_url(item: LabelModel) -> str | None:
    """A short-lived link to the image, once there is one."""
    return None if item.status == labels.AWAITING_UPLOAD else storage.presigned_download(labels.image_key(item))


def list_items(principal: Principal, kind: str, limit: int, cursor: str | None) -> tuple[list[LabelModel], str | None]:
    scope, hash_key = f"images:{kind}:{principal.user_id}", get_keyring().hash_key
    items, last_key = labels.list_items(principal.user_id, kind, limit, decode_cursor(hash_key, scope, cursor))
    return items, encode_cursor(hash_key, scope, last_key)


def rename(principal: Principal, kind: str, item_id: str, title: str) -> LabelModel:
    if not labels.rename(_own(principal, kind, item_id), title):
        raise NotFound("No such item.")
    return _own(principal, kind, item_id)


def delete(principal: Principal, kind: str, item_id: str) -> None:
    """The image first, then the item: a failure part-way leaves the item to delete again."""
    item = _own(principal, kind, item_id)
    storage.delete_object(labels.image_key(item))
    labels.delete_item(item.owner_id, kind, item.item_id)
