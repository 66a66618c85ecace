"""Users and their unique handles. Uniqueness is enforced by transactions, never read-then-write."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from assisti_common.db import codes
from assisti_common.db.base import conditional_update, find, transact, transaction_connection
from assisti_common.db.models import USER_LISTING, AuthCodeModel, SessionModel, UserHandleModel, UserModel
from assisti_common.errors import UsernameTaken
from assisti_common.ids import new_id

_USERNAME_ALPHABET = string.ascii_lowercase + string.digits
_CREATE_TRIES = 5


class EmailTaken(Exception):
    """Sign-up met an existing account. Never shown to the client as such."""


def email_handle(email: str) -> str:
    return f"email:{email}"


def username_handle(username: str) -> str:
    return f"username:{username.lower()}"


def random_username() -> str:
    return "user_" + "".join(secrets.choice(_USERNAME_ALPHABET) for _ in range(6))


def create_unverified_user(email: str, name: str) -> UserModel:
    """Creates the user and claims its email and a random username, atomically."""
    for _ in range(_CREATE_TRIES):
        now = datetime.now(UTC)
        user = UserModel(
            id=new_id(),
            email=email,
            username=random_username(),
            name=name,
            date_joined=now,
            profile_created_at=now,
        )
        try:
            with TransactWrite(connection=transaction_connection()) as tx:
                tx.save(
                    UserHandleModel(email_handle(email), user_id=user.id),
                    condition=UserHandleModel.handle.does_not_exist(),
                )
                tx.save(
                    UserHandleModel(username_handle(user.username), user_id=user.id),
                    condition=UserHandleModel.handle.does_not_exist(),
                )
                tx.save(user, condition=UserModel.id.does_not_exist())
        except TransactWriteError as exc:
            # A cancelled transaction does not say which condition failed in a stable order
            # (PynamoDB regroups the items), so look at what now holds the handles.
            if _handle_owner(email_handle(email)) is not None:
                raise EmailTaken() from exc
            if _handle_owner(username_handle(user.username)) is not None:
                continue  # the random username collided: draw another
            raise
        return user
    raise RuntimeError("could not draw a free username")


def _handle_owner(handle: str) -> str | None:
    found = find(UserHandleModel, handle)
    return found.user_id if found is not None else None


def get_user(user_id: str) -> UserModel | None:
    try:
        return UserModel.get(user_id, consistent_read=True)
    except DoesNotExist:
        return None


def find_user_by_email(email: str) -> UserModel | None:
    try:
        handle = UserHandleModel.get(email_handle(email), consistent_read=True)
    except DoesNotExist:
        return None
    return get_user(handle.user_id)


def confirm_user(user: UserModel, password_hash: str, name: str | None, spending: AuthCodeModel) -> bool:
    """Confirms the user and uses up the code that proved the address, together. False when the user
    was confirmed or the code used meanwhile."""
    actions: list[Any] = [
        UserModel.is_verified.set(True),
        UserModel.is_active.set(True),
        UserModel.password_hash.set(password_hash),
    ]
    if name:
        actions.append(UserModel.name.set(name))

    def build(tx: TransactWrite) -> None:
        tx.update(user, actions=actions, condition=UserModel.is_verified == False)  # noqa: E712
        codes.consume_in(tx, spending)

    return transact(build)


def set_password(user: UserModel, password_hash: str, spending: AuthCodeModel | None = None) -> bool:
    """With `spending`, the reset code that allows it is used up in the same transaction. False when
    the user is gone or the code was used meanwhile."""
    condition = UserModel.id.exists()
    if spending is None:
        return conditional_update(user, [UserModel.password_hash.set(password_hash)], condition)

    def build(tx: TransactWrite) -> None:
        tx.update(user, actions=[UserModel.password_hash.set(password_hash)], condition=condition)
        codes.consume_in(tx, spending)

    return transact(build)


def set_flags(user: UserModel, **flags: bool) -> None:
    """Sets is_active, is_staff or two_factor_enabled."""
    columns = {
        "is_active": UserModel.is_active,
        "is_staff": UserModel.is_staff,
        "two_factor_enabled": UserModel.two_factor_enabled,
    }
    user.update(actions=[columns[name].set(value) for name, value in flags.items()], condition=UserModel.id.exists())


def update_profile(user: UserModel, *, name: str | None, bio: str | None, username: str | None) -> None:
    """Name and bio are plain sets; a new username moves its handle in the same transaction."""
    actions: list[Any] = []
    if name is not None:
        actions.append(UserModel.name.set(name))
    if bio is not None:
        actions.append(UserModel.bio.set(bio))
    if username is None or username_handle(username) == username_handle(user.username):
        if username is not None:
            actions.append(UserModel.username.set(username))
        if actions:
            user.update(actions=actions, condition=UserModel.id.exists())
        return
    actions.append(UserModel.username.set(username))
    old_handle = UserHandleModel(username_handle(user.username), user_id=user.id)
    try:
        with TransactWrite(connection=transaction_connection()) as tx:
            tx.save(
                UserHandleModel(username_handle(username), user_id=user.id),
                condition=UserHandleModel.handle.does_not_exist(),
            )
            tx.delete(old_handle, condition=UserHandleModel.user_id == user.id)
            tx.update(user, actions=actions, condition=UserModel.username == user.username)
    except TransactWriteError as exc:
        if _handle_owner(username_handle(username)) not in (None, user.id):
            raise UsernameTaken() from exc
        raise
    user.refresh(consistent_read=True)


def list_users(limit: int, start_key: dict[str, Any] | None) -> tuple[list[UserModel], dict[str, Any] | None]:
    page = UserModel.by_join.query(USER_LISTING, scan_index_forward=False, limit=limit, last_evaluated_key=start_key)
    users = list(page)
    return users, page.last_evaluated_key


def delete_user(user: UserModel, session_id: str) -> None:
    """The user row, its handles and the session deleting it, together: until this succeeds that
    session still works, so a failed deletion can be repeated."""
    with TransactWrite(connection=transaction_connection()) as tx:
        tx.delete(SessionModel(user.id, session_id))
        tx.delete(
            UserHandleModel(email_handle(user.email), user_id=user.id), condition=UserHandleModel.user_id == user.id
        )
        tx.delete(
            UserHandleModel(username_handle(user.username), user_id=user.id),
            condition=UserHandleModel.user_id == user.id,
        )
        tx.delete(user)
