"""Throttling wrong passwords per address, so that online guessing is useless.

After `password_failures_free` failures, each further try waits twice as long as the last
(1 s, 2 s, 4 s …), capped at `password_lockout_max_seconds`. The cap bounds how long a stranger
can delay the owner, and only for password sign-in: emailed-code sign-in and password reset
are never blocked by it, and a successful sign-in or reset clears the count.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from assisti_auth.codes import address_id, password_guard_key
from assisti_auth.settings import AuthSettings as Settings
from assisti_common.db import codes as store
from assisti_common.errors import TooManyRequests
from assisti_common.keys import Keyring

FAILURE_MEMORY_SECONDS = 24 * 3600


def lockout_seconds(settings: Settings, failures: int) -> int:
    over = failures - settings.password_failures_free
    if over < 0:
        return 0
    return int(min(2**over, settings.password_lockout_max_seconds))


def ensure_password_attempt_allowed(keyring: Keyring, email: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    guard = store.get_password_guard(password_guard_key(address_id(keyring, email)))
    if guard.locked_until > now:
        raise TooManyRequests(
            guard.locked_until - now,
            "Too many wrong passwords. Wait, or sign in with an emailed code instead.",
        )


def record_password_failure(keyring: Keyring, settings: Settings, email: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    key = password_guard_key(address_id(keyring, email))
    for _ in range(3):  # concurrent failures: re-read and count again
        guard = store.get_password_guard(key)
        failures = int(guard.failures) + 1
        guard.failures = failures
        guard.locked_until = int(now) + lockout_seconds(settings, failures)
        guard.ttl = datetime.fromtimestamp(int(now) + FAILURE_MEMORY_SECONDS, UTC)
        try:
            store.save_password_guard(guard)
            return
        except store.LostRace:
            continue


def clear_password_failures(keyring: Keyring, email: str) -> None:
    store.delete_password_guard(password_guard_key(address_id(keyring, email)))
