"""Per-user daily chat usage. Quotas are enforced by conditional updates, not read-then-write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from assisti_common.db.models import UsageModel

KEEP_DAYS = 8


@dataclass(frozen=True)
class Quota:
    """A user's daily limits."""

    messages: int
    tokens: int


def today(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d")


def get_usage(owner_id: str, day: str) -> UsageModel:
    try:
        return UsageModel.get(owner_id, day, consistent_read=True)
    except DoesNotExist:
        return UsageModel(owner_id, day)


def count(
    tx: TransactWrite, owner_id: str, day: str, *, messages: int = 0, tokens: int = 0, quota: Quota | None = None
) -> None:
    """Adds to the day's counters within `tx` (negative tokens give a reservation back). With a quota,
    whatever this adds must stay within it, or the whole transaction is refused: so the quota holds
    however many requests race, with no read before the write."""
    actions: list[Any] = [UsageModel.ttl.set(datetime.now(UTC) + timedelta(days=KEEP_DAYS))]
    condition: Any = None
    limits = (quota.messages, quota.tokens) if quota else (None, None)
    for attribute, amount, limit in zip(
        (UsageModel.messages, UsageModel.tokens), (messages, tokens), limits, strict=True
    ):
        if not amount:
            continue
        actions.append(attribute.add(amount))
        if limit is not None and amount > 0:  # giving back never needs room
            within = attribute <= limit - amount
            if amount <= limit:
                within |= attribute.does_not_exist()  # the day's first use
            condition = within if condition is None else condition & within
    tx.update(UsageModel(owner_id, day), actions=actions, condition=condition)


def purge_user_usage(owner_id: str) -> None:
    with UsageModel.batch_write() as batch:
        for item in UsageModel.query(owner_id):
            batch.delete(item)
