"""The S3 uploads an SQS record announces (S3 ObjectCreated -> SQS), parsed with Powertools' data classes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from assisti_common.image_jobs.storage import NULL_VERSION, ImageKey, StoredObject
from assisti_common.observability import logger


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: ImageKey
    size: int
    # The version the event announced: S3 names one in every event of a versioned bucket (none for an
    # object written before the bucket was versioned, whose version is "null").
    version_id: str = NULL_VERSION

    @property
    def stored(self) -> StoredObject:
        return StoredObject(str(self.key), self.version_id)


def uploads_in(record: SQSRecord) -> list[Upload]:
    """The S3 objects an SQS message announces (none for S3's test event or foreign keys)."""
    body = json.loads(record.body)
    if body.get("Event") == "s3:TestEvent":
        return []
    found = []
    for s3_record in S3Event(body).records:
        raw_key = unquote_plus(s3_record.s3.get_object.key)
        key = ImageKey.parse(raw_key)
        if key is None:
            logger.warning("ignoring an object outside the upload layout", extra={"s3_key": raw_key})
            continue
        s3_object = s3_record.s3.get_object
        found.append(
            Upload(s3_record.s3.bucket.name, key, int(s3_object.size or 0), s3_object.version_id or NULL_VERSION)
        )
    return found
