"""Storage for one-time codes, the wrong-code budget and the wrong-password guard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.transactions import TransactWrite

from assisti_common.db.base import conditional_update, find, is_condition_failure, transact
from assisti_common.db.models import AuthCodeModel, CodeFailuresModel, PasswordGuardModel


class LostRace(Exception):
    """Another request changed the item first."""


def get_code(key: str) -> AuthCodeModel | None:
    return find(AuthCodeModel, key)


def save_code(item: AuthCodeModel) -> None:
    """Puts the item if nobody changed it since it was read (PynamoDB's version condition)."""
    try:
        item.save()
    except PutError as exc:
        if is_condition_failure(exc):
            raise LostRace() from exc
        raise


def put_challenge(item: AuthCodeModel, spending: AuthCodeModel) -> bool:
    """A new challenge replaces (voids) any earlier one for the same key, whatever its version, and
    uses up the code that led to it, together. False when that code was used meanwhile."""

    M = AuthCodeModel
    # An update, not a put: only an update may skip the version condition inside a transaction.
    replace: list[Any] = [
        M.user_id.set(item.user_id),
        M.code_hash.set(item.code_hash),
        M.session_hash.set(item.session_hash),
        M.expires_at.set(item.expires_at),
        M.attempts.set(0),
        M.consumed.set(False),
        M.sent_at.set([]),
        M.ttl.set(item.ttl),
        M.pending_password_hash.remove(),
        M.pending_name.remove(),
        M.proven_factor.remove(),
    ]

    def build(tx: TransactWrite) -> None:
        tx.update(AuthCodeModel(item.key), actions=replace, add_version_condition=False)
        consume_in(tx, spending)

    return transact(build)


def reserve_attempt(item: AuthCodeModel, max_attempts: int) -> bool:
    """Spends one try of this code before it is compared, atomically: of many guesses in flight at
    once, no more than `max_attempts` are ever compared. False when none is left (or it was used)."""
    return conditional_update(
        item,
        [AuthCodeModel.attempts.add(1)],
        (AuthCodeModel.code_hash == item.code_hash)
        & (AuthCodeModel.consumed == False)  # noqa: E712
        & (AuthCodeModel.attempts < max_attempts),
        versioned=False,  # concurrent guesses each take a try, up to the limit, rather than fail the version
    )


def consume_in(tx: TransactWrite, item: AuthCodeModel) -> None:
    """Marks the code used inside the transaction of the write it authorizes: the two happen together
    or not at all, so a write that fails leaves the code usable for a repeat. Of two requests with the
    same code, one wins. Not versioned: a concurrent wrong guess (which spends a try, bumping the
    version) must not refuse the right code."""
    tx.update(
        item,
        actions=[AuthCodeModel.consumed.set(True)],
        condition=(AuthCodeModel.code_hash == item.code_hash) & (AuthCodeModel.consumed == False),  # noqa: E712
        add_version_condition=False,
    )


def code_failures(key: str) -> CodeFailuresModel | None:
    return find(CodeFailuresModel, key)


def add_code_failure(key: str, window_ends: datetime) -> None:
    """One more wrong code, atomically; the first failure fixes when the window (and the item) ends."""
    CodeFailuresModel(key).update(
        actions=[
            CodeFailuresModel.failures.add(1),
            CodeFailuresModel.ttl.set(CodeFailuresModel.ttl | window_ends),
        ]
    )


def clear_code_failures(key: str) -> None:
    CodeFailuresModel(key).delete()


def delete_code(key: str) -> None:
    AuthCodeModel(key).delete(add_version_condition=False)


def get_password_guard(key: str) -> PasswordGuardModel:
    try:
        return PasswordGuardModel.get(key, consistent_read=True)
    except DoesNotExist:
        return PasswordGuardModel(key)


def save_password_guard(guard: PasswordGuardModel) -> None:
    try:
        guard.save()
    except PutError as exc:
        if is_condition_failure(exc):
            raise LostRace() from exc
        raise


def delete_password_guard(key: str) -> None:
    PasswordGuardModel(key).delete(add_version_condition=False)
