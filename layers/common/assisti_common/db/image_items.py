"""Image items (image jobs and their results). Every key starts with the owner; every transition is conditional,
so a duplicate or late event never writes a label twice, never moves an item backwards, and never
touches a deleted item."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from assisti_common.db.base import (
    cancellation_codes,
    conditional_update,
    find,
    is_condition_failure,
    transaction_connection,
)
from assisti_common.db.models import ImageItemModel
from assisti_common.ids import new_id

AWAITING_UPLOAD, PROCESSING, DONE, FAILED = "awaiting_upload", "processing", "done", "failed"
TERMINAL = (DONE, FAILED)
TRANSACTION_ITEMS = 100  # DynamoDB's limit on the writes in one transaction


def partition_key(owner_id: str, kind: str) -> str:
    return f"{owner_id}#{kind}"


def create_item(owner_id: str, kind: str, title: str) -> ImageItemModel:
    now = datetime.now(UTC)
    item = ImageItemModel(
        partition_key(owner_id, kind),
        new_id(),
        owner_id=owner_id,
        kind=kind,
        title=title,
        status=AWAITING_UPLOAD,
        created_at=now,
        updated_at=now,
    )
    item.save(condition=ImageItemModel.item_id.does_not_exist())
    return item


def get_item(owner_id: str, kind: str, item_id: str) -> ImageItemModel | None:
    return find(ImageItemModel, partition_key(owner_id, kind), item_id)


def get_items(keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], ImageItemModel]:
    """The items of `keys` (owner_id, kind, item_id) that exist, read consistently, a hundred a request
    (BatchGetItem; PynamoDB asks again for any DynamoDB left unprocessed)."""
    wanted = {(partition_key(owner_id, kind), item_id) for owner_id, kind, item_id in keys}
    found = ImageItemModel.batch_get(wanted, consistent_read=True)
    return {(item.owner_id, item.kind, item.item_id): item for item in found}


def list_items(
    owner_id: str, kind: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[ImageItemModel], dict[str, Any] | None]:
    page = ImageItemModel.query(
        partition_key(owner_id, kind), scan_index_forward=False, limit=limit, last_evaluated_key=start_key
    )
    return list(page), page.last_evaluated_key


def rename(item: ImageItemModel, title: str) -> bool:
    actions = [ImageItemModel.title.set(title), ImageItemModel.updated_at.set(datetime.now(UTC))]
    return conditional_update(item, actions, ImageItemModel.item_id.exists())


def delete_item(item: ImageItemModel) -> bool:
    """Deletes the item if it still names the image it named when read: False if a worker has finished it
    since (naming a version uploaded since, to delete first), or it is gone."""
    kept = (
        ImageItemModel.image_version == item.image_version
        if item.image_version
        else ImageItemModel.image_version.does_not_exist()
    )
    try:
        ImageItemModel(item.partition, item.item_id).delete(condition=ImageItemModel.item_id.exists() & kept)
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True


def claim_by_key(owner_id: str, kind: str, item_id: str, claim_id: str) -> ImageItemModel | None:
    """claim() in one write, without reading the item first: the update returns the claimed item
    (PynamoDB asks for ALL_NEW). None for a missing, done, failed or deleted item."""
    item = ImageItemModel(partition_key(owner_id, kind), item_id)
    return item if claim(item, claim_id) else None


def claim(item: ImageItemModel, claim_id: str) -> bool:
    """awaiting_upload -> processing, or takes over a processing item whose worker died (its message
    came back). False for done, failed or deleted items: the event is then a no-op."""
    return write(_claiming(item, claim_id))


@dataclass(frozen=True)
class Claim:
    """A delivery (`claim_id`) asking for the item its upload names."""

    owner_id: str
    kind: str
    item_id: str
    claim_id: str


def claim_together(claims: Sequence[Claim]) -> list[ImageItemModel | None] | None:
    """claim_by_key for every claim in one transaction instead of one write each (a batch of uploads):
    the claimed items (as the claim left them: processing, held by the claim), None where the item is
    missing, done or failed. Returns None when the claims must be made one by one instead: an item
    asked for twice, a conflict with another writer, throttling."""
    items = [
        ImageItemModel(
            partition_key(claim.owner_id, claim.kind),
            claim.item_id,
            owner_id=claim.owner_id,
            kind=claim.kind,
            status=PROCESSING,
            claim=claim.claim_id,
        )
        for claim in claims
    ]
    written = write_together([_claiming(item, claim.claim_id) for item, claim in zip(items, claims, strict=True)])
    if written is None:
        return None
    return [item if claimed else None for item, claimed in zip(items, written, strict=True)]


@dataclass(frozen=True)
class Write:
    """One conditional update of an item, ready to make alone (`write`) or in a transaction with
    others (`write_together`). `status` and `image_version`: what the item holds once it is made."""

    item: ImageItemModel
    actions: list[Any]
    condition: Any
    status: str
    image_version: str | None = None


def _claiming(item: ImageItemModel, claim_id: str) -> Write:
    return _write(
        item,
        [ImageItemModel.status.set(PROCESSING), ImageItemModel.claim.set(claim_id)],
        ImageItemModel.status.is_in(AWAITING_UPLOAD, PROCESSING),
        PROCESSING,
    )


def finishing_done(
    item: ImageItemModel,
    claim_id: str,
    label: str,
    confidence: float | None,
    result: dict[str, Any],
    image_key: str,
    image_version: str,
    image_type: str,
) -> Write:
    """processing -> done, with the version of the upload the label was read from and the type found in
    its bytes, only for the delivery that holds the claim (once: a duplicate delivery of the same
    message, holding the same claim, finds it done)."""
    return _write(
        item,
        [
            ImageItemModel.status.set(DONE),
            ImageItemModel.image_key.set(image_key),
            ImageItemModel.image_version.set(image_version),
            ImageItemModel.image_type.set(image_type),
            ImageItemModel.label.set(label),
            ImageItemModel.confidence.set(confidence) if confidence is not None else ImageItemModel.confidence.remove(),
            ImageItemModel.result.set(result),
            ImageItemModel.error_code.remove(),
            ImageItemModel.error_message.remove(),
        ],
        (ImageItemModel.status == PROCESSING) & (ImageItemModel.claim == claim_id),
        DONE,
        image_version,
    )


def finishing_failed(
    item: ImageItemModel, code: str, message: str, claim_id: str | None = None, *, stuck_before: datetime | None = None
) -> Write:
    """-> failed, from any state but done/failed (and, with claim_id, only for its holder; with
    stuck_before, only from processing and if nothing has claimed, renamed or written it since)."""
    condition = ImageItemModel.status.is_in(AWAITING_UPLOAD, PROCESSING)
    if claim_id is not None:
        condition = condition & (ImageItemModel.claim == claim_id)
    if stuck_before is not None:
        condition = condition & (ImageItemModel.status == PROCESSING) & (ImageItemModel.updated_at < stuck_before)
    return _write(
        item,
        [
            ImageItemModel.status.set(FAILED),
            ImageItemModel.error_code.set(code),
            ImageItemModel.error_message.set(message),
        ],
        condition,
        FAILED,
    )


def finish_failed(
    item: ImageItemModel, code: str, message: str, claim_id: str | None = None, *, stuck_before: datetime | None = None
) -> bool:
    return write(finishing_failed(item, code, message, claim_id, stuck_before=stuck_before))


def write(change: Write) -> bool:
    """Makes one write: True when made (the item is refreshed: PynamoDB asks for ALL_NEW), False when
    its condition failed."""
    return conditional_update(change.item, change.actions, change.condition)


def write_together(changes: Sequence[Write]) -> list[bool] | None:
    """Makes `changes` in as few transactions as DynamoDB allows (one, for a batch of uploads) instead of
    one request each: True for each write made, False for each whose condition failed. A transaction
    is all or nothing, so the writes whose conditions failed are dropped and the rest tried again.
    None when the writes must be made one by one instead: an item twice, a conflict, throttling.
    (Items are not refreshed: a transaction returns nothing; `Write.status` says what each now holds.)"""
    if len({(change.item.partition, change.item.item_id) for change in changes}) < len(changes):
        return None  # DynamoDB refuses two writes to one item in a transaction
    made: dict[int, bool] = {}
    for start in range(0, len(changes), TRANSACTION_ITEMS):
        pending = list(range(start, min(start + TRANSACTION_ITEMS, len(changes))))
        while pending:
            failed = _transaction(changes, pending)
            if failed is None:
                return None
            if not failed:
                made.update(dict.fromkeys(pending, True))
                break
            made.update(dict.fromkeys(failed, False))
            pending = [index for index in pending if index not in failed]
    return [made[index] for index in range(len(changes))]


def _transaction(changes: Sequence[Write], indexes: list[int]) -> set[int] | None:
    """One transaction of the writes at `indexes`: the set of those whose condition failed (nothing was
    written if it is not empty), or None if it was cancelled for any other reason."""
    try:
        with TransactWrite(connection=transaction_connection()) as tx:
            for index in indexes:
                change = changes[index]
                tx.update(change.item, actions=change.actions, condition=change.condition)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        failed = {index for index, code in zip(indexes, codes, strict=False) if code == "ConditionalCheckFailed"}
        if len(codes) != len(indexes) or not failed or not set(codes) <= {"ConditionalCheckFailed", None}:
            return None
        return failed
    except PynamoDBException:
        return None  # throttled, or the transaction could not be sent: each write is tried alone
    return set()


def _write(
    item: ImageItemModel, actions: list[Any], condition: Any, status: str, image_version: str | None = None
) -> Write:
    actions = [*actions, ImageItemModel.updated_at.set(datetime.now(UTC))]
    return Write(item, actions, condition & ImageItemModel.item_id.exists(), status, image_version)


def all_items(owner_id: str, kind: str) -> Iterator[ImageItemModel]:
    """Every item of one kind of one user (one Query, paged by PynamoDB), for deleting an account."""
    return ImageItemModel.query(partition_key(owner_id, kind))
