"""The daily chat quota's error and its reset time (midnight UTC). Light on purpose: the route table
imports it to document the 429, without importing the service behind it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assisti_common.errors import TooManyRequests


def next_reset(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


class QuotaExceeded(TooManyRequests):
    """429 with when the quota resets (midnight UTC), as Retry-After and in the details."""

    code = "quota_exceeded"

    def __init__(self, message: str) -> None:
        resets_at = next_reset()
        super().__init__((resets_at - datetime.now(UTC)).total_seconds(), message)
        self.details["resets_at"] = resets_at.isoformat()
