"""Signed-in sessions, keyed by (user_id, session_id): a user can address only their own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from assisti_common.db.base import conditional_update, find
from assisti_common.db.models import SessionModel

ROTATED_HASHES_KEPT = 50


def create_session(user_id: str, session_id: str, refresh_hash: str, refresh_expires_at: int) -> SessionModel:
    session = SessionModel(
        user_id,
        session_id,
        created_at=datetime.now(UTC),
        refresh_hash=refresh_hash,
        refresh_expires_at=refresh_expires_at,
        ttl=datetime.fromtimestamp(refresh_expires_at, UTC),
    )
    session.save(condition=SessionModel.session_id.does_not_exist())
    return session


def get_session(user_id: str, session_id: str) -> SessionModel | None:
    return find(SessionModel, user_id, session_id)


def rotate_refresh(session: SessionModel, new_hash: str, new_expires_at: int) -> bool:
    """Swaps in the new refresh hash only if the old one is still current. False when it lost a race."""
    rotated = [*session.rotated_hashes, session.refresh_hash][-ROTATED_HASHES_KEPT:]
    return conditional_update(
        session,
        [
            SessionModel.refresh_hash.set(new_hash),
            SessionModel.rotated_hashes.set(rotated),
            SessionModel.refresh_expires_at.set(new_expires_at),
            SessionModel.ttl.set(datetime.fromtimestamp(new_expires_at, UTC)),
        ],
        (SessionModel.refresh_hash == session.refresh_hash) & (SessionModel.revoked == False),  # noqa: E712
    )


def revoke_session(user_id: str, session_id: str) -> None:
    conditional_update(
        SessionModel(user_id, session_id), [SessionModel.revoked.set(True)], SessionModel.session_id.exists()
    )


def user_sessions(user_id: str) -> Iterator[SessionModel]:
    return SessionModel.query(user_id, consistent_read=True)


def revoke_all_sessions(user_id: str, except_session_id: str | None = None) -> int:
    count = 0
    for session in user_sessions(user_id):
        if not session.revoked and session.session_id != except_session_id:
            revoke_session(user_id, session.session_id)
            count += 1
    return count


def delete_all_sessions(user_id: str) -> None:
    with SessionModel.batch_write() as batch:
        for session in user_sessions(user_id):
            batch.delete(session)
