"""The image-job worker, shared by every kind (OCR, animals, road signs).

S3 ObjectCreated -> SQS -> this handler (Powertools BatchProcessor, partial batch failure). For each
uploaded object: claim the item (a conditional write; duplicates, late events and deleted items
are no-ops), read and check the image again, run the kind's model, and write the result with a
write only the claim holder can make. A permanent problem fails the item at once; anything else
is retried by SQS, and the last try fails the item before the message goes to the dead-letter
queue, whose handler (`dead_letters`) fails whatever is left, so no item stays `processing` forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from PIL import Image

from assisti_common.db import image_items
from assisti_common.image_jobs import storage
from assisti_common.image_jobs.dead_letters import GAVE_UP
from assisti_common.image_jobs.events import Upload, uploads_in
from assisti_common.image_jobs.images import ImageRejected, load_image
from assisti_common.image_jobs.kinds import KINDS, Kind, Result
from assisti_common.image_jobs.settings import get_image_settings
from assisti_common.observability import logger, metrics


@dataclass(frozen=True)
class JobResult:
    label: str
    confidence: float | None
    result: Result  # the kind's typed result (kinds.KINDS[kind].result), stored on the item


Processor = Callable[[Image.Image], JobResult]


class ImageJobWorker:
    def __init__(self, processors: dict[Kind, Processor]) -> None:
        self.processors = processors
        self.batch = BatchProcessor(event_type=EventType.SQS)
        # The Lambda entry point, wrapped once per container.
        self.lambda_handler = logger.inject_lambda_context(clear_state=True)(metrics.log_metrics(self._handle))

    def handle_record(self, record: SQSRecord) -> None:
        receives = int(record.attributes.approximate_receive_count or 1)
        last_try = receives >= get_image_settings().worker_max_receives
        for upload in uploads_in(record):
            self.process(upload, claim_id=record.message_id, last_try=last_try)

    def process(self, upload: Upload, claim_id: str, last_try: bool) -> None:
        processor = self.processors.get(upload.key.kind)  # type: ignore[call-overload]  # Kind is a StrEnum
        if processor is None:
            logger.warning("no processor for this kind", extra={"kind": upload.key.kind})
            return
        kind = Kind(upload.key.kind)
        item = image_items.claim_by_key(upload.key.owner_id, kind, upload.key.item_id, claim_id)
        if item is None:
            logger.info("duplicate, late or deleted: nothing to do", extra={"item_id": upload.key.item_id})
            return
        settings = get_image_settings()
        started = time.perf_counter()
        try:
            if upload.size > settings.upload_max_bytes:
                raise ImageRejected("too_large", f"The image is over {settings.upload_max_bytes} bytes.")
            data = _read(upload, settings.upload_max_bytes)
            image = load_image(data, max_bytes=settings.upload_max_bytes, max_pixels=settings.max_image_pixels)
            outcome = processor(image)
            expected = KINDS[kind].result
            if type(outcome.result) is not expected:
                raise TypeError(
                    f"the {kind} processor returned {type(outcome.result).__name__}, not {expected.__name__}"
                )
        except ImageRejected as rejected:
            image_items.finish_failed(item, rejected.code, rejected.message, claim_id)
            logger.info("image rejected", extra={"item_id": item.item_id, "error_code": rejected.code})
            metrics.add_metric(name=f"{kind}_rejected", unit="Count", value=1)
            return
        except Exception:
            if last_try:
                image_items.finish_failed(item, *GAVE_UP, claim_id)
            logger.exception("image job failed; SQS will retry", extra={"item_id": item.item_id, "last_try": last_try})
            raise
        image_items.finish_done(item, claim_id, outcome.label, outcome.confidence, outcome.result.model_dump())
        elapsed_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name=f"{kind}_inference_ms", unit="Milliseconds", value=elapsed_ms)
        logger.info("image job done", extra={"item_id": item.item_id, "kind": str(kind), "ms": round(elapsed_ms)})

    def _handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event, record_handler=self.handle_record, processor=self.batch, context=context
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
