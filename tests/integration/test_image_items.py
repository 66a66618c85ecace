"""Image items against moto: deleting one while the worker finishes it leaves no object behind, and
one left `processing` past its deadline (no delivery will finish it) is failed when read, never
while a delivery may still finish it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from assisti_common.db import image_items
from assisti_common.db.models import ImageItemModel
from assisti_common.image_jobs import items, storage
from assisti_common.image_jobs.kinds import Kind
from assisti_common.image_jobs.settings import get_image_settings
from assisti_common.principal import Principal
from assisti_common.settings import get_settings
from tests.integration import test_ocr as ocr


def test_deleting_an_item_while_the_worker_finishes_it_leaves_no_image(aws, monkeypatch):
    owner = Principal(str(uuid.uuid4()), "a-session")
    created = items.create(owner, Kind.OCR, "Receipt", "image/png").item
    upload = str(items.image_key(created))
    bucket = get_settings().uploads_bucket
    storage.s3().put_object(Bucket=bucket, Key=upload, Body=b"the first upload")
    claimed = image_items.claim_by_key(owner.user_id, Kind.OCR, created.item_id, "the-worker")
    assert claimed is not None
    delete_item = image_items.delete_item
    passes: list[ImageItemModel] = []

    def worker_finishes_first(item: ImageItemModel) -> bool:
        """The DELETE has read the item (processing, no image) and deleted every version of its key;
        before it deletes the item, the POST is used again and the worker labels that new version."""
        passes.append(item)
        if len(passes) == 1:
            version = storage.s3().put_object(Bucket=bucket, Key=upload, Body=b"the second")["VersionId"]
            done = image_items.finishing_done(claimed, "the-worker", "label", None, {}, upload, version, "image/png")
            assert image_items.write(done)
        return delete_item(item)

    monkeypatch.setattr(image_items, "delete_item", worker_finishes_first)
    items.delete(owner, Kind.OCR, created.item_id)

    assert [item.image_key for item in passes] == [None, upload]  # the second pass saw the new version
    assert image_items.get_item(owner.user_id, Kind.OCR, created.item_id) is None
    assert ocr.stored(aws) == []


def test_deleting_an_item_done_before_the_bucket_was_versioned_deletes_its_kept_copies(aws):
    """Such an item names the copy the worker kept under images/, without a version: its link serves
    that copy. Deleting the item deletes every version of it (none is left behind a delete marker), and
    any copy a failed try of then kept and left."""
    import httpx

    owner = Principal(str(uuid.uuid4()), "a-session")
    created = items.create(owner, Kind.OCR, "Receipt", "image/png").item
    kept = f"images/ocr/{owner.user_id}/{created.item_id}/an-old-claim"
    left = f"images/ocr/{owner.user_id}/{created.item_id}/a-failed-try"
    storage.s3().put_object(Bucket=get_settings().uploads_bucket, Key=kept, Body=b"kept bytes")
    storage.s3().put_object(Bucket=get_settings().uploads_bucket, Key=left, Body=b"left bytes")
    created.update(
        actions=[
            ImageItemModel.status.set(image_items.DONE),
            ImageItemModel.image_key.set(kept),
            ImageItemModel.image_type.set("image/png"),
        ]
    )
    done = image_items.get_item(owner.user_id, Kind.OCR, created.item_id)
    assert done is not None and done.image_version is None
    url = items.image_url(done)
    assert url is not None and httpx.get(url).content == b"kept bytes"

    items.delete(owner, Kind.OCR, created.item_id)
    assert image_items.get_item(owner.user_id, Kind.OCR, created.item_id) is None
    assert ocr.stored(aws) == []


def _processing_since(owner_id: str, item_id: str, seconds_ago: float, claim_id: str = "a-lost-delivery") -> None:
    """The item claimed by a delivery, its last write `seconds_ago`."""
    assert image_items.claim_by_key(owner_id, Kind.ANIMALS, item_id, claim_id) is not None
    item = image_items.get_item(owner_id, Kind.ANIMALS, item_id)
    assert item is not None
    item.update(actions=[ImageItemModel.updated_at.set(datetime.now(UTC) - timedelta(seconds=seconds_ago))])


def test_an_item_left_processing_past_its_deadline_is_failed_when_read_or_listed(api, ann):
    deadline = get_image_settings().processing_deadline_seconds
    owner_id = api.get("/me", headers=ann).json()["id"]
    stuck, waiting = (
        api.post("/vision/animals", json={"title": title}, headers=ann).json()["item"]["id"] for title in ("a", "b")
    )
    _processing_since(owner_id, stuck, deadline + 60)
    _processing_since(owner_id, waiting, deadline - 60)

    read = api.get(f"/vision/animals/{stuck}", headers=ann)
    listed = {item["id"]: item for item in api.get("/vision/animals", headers=ann).json()["items"]}

    assert read.status_code == 200
    assert read.json()["status"] == "failed"
    assert read.json()["error"] == {"code": "processing_stalled", "message": items.STUCK[1]}
    assert listed[stuck]["status"] == "failed"
    assert listed[waiting]["status"] == "processing"  # its delivery may still finish it
    assert api.get(f"/vision/animals/{waiting}", headers=ann).json()["status"] == "processing"


def test_a_stuck_item_claimed_again_after_it_was_read_is_left_to_its_new_claim(aws):
    """The read saw it stuck; a redelivery claimed it before the read's write: the write is refused,
    and the item is given as it now is."""
    owner = Principal(str(uuid.uuid4()), "a-session")
    created = items.create(owner, Kind.ANIMALS, "Cat", "image/jpeg").item
    _processing_since(owner.user_id, created.item_id, get_image_settings().processing_deadline_seconds + 60)
    read = image_items.get_item(owner.user_id, Kind.ANIMALS, created.item_id)
    assert read is not None and read.status == image_items.PROCESSING
    assert image_items.claim_by_key(owner.user_id, Kind.ANIMALS, created.item_id, "a-redelivery") is not None

    current = items.failed_if_stuck(read)

    assert (current.status, current.claim) == (image_items.PROCESSING, "a-redelivery")
    stored = image_items.get_item(owner.user_id, Kind.ANIMALS, created.item_id)
    assert stored is not None and stored.status == image_items.PROCESSING


def test_a_stuck_item_deleted_after_it_was_read_is_gone(aws):
    owner = Principal(str(uuid.uuid4()), "a-session")
    created = items.create(owner, Kind.ANIMALS, "Cat", "image/jpeg").item
    _processing_since(owner.user_id, created.item_id, get_image_settings().processing_deadline_seconds + 60)
    read = image_items.get_item(owner.user_id, Kind.ANIMALS, created.item_id)
    assert read is not None
    items.delete(owner, Kind.ANIMALS, created.item_id)

    assert items.failed_if_stuck(read) is None
