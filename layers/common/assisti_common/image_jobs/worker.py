"""The image-job worker, shared by every kind (OCR, animals, road signs).

S3 ObjectCreated -> SQS -> this handler (Powertools BatchProcessor, partial batch failure). For each
uploaded object: claim the item (a conditional write), read and check the upload's current version
again, run the kind's model, and write the result naming that version with a write only the claim
holder can make, once. The bucket is versioned, so the version read is the version the item's link
serves, whatever the presigned POST uploads after it: no copy is made. A permanent problem fails the
item at once; anything else is retried by SQS, and the last try fails the item before the message goes
to the dead-letter queue, whose handler (`dead_letters`) fails whatever is left, so no item stays
`processing` forever.

Each delivery deletes the version its event announced once the item no longer waits for it, unless the
item names it (`items.release`). A presigned POST can be used again until it expires, after the item is
done or deleted (or the account is): an upload whose item is gone or finished is deleted unread. A
delivery that lost its claim to another (a duplicate, or a second upload, took the item over) goes back
to the queue while the item is unfinished (but not on its last try): only once the item is settled
does it know whether the item names its version.

A batch makes as few requests as it can, because each costs the worker CPU (botocore and PynamoDB
building, signing and parsing it: about as much as a road-sign model's whole inference): the
batch's claims are one DynamoDB transaction, its results another, and what it deletes one S3
DeleteObjects. Only the read of each upload is one request per image. A write that a transaction cannot
make (throttled, or in conflict with another writer) is made on its own, so each record still gets its
own outcome.

The round trips overlap the model instead of queueing behind it: each upload is read and decoded on a
small thread pool, up to `lookahead` uploads ahead of the one the model is working on. The model itself
runs on the handler's thread, one image at a time, with the threads its session was given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
from assisti_common.observability import logger, metrics

A = TypeVar("A")
R = TypeVar("R")
IO_THREADS = 4  # at least this many claims, reads and writes in flight at once: round trips, not CPU


@dataclass(frozen=True)
class JobResult:
    label: str
    confidence: float | None
    result: Result  # the kind's typed result (kinds.KINDS[kind].result), stored on the item


Processor = Callable[[Image.Image], JobResult]


@dataclass(frozen=True)
class _Checked:
    version_id: str  # of the upload whose bytes passed the checks: what a done item names
    loaded: LoadedImage


@dataclass(eq=False)  # each job is itself: a key by identity
class _Job:
    """One upload of one SQS record, and its claim and image once they are under way."""

    message_id: str
    upload: Upload
    last_try: bool
    claimed: Future[ImageItemModel | None] | None = None
    image: Future[_Checked] | None = field(default=None, repr=False)
    reading: bool = False  # the read has started (`image` is dropped once the model is done with it)


@dataclass(frozen=True)
class _Settling:
    """What a job's turn decided: the write that settles its item (None: no item waits for the upload)."""

    job: _Job
    write: image_items.Write | None


class ImageJobWorker:
    """`lookahead`: how many uploads are read and decoded ahead of the one the model is on (their
    decoded images are held in memory meanwhile). `draft_side`: the shorter side the models need: JPEGs
    are decoded at a reduced scale, and larger images reduced once decoded, to no less (None: full
    resolution). `settle_as_done`: write each result as soon as its model is done, for a model slow
    enough that a user would wait for the rest of the batch (OCR); otherwise the batch's results are
    written together at its end, in fewer requests."""

    def __init__(
        self,
        processors: dict[Kind, Processor],
        lookahead: int = 1,
        draft_side: int | None = None,
        settle_as_done: bool = False,
    ) -> None:
        self.processors = processors
        self.lookahead = lookahead
        self.draft_side = draft_side
        self.settle_as_done = settle_as_done
        # A record that fails goes back to the queue, whether or not the batch's others did: the
        # invocation is not an error (no alarm for a retry; the messages that use up their tries do
        # alarm, in the dead-letter queue).
        self.batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        # Enough threads for each upload read ahead to be in flight at once, and as many claims besides
        # (made one by one when a transaction cannot make them).
        threads = max(IO_THREADS, 2 * (1 + lookahead))
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="image-io")
        self._decoding = threading.Lock()
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
        jobs = [job for job in jobs if self._known(job)]
        settling: list[_Settling] = []
        settled: list[Future[dict[_Job, Exception]]] = []
        try:
            for job in jobs[: 1 + self.lookahead]:
                self._start_reading(job)
            self._claim_together(jobs)  # while the first uploads are read
            for index, job in enumerate(jobs):
                for upcoming in jobs[index : index + 1 + self.lookahead]:
                    self._start_reading(upcoming)
                try:
                    entry = self._process(job)
                except Exception as exc:
                    failures.setdefault(job.message_id, exc)
                    continue
                finally:
                    job.image = None  # the decoded image is not kept past its turn
                if self.settle_as_done:
                    settled.append(self.pool.submit(self._settle, [entry]))
                else:
                    settling.append(entry)
            for outcome in [self._settle(settling), *(future.result() for future in settled)]:
                for job, failure in outcome.items():
                    failures.setdefault(job.message_id, failure)
        finally:
            wait(settled)  # no settle outlives the invocation
        return failures

    def _known(self, job: _Job) -> bool:
        if job.upload.key.kind in self.processors:
            return True
        logger.warning("no processor for this kind", extra={"kind": job.upload.key.kind})
        return False

    def _claim_together(self, jobs: list[_Job]) -> None:
        """Claims the items of a batch in one transaction; a job it cannot claim is claimed on its own.
        Every claim is settled (made, refused or failed) when it returns."""
        if len(jobs) > 1:
            claims = [
                image_items.Claim(job.upload.key.owner_id, job.upload.key.kind, job.upload.key.item_id, job.message_id)
                for job in jobs
            ]
            claimed = image_items.claim_together(claims)
            if claimed is not None:
                for job, item in zip(jobs, claimed, strict=True):
                    job.claimed = _known(item)
                return
        for job in jobs:
            key = job.upload.key
            job.claimed = self.pool.submit(
                image_items.claim_by_key, key.owner_id, key.kind, key.item_id, job.message_id
            )
        wait([job.claimed for job in jobs if job.claimed is not None])

    def _start_reading(self, job: _Job) -> None:
        """Reads and decodes the image on the pool, once."""
        if not job.reading:
            job.reading = True
            job.image = self.pool.submit(self._load, job.upload)

    def _load(self, upload: Upload) -> _Checked:
        settings = get_image_settings()
        if upload.size > settings.upload_max_bytes:
            raise ImageRejected("too_large", f"The image is over {settings.upload_max_bytes} bytes.")
        read = _read(upload, settings.upload_max_bytes)
        # One decode at a time: each may hold a full-size image (a 40 MP PNG is 160 MB decoded), and at
        # the template's sizes (one vCPU or less) two decodes take as long as one after the other.
        with self._decoding:
            loaded = load_image(
                read.data,
                max_bytes=settings.upload_max_bytes,
                max_pixels=settings.max_image_pixels,
                draft_side=self.draft_side,
            )
        return _Checked(read.version_id, loaded)

    def _process(self, job: _Job) -> _Settling:
        """Runs the model on one claimed upload; returns the write that settles its item."""
        key, claim_id = job.upload.key, job.message_id
        assert job.claimed is not None and job.image is not None, "claimed and read before its turn"
        kind = Kind(key.kind)
        item = job.claimed.result()
        if item is None:
            logger.info(
                "no item waits for this upload (deleted or finished): deleting it", extra={"item_id": key.item_id}
            )
            return _Settling(job, None)
        try:
            checked = job.image.result()
            started = time.perf_counter()
            outcome = self.processors[kind](checked.loaded.image)
            elapsed_ms = (time.perf_counter() - started) * 1000
            expected = KINDS[kind].result
            if type(outcome.result) is not expected:
                raise TypeError(
                    f"the {kind} processor returned {type(outcome.result).__name__}, not {expected.__name__}"
                )
        except ImageRejected as rejected:
            logger.info("image rejected", extra={"item_id": key.item_id, "error_code": rejected.code})
            metrics.add_metric(name=f"{kind}_rejected", unit="Count", value=1)
            failing = image_items.finishing_failed(item, rejected.code, rejected.message, claim_id)
            return _Settling(job, failing)
        except Exception:
            if job.last_try:
                settled = image_items.finish_failed(item, *GAVE_UP, claim_id)
                items.release(job.upload, item if settled else None)
            logger.exception(
                "image job failed; SQS will retry", extra={"item_id": key.item_id, "last_try": job.last_try}
            )
            raise
        metrics.add_metric(name=f"{kind}_inference_ms", unit="Milliseconds", value=elapsed_ms)
        logger.info("image job done", extra={"item_id": key.item_id, "kind": str(kind), "ms": round(elapsed_ms)})
        done = image_items.finishing_done(
            item,
            claim_id,
            outcome.label,
            outcome.confidence,
            outcome.result.model_dump(),
            str(key),
            checked.version_id,
            checked.loaded.content_type,
        )
        return _Settling(job, done)

    def _settle(self, settling: list[_Settling]) -> dict[_Job, Exception]:
        """Writes the outcomes, then deletes the uploads nothing waits for any more; returns the failure of
        each job that must be retried."""
        failures: dict[_Job, Exception] = {}
        writing = [(entry.job, entry.write) for entry in settling if entry.write is not None]
        made = self._write_all([write for _, write in writing])
        # Where this delivery's write was made, it knows how the item stands; otherwise it reads it.
        standing: dict[_Job, tuple[str | None, str | None]] = {}
        refused: set[_Job] = set()
        for (job, write), written in zip(writing, made, strict=True):
            if isinstance(written, Exception):
                failures[job] = _logged(written, "writing the outcome failed; SQS will retry", job)
            elif written:
                standing[job] = (write.status, write.image_version)
            else:
                refused.add(job)
        unknown = [entry.job for entry in settling if entry.job not in failures and entry.job not in standing]
        for job, read in zip(
            unknown, self._each(items.where_it_stands, [job.upload.key for job in unknown]), strict=True
        ):
            if isinstance(read, Exception):
                failures[job] = _logged(read, "reading the item failed; SQS will retry", job)
                continue
            standing[job] = read
            if job in refused and read[0] == image_items.PROCESSING and not job.last_try:
                # Another delivery took the claim over, and may label this delivery's version (it reads
                # the upload as it is then) or another. So this one is tried again, later, to delete its
                # version if the item does not name it: by then the item is settled, or this one takes
                # it over and labels the upload as it is then. A last try is acknowledged instead (its
                # version is left while the item lives): failed, it would reach the dead-letter handler,
                # which fails the item if it is still processing, even when the holder failed too and
                # its own retry would finish it.
                logger.info(
                    "another delivery holds this item; SQS will retry", extra={"item_id": job.upload.key.item_id}
                )
                failures[job] = ClaimTakenOver("another delivery took this item over before it was written")
        leftovers: dict[storage.StoredObject, list[_Job]] = {}
        for job, (status, image_version) in standing.items():
            for leftover in items.leftovers(job.upload.stored, status, image_version):
                leftovers.setdefault(leftover, []).append(job)
        if leftovers:
            try:
                undeleted = storage.delete_objects(list(leftovers))
                failure: Exception = RuntimeError("S3 did not delete a leftover upload")
            except Exception as exc:
                undeleted, failure = set(leftovers), exc
            for job in {job for key in undeleted for job in leftovers[key]}:
                failures.setdefault(job, _logged(failure, "deleting leftovers failed; SQS will retry", job))
        return failures

    def _write_all(self, writes: list[image_items.Write]) -> list[bool | Exception]:
        """Each write made (True), refused by its condition (False), or its error: together in one
        transaction when DynamoDB can take them so, else each on its own."""
        together = image_items.write_together(writes) if len(writes) > 1 else None
        return list(together) if together is not None else self._each(image_items.write, writes)

    def _each(self, function: Callable[[A], R], arguments: list[A]) -> list[R | Exception]:
        """`function` on each argument, its result or its error: on the pool when there are several (their
        round trips overlap), in line for one (a settle that runs on the pool must not wait for it)."""
        if len(arguments) == 1:
            futures = [_outcome_of(function, arguments[0])]
        else:
            futures = [self.pool.submit(function, argument) for argument in arguments]
        results: list[R | Exception] = []
        for future in futures:
            try:
                results.append(future.result())
            except Exception as exc:
                results.append(exc)
        return results

    def _handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = self.run_batch([SQSRecord(raw) for raw in event.get("Records", [])])

        def settle(record: SQSRecord) -> None:  # Powertools builds the partial batch response from these
            failure = failures.get(record.message_id)
            if failure is not None:
                raise failure

        return dict(process_partial_response(event=event, record_handler=settle, processor=self.batch, context=context))


def _known(value: R) -> Future[R]:
    known: Future[R] = Future()
    known.set_result(value)
    return known


def _outcome_of(function: Callable[[A], R], argument: A) -> Future[R]:
    """`function(argument)`, called now, as a done future (its result or its error)."""
    outcome: Future[R] = Future()
    try:
        outcome.set_result(function(argument))
    except Exception as exc:
        outcome.set_exception(exc)
    return outcome


def _logged(exc: Exception, message: str, job: _Job) -> Exception:
    logger.error(message, exc_info=exc, extra={"item_id": job.upload.key.item_id})
    return exc


class ClaimTakenOver(Exception):
    """This delivery's write was refused because another delivery holds the item's claim now, and the
    item is not finished yet: the message is tried again, not acknowledged."""


IMAGE_MISSING = ("image_missing", "The uploaded image is gone.")

# S3's codes for an object that is not there (404: the same answer without a body, as to a HEAD).
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404"})


def _s3_code(exc: ClientError) -> str | None:
    code: str | None = exc.response.get("Error", {}).get("Code")
    return code


def _read(upload: Upload, max_bytes: int) -> storage.ReadObject:
    """The upload's bytes: its key's current version, which may be newer than the event's."""
    try:
        return storage.read_object(upload.bucket, str(upload.key), max_bytes)
    except ClientError as exc:
        code = _s3_code(exc)
        if code in MISSING_OBJECT_CODES:
            raise ImageRejected(*IMAGE_MISSING) from exc
        if code == "InvalidRange":  # a zero-byte object has no byte 0
            raise ImageRejected("empty_upload", "The uploaded file is empty.") from exc
        raise
