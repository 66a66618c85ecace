"""The image-job worker, shared by every kind (OCR, animals, road signs).

S3 ObjectCreated -> SQS -> this handler (Powertools BatchProcessor, partial batch failure). For each
uploaded object: claim the item (a conditional write), read and check the image again, run the kind's
model, keep a copy of the checked bytes, and write the result naming that copy with a write only the
claim holder can make. A permanent problem fails the item at once; anything else is retried by SQS,
and the last try fails the item before the message goes to the dead-letter queue, whose handler
(`dead_letters`) fails whatever is left, so no item stays `processing` forever.

An uploaded object lives only while its item waits for it (`items.release`). A presigned POST can be
used again until it expires, after the item is done or deleted (or the account is): an upload whose
item is gone or finished is deleted unread, and the delivery that settles an item deletes its upload.
A delivery that lost its claim to another (a duplicate, or a second upload, took the item over) leaves
the upload to that delivery, which is reading it.

The round trips overlap the model instead of queueing behind it. For each upload the claim (DynamoDB)
and the read and decode (S3, Pillow) run at the same time on a small thread pool, up to `lookahead`
uploads ahead of the one the model is working on; each result is written on the pool while the model
goes on to the next upload, and the batch answers once every write has landed. The model itself runs
on the handler's thread, one image at a time, with the threads its session was given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from PIL import Image

from assisti_common.db import image_items
from assisti_common.db.models import ImageItemModel
from assisti_common.image_jobs import items, storage
from assisti_common.image_jobs.dead_letters import GAVE_UP
from assisti_common.image_jobs.events import Upload, uploads_in
from assisti_common.image_jobs.images import ImageRejected, LoadedImage, load_image
from assisti_common.image_jobs.kinds import KINDS, Kind, Result
from assisti_common.image_jobs.settings import get_image_settings
from assisti_common.image_jobs.storage import ImageKey
from assisti_common.observability import logger, metrics

IO_THREADS = 4  # claims, reads and writes in flight at once: round trips, not CPU


@dataclass(frozen=True)
class JobResult:
    label: str
    confidence: float | None
    result: Result  # the kind's typed result (kinds.KINDS[kind].result), stored on the item


Processor = Callable[[Image.Image], JobResult]


@dataclass(frozen=True)
class _Checked:
    data: bytes  # the bytes that passed the checks: what a done item keeps
    loaded: LoadedImage


@dataclass
class _Job:
    """One upload of one SQS record, and its claim and image once they are under way."""

    message_id: str
    upload: Upload
    last_try: bool
    claimed: Future[ImageItemModel | None] | None = None
    image: Future[_Checked] | None = field(default=None, repr=False)


class ImageJobWorker:
    """`lookahead`: how many uploads are claimed, read and decoded ahead of the one the model is on (their
    decoded images are held in memory meanwhile). `draft_side`: decode JPEGs at a reduced scale that
    keeps both sides at least this long (None: full resolution)."""

    def __init__(self, processors: dict[Kind, Processor], lookahead: int = 1, draft_side: int | None = None) -> None:
        self.processors = processors
        self.lookahead = lookahead
        self.draft_side = draft_side
        self.batch = BatchProcessor(event_type=EventType.SQS)
        self.pool = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="image-io")
        # The Lambda entry point, wrapped once per container.
        self.lambda_handler = logger.inject_lambda_context(clear_state=True)(metrics.log_metrics(self._handle))

    def run_batch(self, records: list[SQSRecord]) -> dict[str, Exception]:
        """Processes every upload of `records`; returns the failure of each record that must be retried."""
        failures: dict[str, Exception] = {}
        jobs: list[_Job] = []
        max_receives = get_image_settings().worker_max_receives
        for record in records:
            try:
                last_try = int(record.attributes.approximate_receive_count or 1) >= max_receives
                jobs += [_Job(record.message_id, upload, last_try) for upload in uploads_in(record)]
            except Exception as exc:
                logger.exception("unreadable SQS record; SQS will retry", extra={"message_id": record.message_id})
                failures[record.message_id] = exc
        writes: list[tuple[_Job, Future[None]]] = []
        for index, job in enumerate(jobs):
            for upcoming in jobs[index : index + 1 + self.lookahead]:
                self._start(upcoming)
            try:
                write = self._process(job)
            except Exception as exc:
                failures.setdefault(job.message_id, exc)
                continue
            finally:
                job.image = None  # the decoded image is not kept past its turn
            if write is not None:
                writes.append((job, write))
        for job, write in writes:
            try:
                write.result()
            except Exception as exc:
                logger.exception(
                    "writing the outcome failed; SQS will retry", extra={"item_id": job.upload.key.item_id}
                )
                failures.setdefault(job.message_id, exc)
        return failures

    def _start(self, job: _Job) -> None:
        """Claims the item and reads and decodes the image, at the same time, on the pool."""
        if job.claimed is not None or job.upload.key.kind not in self.processors:
            return
        key = job.upload.key
        job.claimed = self.pool.submit(image_items.claim_by_key, key.owner_id, key.kind, key.item_id, job.message_id)
        job.image = self.pool.submit(self._load, job.upload)

    def _load(self, upload: Upload) -> _Checked:
        settings = get_image_settings()
        if upload.size > settings.upload_max_bytes:
            raise ImageRejected("too_large", f"The image is over {settings.upload_max_bytes} bytes.")
        data = _read(upload, settings.upload_max_bytes)
        loaded = load_image(
            data, max_bytes=settings.upload_max_bytes, max_pixels=settings.max_image_pixels, draft_side=self.draft_side
        )
        return _Checked(data, loaded)

    def _process(self, job: _Job) -> Future[None] | None:
        """Runs the model on one claimed upload; returns the write of its outcome, under way on the pool."""
        key, claim_id = job.upload.key, job.message_id
        processor = self.processors.get(key.kind)  # type: ignore[call-overload]  # Kind is a StrEnum
        if processor is None or job.claimed is None or job.image is None:
            logger.warning("no processor for this kind", extra={"kind": key.kind})
            return None
        kind = Kind(key.kind)
        item = job.claimed.result()
        if item is None:
            logger.info(
                "no item waits for this upload (deleted or finished): deleting it", extra={"item_id": key.item_id}
            )
            return self.pool.submit(items.release, key, claim_id)
        try:
            checked = job.image.result()
            started = time.perf_counter()
            outcome = processor(checked.loaded.image)
            elapsed_ms = (time.perf_counter() - started) * 1000
            expected = KINDS[kind].result
            if type(outcome.result) is not expected:
                raise TypeError(
                    f"the {kind} processor returned {type(outcome.result).__name__}, not {expected.__name__}"
                )
        except ImageRejected as rejected:
            logger.info("image rejected", extra={"item_id": item.item_id, "error_code": rejected.code})
            metrics.add_metric(name=f"{kind}_rejected", unit="Count", value=1)
            return self.pool.submit(_finish_failed, item, key, claim_id, rejected.code, rejected.message)
        except Exception:
            if job.last_try:
                _finish_failed(item, key, claim_id, *GAVE_UP)
            logger.exception(
                "image job failed; SQS will retry", extra={"item_id": item.item_id, "last_try": job.last_try}
            )
            raise
        metrics.add_metric(name=f"{kind}_inference_ms", unit="Milliseconds", value=elapsed_ms)
        logger.info("image job done", extra={"item_id": item.item_id, "kind": str(kind), "ms": round(elapsed_ms)})
        return self.pool.submit(_finish_done, item, key, claim_id, outcome, checked.data, checked.loaded.content_type)

    def _handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = self.run_batch([SQSRecord(raw) for raw in event.get("Records", [])])

        def settle(record: SQSRecord) -> None:  # Powertools builds the partial batch response from these
            failure = failures.get(record.message_id)
            if failure is not None:
                raise failure

        return dict(process_partial_response(event=event, record_handler=settle, processor=self.batch, context=context))


def _finish_done(
    item: ImageItemModel, key: ImageKey, claim_id: str, outcome: JobResult, data: bytes, content_type: str
) -> None:
    """Keeps the checked bytes under the claim's own key, then writes the label naming them. (A copy is
    kept, not the upload: the presigned POST could replace that with unchecked bytes.)"""
    kept = key.kept(claim_id)
    storage.put_object(kept, data, content_type)
    result = outcome.result.model_dump()
    settled = image_items.finish_done(item, claim_id, outcome.label, outcome.confidence, result, kept)
    items.release(key, claim_id, item if settled else None)  # the write left `item` as it now stands


def _finish_failed(item: ImageItemModel, key: ImageKey, claim_id: str, code: str, message: str) -> None:
    settled = image_items.finish_failed(item, code, message, claim_id)
    items.release(key, claim_id, item if settled else None)


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
