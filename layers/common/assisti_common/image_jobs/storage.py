"""S3 for image jobs: the key layout, the upload policy (presigned POST), presigned downloads, reads,
deletes.

The bucket is versioned. What a client POSTs to an item's key is a new version of it, which S3 never
changes afterwards: a done item names the version its label was read from, and its link serves that
version, whatever the presigned POST uploads after it. Every other version of the key is deleted by
the delivery of its own S3 event (the event names it) once the item no longer waits for it, or with
the item. Nothing here deletes without a version: that would only hide the key behind a delete marker.
(`images/` holds the checked copies the worker kept for items done before the bucket was versioned.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from assisti_common import aws
from assisti_common.image_jobs.settings import get_image_settings
from assisti_common.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The image types an upload may declare; the worker checks the real content again.
IMAGE_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}
_KEY = re.compile(r"^uploads/(?P<kind>[a-z_]+)/(?P<owner>[0-9a-f-]{36})/(?P<item>[0-9a-f-]{36})$")
_KEPT = re.compile(r"^images/(?P<kind>[a-z_]+)/(?P<owner>[0-9a-f-]{36})/(?P<item>[0-9a-f-]{36})/[^/]+$")


@dataclass(frozen=True)
class ImageKey:
    kind: str
    owner_id: str
    item_id: str

    def __str__(self) -> str:
        return f"uploads/{self.kind}/{self.owner_id}/{self.item_id}"

    @classmethod
    def parse(cls, key: str) -> ImageKey | None:
        found = _KEY.match(key)
        return cls(found["kind"], found["owner"], found["item"]) if found else None

    @classmethod
    def parse_kept(cls, key: str) -> ImageKey | None:
        """The upload key of the item whose copy (kept before the bucket was versioned) `key` is."""
        found = _KEPT.match(key)
        return cls(found["kind"], found["owner"], found["item"]) if found else None

    def kept_before_versioning(self) -> str:
        """The prefix of the copies the worker kept of this item's checked uploads (one per claim) before
        the bucket was versioned: a done item of then names one, and a try that failed may have left
        another."""
        return f"images/{self.kind}/{self.owner_id}/{self.item_id}/"


# The version S3 gives an object written before the bucket was versioned (and its events name none).
NULL_VERSION = "null"


@dataclass(frozen=True)
class StoredObject:
    """One version of one key."""

    key: str
    version_id: str


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


# Connections kept per client: an image worker reads every upload of a batch at once, besides its deletes
# (botocore keeps 10 by default and opens, then drops, any more).
S3_CONNECTIONS = 32


def s3() -> S3Client:
    client: S3Client = aws.client("s3", read_timeout=10, signature_version="s3v4", max_pool_connections=S3_CONNECTIONS)
    return client


def presigned_upload(key: ImageKey, content_type: str) -> PresignedUpload:
    """A POST policy that binds the bucket, the exact key, the size range and the exact content type,
    for a few minutes. It can be used again until then: the worker deletes what nothing waits for."""
    settings = get_image_settings()
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.upload_url_seconds)  # never after the policy's
    post: dict[str, Any] = s3().generate_presigned_post(
        Bucket=get_settings().uploads_bucket,
        Key=str(key),
        Fields={"Content-Type": content_type},
        Conditions=[
            {"Content-Type": content_type},
            ["content-length-range", 1, settings.upload_max_bytes],
        ],
        ExpiresIn=settings.upload_url_seconds,
    )
    return PresignedUpload(post["url"], dict(post["fields"]), expires_at, settings.upload_max_bytes)


def presigned_download(key: str, version_id: str | None = None, content_type: str | None = None) -> str:
    """A short-lived link to `key` (its `version_id` when given, whatever is uploaded after it), served as
    `content_type` when given (S3's response-content-type)."""
    params = {"Bucket": get_settings().uploads_bucket, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    if content_type:
        params["ResponseContentType"] = content_type
    url: str = s3().generate_presigned_url(
        "get_object", Params=params, ExpiresIn=get_image_settings().image_url_seconds
    )
    return url


@dataclass(frozen=True)
class ReadObject:
    data: bytes
    version_id: str  # the version these bytes are: what a link to exactly them names


def read_object(bucket: str, key: str, max_bytes: int) -> ReadObject:
    """Reads the key's current version, at most max_bytes + 1 bytes of it, so an oversized object is seen
    without loading it all."""
    answer = s3().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")
    return ReadObject(answer["Body"].read(), answer.get("VersionId") or NULL_VERSION)


DELETE_OBJECTS_KEYS = 1000  # S3's limit on the keys of one DeleteObjects request


def delete_objects(objects: list[StoredObject]) -> set[StoredObject]:
    """Deletes each version for good, with one request per thousand (a missing one counts as deleted, as
    S3 has it): returns those S3 could not delete."""
    unique = list(dict.fromkeys(objects))
    failed: set[StoredObject] = set()
    for start in range(0, len(unique), DELETE_OBJECTS_KEYS):
        chunk = unique[start : start + DELETE_OBJECTS_KEYS]
        answer = s3().delete_objects(
            Bucket=get_settings().uploads_bucket,
            Delete={"Objects": [{"Key": obj.key, "VersionId": obj.version_id} for obj in chunk], "Quiet": True},
        )
        failed.update(
            StoredObject(error["Key"], error.get("VersionId") or NULL_VERSION)
            for error in answer.get("Errors", [])
            if "Key" in error
        )
    return failed


@dataclass(frozen=True)
class ListedVersion:
    stored: StoredObject
    last_modified: datetime
    delete_marker: bool


def version_pages(prefix: str, page_size: int | None = None) -> Iterator[list[ListedVersion]]:
    """Every version of every key that starts with `prefix`, and every delete marker, a page (S3's
    ListObjectVersions answer: up to a thousand) at a time; the next page is asked for only when the
    caller is through with this one."""
    paginator = s3().get_paginator("list_object_versions")
    bucket = get_settings().uploads_bucket
    pages = (
        paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size})
        if page_size
        else paginator.paginate(Bucket=bucket, Prefix=prefix)
    )
    for page in pages:
        listed = []
        for marker, entries in ((False, page.get("Versions", [])), (True, page.get("DeleteMarkers", []))):
            for entry in entries:
                stored = StoredObject(entry["Key"], entry.get("VersionId") or NULL_VERSION)
                listed.append(ListedVersion(stored, entry["LastModified"], marker))
        yield listed


def every_version(prefix: str) -> list[StoredObject]:
    """Every version of every key that starts with `prefix` (and every delete marker, if anything left
    one), listed. An upload's key is a prefix of no other key (its ids have a fixed length)."""
    return [listed.stored for page in version_pages(prefix) for listed in page]
