"""Throttling wrong passwords per address, so that online guessing is useless.

Every attempt is counted before the password is verified (`reserve_password_attempt`), so
parallel guesses cannot slip past the count. After `password_failures_free` failures, each
further try waits twice as long as the last
(2 s, 4 s, 8 s …), capped at `password_lockout_max_seconds`. The cap bounds how long a stranger
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
    # 2 s first: the wait starts when the attempt is reserved, before argon2 spends part of it.
    return int(min(2 ** (over + 1), settings.password_lockout_max_seconds))


RESERVE_TRIES = 3


def reserve_password_attempt(keyring: Keyring, settings: Settings, email: str, now: float | None = None) -> None:
    """Counts this attempt as a failure before the password is verified, with a version-conditional
    write: of a burst of guesses in flight at once, no more than the free allowance is ever verified,
    and the rest get 429 without argon2 running. A success then clears the count."""
    key = password_guard_key(address_id(keyring, email))
    for _ in range(RESERVE_TRIES):
        # The clock is read again on each try: a burst can keep one request losing races for seconds,
        # and a lock counted from when it began would already be over when it is written.
        at = time.time() if now is None else now
        guard = store.get_password_guard(key)
        if guard.locked_until > at:
            raise TooManyRequests(
                guard.locked_until - at,
                "Too many wrong passwords. Wait, or sign in with an emailed code instead.",
            )
        failures = int(guard.failures) + 1
        guard.failures = failures
        guard.locked_until = at + lockout_seconds(settings, failures)  # to the fraction: never cut short
        guard.ttl = datetime.fromtimestamp(at + FAILURE_MEMORY_SECONDS, UTC)
        try:
            store.save_password_guard(guard)
            return
        except store.LostRace:
            continue  # another attempt reserved first: look again at what it left
    raise TooManyRequests(1, "Too many sign-in attempts at once. Try again in a moment.")


def clear_password_failures(keyring: Keyring, email: str) -> None:
    store.delete_password_guard(password_guard_key(address_id(keyring, email)))
