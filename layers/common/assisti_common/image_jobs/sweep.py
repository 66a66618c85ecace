"""The uploads bucket's daily sweep: deletes every version that no live item names or waits for.

Deliveries delete the versions their events announce, the dead-letter handler those whose deliveries
gave up, and deleting an item every version of its key. What all of them miss would otherwise stay for
good, since no lifecycle rule may expire uploads (one would take a done item's image): a version whose
delivery and dead letter both failed, one a last try left while another delivery held its item, an
upload through a POST still valid after its item was deleted, whatever was under `uploads/` before the
bucket was versioned, and the delete markers old code left. The sweep is that backstop. (One thing it
leaves: an item whose upload's S3 event never came waits for ever, `awaiting_upload`, and keeps that
upload.)

It races nothing it could hurt. A version is kept while its item waits for an upload (`awaiting_upload`
or `processing`: a delivery may still label it), unless the item has been `processing` past its
deadline: it is failed then, as when it is read (`items.failed_if_stuck`). A done or failed item never
waits again and never names another version, a deleted item never comes back (ids are never reused),
and items are read consistently. Only what is older than a day is looked at, a margin that leaves
whatever is in flight to what handles it. A run that fails is not retried; the next day's begins again
from the first key (so a bucket too large for one run would need the listing's place kept between
runs: its timeouts alarm). It loads no model and no Pillow: a small zip
on the common layer, `Handler: assisti_common.image_jobs.sweep.handler`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from assisti_common.db import image_items
from assisti_common.db.models import ImageItemModel
from assisti_common.image_jobs import items as items_rules
from assisti_common.image_jobs import storage
from assisti_common.observability import logger, metrics

# Only versions older than this are looked at: what is in flight is left to what handles it.
MIN_AGE = timedelta(days=1)
# The prefixes swept: uploads, and the copies the worker kept before the bucket was versioned.
PREFIXES = ("uploads/", "images/")


@dataclass
class Swept:
    looked_at: int = 0
    deleted: int = 0
    undeleted: int = 0  # S3 refused to delete them: the next run tries again


def sweep(older_than: datetime, page_size: int | None = None) -> Swept:
    """Deletes every version (and delete marker) last modified before `older_than` that no live item
    names or waits for, a listing page at a time: the page's items in a few batched reads, and what it
    dooms deleted once the listing has moved past it (the next page is asked for from the last key of
    this one, which S3 may need to find again)."""
    swept = Swept()
    for prefix in PREFIXES:
        doomed: list[storage.StoredObject] = []
        for page in storage.version_pages(prefix, page_size):
            _delete(doomed, swept)
            old = [listed for listed in page if listed.last_modified < older_than]
            swept.looked_at += len(old)
            owners = [_owner(listed.stored.key) for listed in old]
            items = _items_of({owner for owner in owners if owner is not None})
            doomed = [
                listed.stored for listed, owner in zip(old, owners, strict=True) if not _needed(listed, owner, items)
            ]
        _delete(doomed, swept)
    return swept


Items = dict[storage.ImageKey, ImageItemModel]


def _owner(key: str) -> storage.ImageKey | None:
    """The upload key of the item whose upload, or copy kept before the bucket was versioned, `key` is."""
    return storage.ImageKey.parse(key) or storage.ImageKey.parse_kept(key)


def _items_of(owners: set[storage.ImageKey]) -> Items:
    """The live items of `owners`, each failed first if it was left `processing` past its deadline, as
    when it is read: no message of its can be left to finish it, and nobody may ever read it."""
    found = image_items.get_items((owner.owner_id, owner.kind, owner.item_id) for owner in owners)
    items: Items = {}
    for owner in owners:
        item = found.get((owner.owner_id, owner.kind, owner.item_id))
        current = items_rules.failed_if_stuck(item) if item is not None else None
        if current is not None:
            items[owner] = current
    return items


def _needed(listed: storage.ListedVersion, owner: storage.ImageKey | None, items: Items) -> bool:
    """Whether a live item (`owner`'s) may still want this version or delete marker (`items.wants`)."""
    key = listed.stored.key
    if owner is None:
        logger.warning("a key outside the upload layout: left alone", extra={"s3_key": key})
        return True
    item = items.get(owner)
    if item is None:
        return False
    if item.status in items_rules.WAITING:
        return True  # a delivery may still read the key: what it finds current stays as it is, markers too
    if listed.delete_marker:
        return False
    if key == str(owner):
        return items_rules.wants(item.status, item.image_version, listed.stored.version_id)
    return item.image_key == key  # a copy kept before the bucket was versioned


def _delete(doomed: list[storage.StoredObject], swept: Swept) -> None:
    if not doomed:
        return
    undeleted = storage.delete_objects(doomed)
    swept.deleted += len(doomed) - len(undeleted)
    swept.undeleted += len(undeleted)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    swept = sweep(datetime.now(UTC) - MIN_AGE)
    metrics.add_metric(name="sweep_deleted_versions", unit="Count", value=swept.deleted)
    logger.info("uploads swept", extra=asdict(swept))
    if swept.undeleted:
        # An error, so the function's alarm says so; what was deleted stays deleted.
        raise RuntimeError(f"S3 did not delete {swept.undeleted} version(s); the next run tries again")
    return asdict(swept)
