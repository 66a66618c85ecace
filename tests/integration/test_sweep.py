"""The uploads bucket's daily sweep (`image_jobs.sweep`) against moto: it deletes every version no live
item names or waits for, and nothing else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from assisti_common.db import image_items
from assisti_common.db.models import ImageItemModel
from assisti_common.image_jobs import items, storage, sweep
from assisti_common.image_jobs.kinds import Kind
from assisti_common.principal import Principal
from assisti_common.settings import get_settings
from local.functions import LambdaContext


def _put(key: str, body: bytes) -> str:
    answer = storage.s3().put_object(Bucket=get_settings().uploads_bucket, Key=key, Body=body)
    return str(answer.get("VersionId", "null"))  # none is named while versioning is suspended


def _stored() -> set[tuple[str, str]]:
    """Every version in the bucket as (key, version), and every delete marker as (key, "marker")."""
    listed = boto3.client("s3", endpoint_url=get_settings().aws_endpoint_url).list_object_versions(
        Bucket=get_settings().uploads_bucket
    )
    markers = {(entry["Key"], "marker") for entry in listed.get("DeleteMarkers", [])}
    return {(entry["Key"], entry["VersionId"]) for entry in listed.get("Versions", [])} | markers


def _item(owner: Principal, status: str) -> tuple[ImageItemModel, str]:
    """An item in `status` (awaiting_upload, processing or failed), and its upload key."""
    item = items.create(owner, Kind.ANIMALS, status, "image/jpeg").item
    key = str(items.image_key(item))
    if status != image_items.AWAITING_UPLOAD:
        claimed = image_items.claim_by_key(owner.user_id, Kind.ANIMALS, item.item_id, "a-delivery")
        assert claimed is not None
        item = claimed
    if status == image_items.FAILED:
        assert image_items.finish_failed(item, "corrupt_image", "The image is damaged.")
    return item, key


@pytest.mark.parametrize("page_size", [None, 2], ids=["one page", "pages of two"])
def test_the_sweep_deletes_every_version_no_live_item_names_or_waits_for(aws, page_size):
    """Pages of two: what a page dooms is deleted once the next page is listed, and every page is seen
    (moto, unlike S3, loses its place if the last key of a page is deleted before the next is asked for)."""
    owner = Principal(str(uuid.uuid4()), "a-session")
    before_any = datetime.now(UTC) - timedelta(seconds=1)

    done, done_key = _item(owner, image_items.PROCESSING)
    labelled = _put(done_key, b"the version labelled")
    left_over = _put(done_key, b"a re-upload whose delivery and dead letter failed")
    finished = image_items.finishing_done(done, "a-delivery", "cat", 0.9, {}, done_key, labelled, "image/jpeg")
    assert image_items.write(finished)
    _, failed_key = _item(owner, image_items.FAILED)
    rejected = _put(failed_key, b"not an image")
    _, waiting_key = _item(owner, image_items.AWAITING_UPLOAD)
    _, busy_key = _item(owner, image_items.PROCESSING)
    being_read = _put(busy_key, b"a delivery is reading it")
    gone, gone_key = _item(owner, image_items.AWAITING_UPLOAD)
    assert image_items.delete_item(gone)
    after_deletion = _put(gone_key, b"through a POST still valid after its item was deleted")
    # An item done before the bucket was versioned: the copy it names, and one a failed try left.
    old, old_key = _item(owner, image_items.PROCESSING)
    named_copy = f"images/animals/{owner.user_id}/{old.item_id}/the-claim-that-finished"
    stray_copy = f"images/animals/{owner.user_id}/{old.item_id}/a-try-that-failed"
    kept, stray = _put(named_copy, b"kept"), _put(stray_copy, b"left")
    old.update(actions=[ImageItemModel.status.set(image_items.DONE), ImageItemModel.image_key.set(named_copy)])
    # Everything of a waiting item's key stays, a delete marker too: a delivery may read the key as it is.
    older = _put(waiting_key, b"an older upload")
    storage.s3().delete_object(Bucket=get_settings().uploads_bucket, Key=waiting_key)
    not_yet_claimed = _put(waiting_key, b"its event is on its way")
    # A delete marker (nothing here makes one; old code could have), and a key outside the layout.
    _put(old_key, b"an upload the old worker deleted without a version")
    storage.s3().delete_object(Bucket=get_settings().uploads_bucket, Key=old_key)
    foreign = _put("uploads/not-an-upload-key", b"not ours to judge")
    everything = _stored()

    # Nothing is old enough yet: nothing is looked at.
    assert sweep.sweep(older_than=before_any) == sweep.Swept(looked_at=0, deleted=0, undeleted=0)
    assert _stored() == everything

    swept = sweep.sweep(older_than=datetime.now(UTC) + timedelta(seconds=1), page_size=page_size)

    assert _stored() == {
        (done_key, labelled),
        (waiting_key, older),
        (waiting_key, "marker"),
        (waiting_key, not_yet_claimed),
        (busy_key, being_read),
        (named_copy, kept),
        ("uploads/not-an-upload-key", foreign),
    }
    gone_now = everything - _stored()
    assert {(done_key, left_over), (failed_key, rejected), (gone_key, after_deletion), (stray_copy, stray)} <= gone_now
    assert (old_key, "marker") in gone_now  # with the version it hid: the item names its copy
    assert swept == sweep.Swept(looked_at=len(everything), deleted=len(gone_now), undeleted=0)


def test_a_null_version_is_judged_as_any_other(aws):
    """An object written before the bucket was versioned has the version "null": kept while a done item
    names it, swept once no item does."""
    s3, bucket = storage.s3(), get_settings().uploads_bucket
    owner = Principal(str(uuid.uuid4()), "a-session")
    named, named_key = _item(owner, image_items.PROCESSING)
    _, failed_key = _item(owner, image_items.FAILED)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    try:
        assert _put(named_key, b"labelled before versioning") == "null"
        assert _put(failed_key, b"rejected before versioning") == "null"
    finally:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    done = image_items.finishing_done(named, "a-delivery", "cat", 0.9, {}, named_key, "null", "image/jpeg")
    assert image_items.write(done)

    sweep.sweep(older_than=datetime.now(UTC) + timedelta(seconds=1))

    assert _stored() == {(named_key, "null")}


def test_a_run_whose_deletes_s3_refuses_is_an_error_and_keeps_what_it_deleted(aws, monkeypatch):
    """The function's error alarm says so; the next run tries again what is left."""
    owner = Principal(str(uuid.uuid4()), "a-session")
    (_, first_key), (_, second_key) = _item(owner, image_items.FAILED), _item(owner, image_items.FAILED)
    _put(first_key, b"one"), _put(second_key, b"two")
    delete_objects = storage.delete_objects

    def refusing_the_second(objects: list[storage.StoredObject]) -> set[storage.StoredObject]:
        refused = {obj for obj in objects if obj.key == second_key}
        return delete_objects([obj for obj in objects if obj not in refused]) | refused

    monkeypatch.setattr(storage, "delete_objects", refusing_the_second)
    monkeypatch.setattr(sweep, "MIN_AGE", timedelta(seconds=-1))  # what was just uploaded counts as old
    with pytest.raises(RuntimeError, match="did not delete 1 version"):
        sweep.handler({"source": "aws.scheduler"}, LambdaContext("uploads-sweep"))
    assert {key for key, _ in _stored()} == {second_key}


def test_the_scheduled_handler_leaves_what_is_younger_than_a_day(aws):
    owner = Principal(str(uuid.uuid4()), "a-session")
    _, key = _item(owner, image_items.FAILED)
    version = _put(key, b"uploaded a moment ago")
    scheduled = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}

    answer = sweep.handler(scheduled, LambdaContext("uploads-sweep"))

    assert answer == {"looked_at": 0, "deleted": 0, "undeleted": 0}
    assert (key, version) in _stored()


def test_an_item_left_processing_past_its_deadline_is_failed_and_its_upload_swept(aws):
    """Nobody may ever read such an item again (the app gave up on it): the sweep fails it as a read would,
    and its upload goes with it. One still inside its deadline keeps its upload."""
    from assisti_common.image_jobs.settings import get_image_settings

    owner = Principal(str(uuid.uuid4()), "a-session")
    deadline = get_image_settings().processing_deadline_seconds
    (stuck, stuck_key), (slow, slow_key) = _item(owner, image_items.PROCESSING), _item(owner, image_items.PROCESSING)
    for item, seconds_ago in ((stuck, deadline + 60), (slow, deadline - 60)):
        item.update(actions=[ImageItemModel.updated_at.set(datetime.now(UTC) - timedelta(seconds=seconds_ago))])
    _put(stuck_key, b"never labelled")
    slow_version = _put(slow_key, b"still on its way")

    sweep.sweep(older_than=datetime.now(UTC) + timedelta(seconds=1))

    assert _stored() == {(slow_key, slow_version)}  # not the stuck one's
    failed = image_items.get_item(owner.user_id, Kind.ANIMALS, stuck.item_id)
    assert failed is not None and failed.status == image_items.FAILED and failed.error_code == items.STUCK[0]
