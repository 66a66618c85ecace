"""Storage for one-time codes, the wrong-code budget and the wrong-password guard."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PutError

from assisti_common.db.base import conditional_update, find, is_condition_failure
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


def put_challenge(item: AuthCodeModel) -> None:
    """A new challenge replaces (voids) any earlier one for the same key, whatever its version."""
    item.save(add_version_condition=False)


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


def consume_code(item: AuthCodeModel) -> bool:
    """Marks the code used. Exactly one caller wins; False for everyone else."""
    return conditional_update(
        item,
        [AuthCodeModel.consumed.set(True)],
        (AuthCodeModel.code_hash == item.code_hash) & (AuthCodeModel.consumed == False),  # noqa: E712
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
