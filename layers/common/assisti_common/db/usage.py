"""Per-user daily chat usage. Quotas are enforced by conditional updates, not read-then-write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from assisti_common.db.base import conditional_update
from assisti_common.db.models import UsageModel

KEEP_DAYS = 8


def today(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d")


def get_usage(owner_id: str, day: str) -> UsageModel:
    try:
        return UsageModel.get(owner_id, day, consistent_read=True)
    except DoesNotExist:
        return UsageModel(owner_id, day)


def reserve_message(owner_id: str, day: str, max_messages: int, max_tokens: int) -> bool:
    """Counts one more message if the user is under both daily quotas. False when over either."""
    item = UsageModel(owner_id, day)
    return conditional_update(
        item,
        [UsageModel.messages.add(1), UsageModel.ttl.set(datetime.now(UTC) + timedelta(days=KEEP_DAYS))],
        (UsageModel.messages.does_not_exist() | (UsageModel.messages < max_messages))
        & (UsageModel.tokens.does_not_exist() | (UsageModel.tokens < max_tokens)),
    )


def add_tokens(owner_id: str, day: str, tokens: int) -> None:
    if tokens > 0:
        UsageModel(owner_id, day).update(actions=[UsageModel.tokens.add(tokens)])


def purge_user_usage(owner_id: str) -> None:
    with UsageModel.batch_write() as batch:
        for item in UsageModel.query(owner_id):
            batch.delete(item)
