"""Image items (OCR, animals, road signs): the rules every kind shares. Knows nothing of HTTP."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from assisti_common.db import image_items
from assisti_common.db.models import ImageItemModel
from assisti_common.errors import NotFound
from assisti_common.image_jobs import storage
from assisti_common.image_jobs.events import Upload
from assisti_common.image_jobs.kinds import Kind
from assisti_common.image_jobs.settings import MAX_WAIT_SECONDS, get_image_settings
from assisti_common.pagination import Page, paginate
from assisti_common.principal import Principal


@dataclass(frozen=True)
class CreatedItem:
    item: ImageItemModel
    upload: storage.PresignedUpload


def image_key(item: ImageItemModel) -> storage.ImageKey:
    return storage.ImageKey(item.kind, item.owner_id, item.item_id)


def _own(principal: Principal, kind: Kind, item_id: str) -> ImageItemModel:
    item = image_items.get_item(principal.user_id, kind, item_id)
    current = failed_if_stuck(item) if item is not None else None
    if current is None:
        raise NotFound("No such item.")
    return current


def create(principal: Principal, kind: Kind, title: str, content_type: str) -> CreatedItem:
    item = image_items.create_item(principal.user_id, kind, title)
    return CreatedItem(item, storage.presigned_upload(image_key(item), content_type))


# What an item left `processing` past its deadline says (`failed_if_stuck`).
STUCK = ("processing_stalled", "Processing this image did not finish. Upload it again.")


def failed_if_stuck(item: ImageItemModel) -> ImageItemModel | None:
    """The item as it stands (None: deleted meanwhile), failed first if it is still `processing` past
    its deadline since it last changed: by then no message of its can be left in the queue to finish it
    (the template keeps the deadline past the queue's retention and a last try), so the app is told to
    upload again instead of waiting for ever (no known path leaves an item so: this is a backstop for
    faults, such as a dead-letter handler that fails too)."""
    if item.status != image_items.PROCESSING:
        return item
    deadline = timedelta(seconds=get_image_settings().processing_deadline_seconds)
    stuck_before = datetime.now(UTC) - deadline
    if item.updated_at >= stuck_before or image_items.finish_failed(item, *STUCK, stuck_before=stuck_before):
        return item  # as it was read, or as the write left it
    # Claimed, finished or deleted meanwhile: as it is now.
    return image_items.get_item(item.owner_id, item.kind, item.item_id)


def get(principal: Principal, kind: Kind, item_id: str, wait_seconds: float = 0) -> ImageItemModel:
    """With wait_seconds, long-polls until the item is done or failed (or the wait is over)."""
    item = _own(principal, kind, item_id)
    deadline = time.monotonic() + min(wait_seconds, MAX_WAIT_SECONDS)
    pause = 0.2
    while item.status not in image_items.TERMINAL and time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 1.0)
        item = _own(principal, kind, item_id)
    return item


def image_url(item: ImageItemModel) -> str | None:
    """A short-lived link to the image the label was read from, once the item is done: the version of
    the upload the worker checked (or, for an item done before the bucket was versioned, the copy it
    kept), whatever the presigned POST uploaded after it."""
    if not item.image_key:
        return None
    return storage.presigned_download(item.image_key, item.image_version, item.image_type)


def list_items(principal: Principal, kind: Kind, limit: int, cursor: str | None) -> Page[ImageItemModel]:
    return paginate(
        f"images:{kind}:{principal.user_id}",
        cursor,
        lambda start: _each_failed_if_stuck(image_items.list_items(principal.user_id, kind, limit, start)),
    )


def _each_failed_if_stuck(page: tuple[list[ImageItemModel], Any]) -> tuple[list[ImageItemModel], Any]:
    items, last_key = page
    current = [failed_if_stuck(item) for item in items]
    return [item for item in current if item is not None], last_key


def rename(principal: Principal, kind: Kind, item_id: str, title: str) -> ImageItemModel:
    if not image_items.rename(_own(principal, kind, item_id), title):
        raise NotFound("No such item.")
    return _own(principal, kind, item_id)


def delete(principal: Principal, kind: Kind, item_id: str) -> None:
    _delete(_own(principal, kind, item_id))


def purge_user_items(owner_id: str) -> None:
    """Every image item of the user, with its objects."""
    for kind in Kind:
        for item in image_items.all_items(owner_id, kind):
            _delete(item)


def release(upload: Upload, settled: ImageItemModel | None = None) -> None:
    """A delivery is through with its upload (the version its S3 event announced): deletes it unless the
    item names it or still waits for it, given the item as it now stands (`settled`: as this delivery's
    own write left it; otherwise read)."""
    status, version = (settled.status, settled.image_version) if settled is not None else where_it_stands(upload.key)
    delete_objects(leftovers(upload.stored, status, version))


def where_it_stands(key: storage.ImageKey) -> tuple[str | None, str | None]:
    """The status of the upload's item and the version of the upload it names, read (None, None: the
    item is gone)."""
    item = image_items.get_item(key.owner_id, key.kind, key.item_id)
    return (item.status, item.image_version) if item is not None else (None, None)


# An item in these still waits for an upload: a delivery may yet read its key and label what it finds.
WAITING = (image_items.AWAITING_UPLOAD, image_items.PROCESSING)


def wants(status: str | None, image_version: str | None, version_id: str) -> bool:
    """Whether an item (its `status` and the version it names; None, None: it is gone) may still want
    this version of its upload: it names it, or it still waits for an upload."""
    return status in WAITING or (image_version is not None and image_version == version_id)


def leftovers(
    upload: storage.StoredObject, status: str | None, image_version: str | None
) -> list[storage.StoredObject]:
    """What a delivery through with its upload (the version its event announced) deletes, given the
    item's `status` and the version it names (None, None: the item is gone): the upload, unless the item
    still wants it (`wants`). An item still `processing` may be held by another delivery reading it (this
    delivery then tries again later: `worker.ClaimTakenOver`)."""
    return [] if wants(status, image_version, upload.version_id) else [upload]


def _delete(item: ImageItemModel | None) -> None:
    """The objects first (every version of the item's key, and any copy kept before the bucket was
    versioned, named or not), then the item: a failure part-way leaves the item to delete again. A
    worker may finish the item meanwhile, naming a version uploaded after the listing; the item then
    stays, and the next pass deletes that version too (an item is finished once, so there are at most
    two passes)."""
    while item is not None:
        key = image_key(item)
        prefixes = [str(key), key.kept_before_versioning()]
        delete_objects([version for prefix in prefixes for version in storage.every_version(prefix)])
        if image_items.delete_item(item):
            return
        item = image_items.get_item(item.owner_id, item.kind, item.item_id)


def delete_objects(objects: list[storage.StoredObject]) -> None:
    """Deletes `objects` (one request), or raises if S3 kept any: the caller's step is then repeated."""
    if not objects:
        return
    failed = storage.delete_objects(objects)
    if failed:
        raise RuntimeError(f"S3 did not delete {len(failed)} of {len(objects)} object(s)")
