"""Deleting an account: the one list of everything a user owns, per capability.

A capability that stores per-user data adds its purger here (a function of the user that
deletes that data, idempotently). `DELETE /me` runs them all before the user row goes, so a
failure part-way leaves the account in place and the call can simply be repeated. The sessions
are not data to purge first: they go with the user row (service.delete_account), since the call
can only be repeated while its own session lives.
"""

from __future__ import annotations

from collections.abc import Callable

from assisti_common.db import chat, usage
from assisti_common.db.models import UserModel
from assisti_common.image_jobs import items as image_items

UserDataPurger = Callable[[UserModel], None]

USER_DATA_PURGERS: tuple[tuple[str, UserDataPurger], ...] = (
    ("chat categories and messages", lambda user: chat.purge_user_chat(user.id)),
    ("chat usage", lambda user: usage.purge_user_usage(user.id)),
    ("image items and their uploads", lambda user: image_items.purge_user_items(user.id)),
)


def purge_user_data(user: UserModel) -> None:
    for _name, purger in USER_DATA_PURGERS:
        purger(user)
