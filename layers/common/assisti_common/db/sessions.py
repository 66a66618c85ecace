"""Signed-in sessions, keyed by (user_id, session_id): a user can address only their own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.transactions import TransactWrite

from assisti_common.db import codes
from assisti_common.db.base import conditional_update, find, transact
from assisti_common.db.models import AuthCodeModel, SessionModel, UserModel

ROTATED_HASHES_KEPT = 50


class NotCreated(Exception):
    """The user was deactivated (or deleted) before the session could be stored."""


@dataclass(frozen=True)
class NewSession:
    user_id: str
    session_id: str
    refresh_hash: str
    refresh_expires_at: int
    device: str
    ip: str | None


def create_session(new: NewSession, spending: AuthCodeModel | None = None) -> SessionModel:
    """Stores the session only while its user is active, in one transaction: a sign-in that races a
    deactivation either lands before it (and is revoked by it) or fails here, never survives it.
    `spending` is the challenge that let it start, used up in the same transaction. NotCreated when
    the user is not active or the challenge was used meanwhile."""
    now = datetime.now(UTC)
    session = SessionModel(
        new.user_id,
        new.session_id,
        created_at=now,
        authenticated_at=int(now.timestamp()),
        last_used_at=now,
        device=new.device,
        ip=new.ip,
        refresh_hash=new.refresh_hash,
        refresh_expires_at=new.refresh_expires_at,
        ttl=datetime.fromtimestamp(new.refresh_expires_at, UTC),
    )

    def build(tx: TransactWrite) -> None:
        tx.condition_check(UserModel, new.user_id, condition=UserModel.is_active == True)  # noqa: E712
        tx.save(session, condition=SessionModel.session_id.does_not_exist())
        if spending is not None:
            codes.consume_in(tx, spending)

    if not transact(build):
        raise NotCreated()
    return session


def get_session(user_id: str, session_id: str) -> SessionModel | None:
    return find(SessionModel, user_id, session_id)


def rotate_refresh(session: SessionModel, new_hash: str, new_expires_at: int, retry_until: int | None) -> bool:
    """Swaps in the new refresh hash only if the current one is still current. False when it lost a
    race. `retry_until`: the replaced token may be presented again until then, as a retry; None when
    this rotation is itself such a retry (the window stays that of the first)."""
    rotated = [*session.rotated_hashes, session.refresh_hash][-ROTATED_HASHES_KEPT:]
    retry = (
        [SessionModel.retry_hash.set(session.refresh_hash), SessionModel.retry_until.set(retry_until)]
        if retry_until is not None
        else []
    )
    return conditional_update(
        session,
        [
            *retry,
            SessionModel.refresh_hash.set(new_hash),
            SessionModel.rotated_hashes.set(rotated),
            SessionModel.refresh_expires_at.set(new_expires_at),
            SessionModel.last_used_at.set(datetime.now(UTC)),
            SessionModel.ttl.set(datetime.fromtimestamp(new_expires_at, UTC)),
        ],
        (SessionModel.refresh_hash == session.refresh_hash) & (SessionModel.revoked == False),  # noqa: E712
    )


def mark_authenticated(user_id: str, session_id: str, at: int) -> None:
    """The user proved who they are again on this device (re-authentication)."""
    conditional_update(
        SessionModel(user_id, session_id),
        [SessionModel.authenticated_at.set(at)],
        SessionModel.session_id.exists() & (SessionModel.revoked == False),  # noqa: E712
    )


def revoke_session(user_id: str, session_id: str) -> bool:
    """True if this call ended a live session; False if there was none, or it had already ended."""
    return conditional_update(
        SessionModel(user_id, session_id),
        [SessionModel.revoked.set(True)],
        SessionModel.session_id.exists() & (SessionModel.revoked == False),  # noqa: E712
    )


def user_sessions(user_id: str) -> Iterator[SessionModel]:
    return SessionModel.query(user_id, consistent_read=True)


def live_sessions(user_id: str, now: float) -> list[SessionModel]:
    """The signed-in devices: not revoked, refresh token not expired; newest first."""
    live = [s for s in user_sessions(user_id) if not s.revoked and s.refresh_expires_at > now]
    return sorted(live, key=lambda s: s.created_at, reverse=True)


def revoke_all_sessions(user_id: str, except_session_id: str | None = None) -> list[str]:
    """Ends every live session but `except_session_id`; the ids this call ended."""
    return [
        session.session_id
        for session in user_sessions(user_id)
        if not session.revoked
        and session.session_id != except_session_id
        and revoke_session(user_id, session.session_id)
    ]


def delete_all_sessions(user_id: str, except_session_id: str | None = None) -> None:
    with SessionModel.batch_write() as batch:
        for session in user_sessions(user_id):
            if session.session_id != except_session_id:
                batch.delete(session)
