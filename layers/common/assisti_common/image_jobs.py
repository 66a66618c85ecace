"""The image-job worker, shared by every kind (OCR, animals, road signs).

S3 ObjectCreated -> SQS -> this handler (Powertools BatchProcessor, partial batch failure). For each
uploaded object: claim the item (a conditional write; duplicates, late events and deleted items
are no-ops), read and check the image again, run the kind's model, and write the label with a
write only the claim holder can make. A permanent problem fails the item at once; anything else
is retried by SQS, and the last try fails the item before the message goes to the dead-letter
queue, whose handler fails whatever is left, so no item stays `processing` forever.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from PIL import Image

from assisti_common import storage
from assisti_common.db import labels
from assisti_common.images import ImageRejected, load_image
from assisti_common.observability import logger, metrics
from assisti_common.settings import get_settings

GAVE_UP = ("processing_failed", "We could not process this image after several tries. Upload it again.")


@dataclass(frozen=True)
class JobResult:
    label: str
    confidence: float | None
    details: dict[str, Any] = field(default_factory=dict)  # stored as the item's `result`


Processor = Callable[[Image.Image], JobResult]


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: storage.ImageKey
    size: int


def uploads_in(record: SQSRecord) -> list[Upload]:
    """The S3 objects an SQS message announces (none for S3's test event or foreign keys)."""
    body = json.loads(record.body)
    if body.get("Event") == "s3:TestEvent":
        return []
    found = []
    for s3_record in S3Event(body).records:
        raw_key = unquote_plus(s3_record.s3.get_object.key)
        key = storage.ImageKey.parse(raw_key)
        if key is None:
            logger.warning("ignoring an object outside the upload layout", extra={"s3_key": raw_key})
            continue
        found.append(Upload(s3_record.s3.bucket.name, key, int(s3_record.s3.get_object.size or 0)))
    return found


class ImageJobWorker:
    def __init__(self, processors: dict[str, Processor]) -> None:
        self.processors = processors
        self.batch = BatchProcessor(event_type=EventType.SQS)
        # The Lambda entry points, wrapped once per container.
        self.lambda_handler = logger.inject_lambda_context(clear_state=True)(metrics.log_metrics(self._handle))

    def handle_record(self, record: SQSRecord) -> None:
        receives = int(record.attributes.approximate_receive_count or 1)
        for upload in uploads_in(record):
            self.process(upload, claim_id=record.message_id, last_try=receives >= get_settings().worker_max_receives)

    def process(self, upload: Upload, claim_id: str, last_try: bool) -> None:
        processor = self.processors.get(upload.key.kind)
        if processor is None:
            logger.warning("no processor for this kind", extra={"kind": upload.key.kind})
            return
        item = labels.get_item(upload.key.owner_id, upload.key.kind, upload.key.item_id)
        if item is None or not labels.claim(item, claim_id):
            logger.info("duplicate, late or deleted: nothing to do", extra={"item_id": upload.key.item_id})
            return
        settings = get_settings()
        started = time.perf_counter()
        try:
            if upload.size > settings.upload_max_bytes:
                raise ImageRejected("too_large", f"The image is over {settings.upload_max_bytes} bytes.")
            data = _read(upload, settings.upload_max_bytes)
            image = load_image(data, max_bytes=settings.upload_max_bytes, max_pixels=settings.max_image_pixels)
            result = processor(image)
        except ImageRejected as rejected:
            labels.finish_failed(item, rejected.code, rejected.message, claim_id)
            logger.info("image rejected", extra={"item_id": item.item_id, "error_code": rejected.code})
            metrics.add_metric(name=f"{upload.key.kind}_rejected", unit="Count", value=1)
            return
        except Exception:
            if last_try:
                labels.finish_failed(item, *GAVE_UP, claim_id)
            logger.exception("image job failed; SQS will retry", extra={"item_id": item.item_id, "last_try": last_try})
            raise
        labels.finish_done(item, claim_id, result.label, result.confidence, result.details)
        elapsed_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name=f"{upload.key.kind}_inference_ms", unit="Milliseconds", value=elapsed_ms)
        logger.info("image job done", extra={"item_id": item.item_id, "kind": upload.key.kind, "ms": round(elapsed_ms)})

    def _handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event, record_handler=self.handle_record, processor=self.batch, context=context
            )
        )


_dead_letters = BatchProcessor(event_type=EventType.SQS)


def _fail_dead_letter(record: SQSRecord) -> None:
    for upload in uploads_in(record):
        item = labels.get_item(upload.key.owner_id, upload.key.kind, upload.key.item_id)
        if item is not None and labels.finish_failed(item, *GAVE_UP):
            logger.warning("dead-lettered image job failed", extra={"item_id": item.item_id})


@logger.inject_lambda_context(clear_state=True)
def dead_letter_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """For every kind's dead-letter queue: messages that used up their tries leave their items
    `failed` (if nothing finished them). It needs no model, so it is its own small entry point:
    the image's command `assisti_common.image_jobs.dead_letter_handler`."""
    return dict(
        process_partial_response(
            event=event, record_handler=_fail_dead_letter, processor=_dead_letters, context=context
        )
    )


def _read(upload: Upload, max_bytes: int) -> bytes:
    try:
        return storage.read_object(upload.bucket, str(upload.key), max_bytes)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in {"NoSuchKey", "404"}:
            raise ImageRejected("image_missing", "The uploaded image is gone.") from exc
        if code == "InvalidRange":  # a zero-byte object has no byte 0
            raise ImageRejected("empty_upload", "The uploaded file is empty.") from exc
        raise
