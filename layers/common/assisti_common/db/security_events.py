"""The audit trail: one user's security events, newest first. Only the user's own partition is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from assisti_common.db.models import SecurityEventModel
from assisti_common.ids import new_id


def record(
    user_id: str,
    event_type: str,
    *,
    retention_days: int,
    method: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    session_id: str | None = None,
    actor_id: str | None = None,
) -> SecurityEventModel:
    now = datetime.now(UTC)
    event = SecurityEventModel(
        user_id,
        new_id(),
        type=event_type,
        method=method,
        occurred_at=now,
        ip=ip,
        user_agent=user_agent,
        session_id=session_id,
        actor_id=actor_id,
        ttl=now + timedelta(days=retention_days),
    )
    event.save()
    return event


def list_events(
    user_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[SecurityEventModel], dict[str, Any] | None]:
    page = SecurityEventModel.query(
        user_id, scan_index_forward=False, limit=limit, last_evaluated_key=start_key, consistent_read=True
    )
    events = list(page)
    return events, page.last_evaluated_key
