"""Storage for one-time codes and the wrong-password guard. Writes are version-conditional."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError

from assisti_common.db.base import conditional_update, find, is_condition_failure
from assisti_common.db.models import AuthCodeModel, PasswordGuardModel


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


def count_wrong_attempt(item: AuthCodeModel) -> None:
    # Losing a race is fine: the other writer's change stands, and the guess still failed.
    conditional_update(item, [AuthCodeModel.attempts.add(1)], AuthCodeModel.code_hash == item.code_hash)


def consume_code(item: AuthCodeModel, max_attempts: int) -> bool:
    """Marks the code used. Exactly one caller wins; False for everyone else."""
    return conditional_update(
        item,
        [AuthCodeModel.consumed.set(True)],
        (AuthCodeModel.code_hash == item.code_hash)
        & (AuthCodeModel.consumed == False)  # noqa: E712
        & (AuthCodeModel.attempts < max_attempts),
    )


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
