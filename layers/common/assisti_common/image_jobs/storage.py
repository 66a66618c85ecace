"""S3 for image jobs: the key layout, the upload policy (presigned POST), presigned downloads, reads,
conditional copies, deletes.

Two prefixes: `uploads/` holds what clients POST, each object only while its item waits for it (the
worker deletes it once the item is settled, gone or finished); `images/` holds the copy of a checked
image the worker keeps for a done item, where no presigned POST can write. S3 makes that copy from the
upload only while the upload is the object the worker read (its ETag): the bytes kept are the bytes
checked."""

from __future__ import annotations

import re
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

    def kept(self, claim_id: str) -> str:
        """Where a claim (an SQS message: all its tries) keeps the checked image of this upload's item:
        a retry overwrites its own copy, and whoever is last to handle the message can delete it by name
        without touching another claim's."""
        return f"images/{self.kind}/{self.owner_id}/{self.item_id}/{claim_id}"


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


# Connections kept per client: an image worker reads ahead and copies every upload of a batch at once
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


def presigned_download(key: str, content_type: str | None = None) -> str:
    """A short-lived link to `key`, served as `content_type` when given (S3's response-content-type)."""
    params = {"Bucket": get_settings().uploads_bucket, "Key": key}
    if content_type:
        params["ResponseContentType"] = content_type
    url: str = s3().generate_presigned_url(
        "get_object", Params=params, ExpiresIn=get_image_settings().image_url_seconds
    )
    return url


@dataclass(frozen=True)
class ReadObject:
    data: bytes
    etag: str  # of the whole object: what a copy of exactly these bytes names (`copy_object`)


def read_object(bucket: str, key: str, max_bytes: int) -> ReadObject:
    """Reads at most max_bytes + 1 bytes, so an oversized object is seen without loading it all."""
    answer = s3().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")
    return ReadObject(answer["Body"].read(), answer["ETag"])


def copy_object(source: tuple[str, str], source_etag: str, key: str) -> None:
    """Copies `source` (bucket, key) to `key` inside S3 (no bytes through the function), only while the
    source is still the object with `source_etag`: otherwise S3 refuses it with 412 PreconditionFailed.
    The copy keeps the source's type (the one the upload declared: `presigned_download` serves the one
    found in the bytes) and none of its tags (so no tag permissions are needed)."""
    source_bucket, source_key = source
    s3().copy_object(
        Bucket=get_settings().uploads_bucket,
        Key=key,
        CopySource={"Bucket": source_bucket, "Key": source_key},
        CopySourceIfMatch=same_etag(source_etag),
        TaggingDirective="REPLACE",
    )


def same_etag(etag: str) -> str:
    """An ETag as S3's answers and HTTP preconditions give it (RFC 9110's quoted entity tag), from
    either that or the bare form S3's events give."""
    bare = etag.strip('"')
    return f'"{bare}"'


DELETE_OBJECTS_KEYS = 1000  # S3's limit on the keys of one DeleteObjects request


def delete_objects(keys: list[str]) -> set[str]:
    """Deletes `keys` with one request per thousand (a missing key counts as deleted, as S3 has it):
    returns the keys S3 could not delete."""
    unique = list(dict.fromkeys(keys))
    failed: set[str] = set()
    for start in range(0, len(unique), DELETE_OBJECTS_KEYS):
        chunk = unique[start : start + DELETE_OBJECTS_KEYS]
        answer = s3().delete_objects(
            Bucket=get_settings().uploads_bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
        )
        failed.update(error["Key"] for error in answer.get("Errors", []) if "Key" in error)
    return failed
