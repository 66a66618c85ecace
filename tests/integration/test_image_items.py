"""Deleting an image item against moto, with the worker finishing the same item at the worst moment:
no object outlives its item."""

from __future__ import annotations

import uuid

import boto3

from assisti_common.db import image_items
from assisti_common.db.models import ImageItemModel
from assisti_common.image_jobs import items, storage
from assisti_common.image_jobs.kinds import Kind
from assisti_common.principal import Principal
from assisti_common.settings import get_settings


def test_deleting_an_item_while_the_worker_finishes_it_leaves_no_image(aws, monkeypatch):
    owner = Principal(str(uuid.uuid4()), "a-session")
    created = items.create(owner, Kind.OCR, "Receipt", "image/png").item
    upload = items.image_key(created)
    etag = storage.s3().put_object(Bucket=get_settings().uploads_bucket, Key=str(upload), Body=b"the upload")["ETag"]
    claimed = image_items.claim_by_key(owner.user_id, Kind.OCR, created.item_id, "the-worker")
    assert claimed is not None
    delete_item, kept = image_items.delete_item, upload.kept("the-worker")
    # The worker keeps its copy while the model runs.
    storage.copy_object((get_settings().uploads_bucket, str(upload)), etag, kept)
    passes: list[ImageItemModel] = []

    def worker_finishes_first(item: ImageItemModel) -> bool:
        """The DELETE has read the item (processing, no image) and deleted its objects; before it deletes
        the item, the worker writes the label, naming its copy."""
        passes.append(item)
        if len(passes) == 1:
            assert image_items.write(
                image_items.finishing_done(claimed, "the-worker", "label", None, {}, kept, "image/png")
            )
        return delete_item(item)

    monkeypatch.setattr(image_items, "delete_item", worker_finishes_first)
    items.delete(owner, Kind.OCR, created.item_id)

    assert [item.image_key for item in passes] == [None, kept]  # the second pass saw the new image
    assert image_items.get_item(owner.user_id, Kind.OCR, created.item_id) is None
    assert storage_keys() == []


def storage_keys() -> list[str]:
    listed = boto3.client("s3", endpoint_url=get_settings().aws_endpoint_url).list_objects_v2(
        Bucket=get_settings().uploads_bucket
    )
    return [entry["Key"] for entry in listed.get("Contents", [])]
