"""The rules of emailed one-time codes.

- 6 digits from `secrets`, stored only as a keyed hash; compared in constant time.
- Expire after `code_seconds` (checked here, not only by the table's TTL).
- At most `code_max_attempts` tries, each spent atomically before the comparison, so a burst
  of guesses in flight compares no more than that; a code works once: it is used up in the
  transaction of the write it allows, which decides the single winner and leaves the code for a
  repeat if that write fails; a new code voids the old one.
- At most one send per address and purpose every `code_resend_seconds`, and
  `code_sends_per_hour` per hour. The same limits apply whether or not an account exists.
- At most `code_failures_per_day` wrong codes per address and purpose across all its codes;
  then no code is sent or accepted for that purpose until the day-long window ends, or a
  successful password sign-in proves the owner (`clear_code_failures`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from assisti_auth.settings import AuthSettings as Settings
from assisti_common.db import codes as store
from assisti_common.db.models import AuthCodeModel
from assisti_common.errors import InvalidCode, InvalidSession, TooManyRequests
from assisti_common.keys import Keyring
from assisti_common.security import constant_time_equal, keyed_hash, new_code, new_token_secret

HOUR = 3600
DAY = 24 * HOUR


class Purpose(StrEnum):
    SIGN_UP = "sign_up"
    SIGN_IN = "sign_in"  # the EMAIL_OTP challenge: passwordless, or the second factor
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name
    PASSWORD_CHALLENGE = "password_challenge"  # noqa: S105 - two-factor after an emailed code: no code


CHALLENGES = (Purpose.SIGN_IN, Purpose.PASSWORD_CHALLENGE)  # the purposes named by a session token


@dataclass(frozen=True)
class IssuedCode:
    code: str
    session: str | None  # the challenge session, for Purpose.SIGN_IN
    key: str = ""
    sent_at: int = 0  # the send this code was counted as, withdrawn if the email never left


def address_id(keyring: Keyring, email: str) -> str:
    """A stable, non-reversible id for an email address: codes are not keyed by plain emails."""
    return keyed_hash(keyring.hash_key, "address", email)[:40]


def code_key(purpose: Purpose, address: str) -> str:
    return f"{purpose.value}#{address}"


def _key_parts(key: str) -> tuple[Purpose, str]:
    """The purpose and address a code_key names."""
    purpose, _, address = key.partition("#")
    return Purpose(purpose), address


def failures_key(purpose: Purpose, address: str) -> str:
    return f"code-failures#{purpose.value}#{address}"


def _ensure_within_failure_budget(settings: Settings, purpose: Purpose, address: str, now: float) -> None:
    budget = store.code_failures(failures_key(purpose, address))
    if budget is None:
        return
    window_ends = budget.ttl.timestamp()
    if window_ends <= now:  # TTL deletion lags by up to days: an ended window counts for nothing
        store.clear_code_failures(budget.key)
    elif budget.failures >= settings.code_failures_per_day:
        raise TooManyRequests(
            window_ends - now,
            "Too many wrong codes. Sign in with your password, or try again tomorrow.",
        )


def _count_failure(purpose: Purpose, address: str, now: float) -> None:
    store.add_code_failure(failures_key(purpose, address), datetime.fromtimestamp(int(now) + DAY, UTC))


def clear_code_failures(keyring: Keyring, email: str) -> None:
    """The password proved the owner: emailed codes for sign-in and reset work again at once."""
    address = address_id(keyring, email)
    for purpose in (Purpose.SIGN_IN, Purpose.RESET_PASSWORD):
        store.clear_code_failures(failures_key(purpose, address))


def _hash_code(keyring: Keyring, key: str, code: str) -> str:
    return keyed_hash(keyring.hash_key, f"code:{key}", code)


def _hash_session(keyring: Keyring, key: str, secret: str) -> str:
    return keyed_hash(keyring.hash_key, f"session:{key}", secret)


def issue_code(
    keyring: Keyring,
    settings: Settings,
    purpose: Purpose,
    email: str,
    *,
    user_id: str | None,
    pending_password_hash: str | None = None,
    pending_name: str | None = None,
    proven_factor: str | None = None,
    now: float | None = None,
) -> IssuedCode:
    """Stores a fresh code for (purpose, email), voiding the previous one, within the send limits."""
    now = time.time() if now is None else now
    address = address_id(keyring, email)
    key = code_key(purpose, address)
    _ensure_within_failure_budget(settings, purpose, address, now)
    item = store.get_code(key) or AuthCodeModel(key)
    recent = [sent for sent in item.sent_at if sent > now - HOUR]
    if recent and now - max(recent) < settings.code_resend_seconds:
        raise TooManyRequests(
            settings.code_resend_seconds - (now - max(recent)), "A code was just sent. Wait before asking for another."
        )
    if len(recent) >= settings.code_sends_per_hour:
        raise TooManyRequests(min(recent) + HOUR - now, "Too many codes were sent. Try again later.")

    code = new_code()
    session_secret = new_token_secret() if purpose is Purpose.SIGN_IN else None
    item.user_id = user_id
    item.code_hash = _hash_code(keyring, key, code)
    item.session_hash = _hash_session(keyring, key, session_secret) if session_secret else None
    item.expires_at = int(now) + settings.code_seconds
    item.attempts = 0
    item.consumed = False
    item.sent_at = [*recent, int(now)]
    item.pending_password_hash = pending_password_hash
    item.pending_name = pending_name
    item.proven_factor = proven_factor
    item.ttl = datetime.fromtimestamp(int(now) + HOUR, UTC)  # keeps the send log for the hour
    try:
        store.save_code(item)
    except store.LostRace as exc:
        raise TooManyRequests(settings.code_resend_seconds, "A code was just sent.") from exc
    session = f"{purpose.value}.{address}.{session_secret}" if session_secret else None
    return IssuedCode(code=code, session=session, key=key, sent_at=int(now))


def withdraw_send(issued: IssuedCode) -> None:
    """The email with this code could not be sent: its send no longer counts against the limits, so
    the user can ask again at once. The code itself stays valid (SES may yet have delivered it). A
    newer send in between wins: then there is nothing to withdraw."""
    item = store.get_code(issued.key)
    if item is None or issued.sent_at not in item.sent_at:
        return
    item.sent_at = [sent for sent in item.sent_at if sent != issued.sent_at]
    with contextlib.suppress(store.LostRace):
        store.save_code(item)


def pending_sign_up(keyring: Keyring, email: str) -> AuthCodeModel | None:
    """The live sign-up code item, to carry its pending password into a resent code."""
    return store.get_code(code_key(Purpose.SIGN_UP, address_id(keyring, email)))


def _check(keyring: Keyring, settings: Settings, item: AuthCodeModel | None, code: str, now: float) -> AuthCodeModel:
    """The right code, its try spent. It is used up by the write it allows (store.consume_in, in
    that write's transaction), so a write that fails leaves it for a repeat of the request."""
    if item is None or item.consumed or item.attempts >= settings.code_max_attempts or now >= item.expires_at:
        raise InvalidCode()
    purpose, address = _key_parts(item.key)
    _ensure_within_failure_budget(settings, purpose, address, now)
    if not store.reserve_attempt(item, settings.code_max_attempts):
        raise InvalidCode()
    if not constant_time_equal(_hash_code(keyring, item.key, code), item.code_hash):
        _count_failure(purpose, address, now)
        raise InvalidCode()
    return item


def verify_code(
    keyring: Keyring, settings: Settings, purpose: Purpose, email: str, code: str, now: float | None = None
) -> AuthCodeModel:
    """Checks the code for (purpose, email); the caller's write uses it up. Every failure is the same
    InvalidCode."""
    item = store.get_code(code_key(purpose, address_id(keyring, email)))
    return _check(keyring, settings, item, code, time.time() if now is None else now)


def challenge_item(keyring: Keyring, session: str, now: float | None = None) -> AuthCodeModel:
    """The live challenge a session token names (unused, unexpired), or InvalidSession."""
    parts = session.split(".")
    if len(parts) != 3 or parts[0] not in CHALLENGES or not parts[1] or not parts[2]:
        raise InvalidSession()
    key = code_key(Purpose(parts[0]), parts[1])
    item = store.get_code(key)
    if (
        item is None
        or item.session_hash is None
        or not constant_time_equal(_hash_session(keyring, key, parts[2]), item.session_hash)
        or item.consumed
        or (time.time() if now is None else now) >= item.expires_at
    ):
        raise InvalidSession()  # a newer challenge voided this one, it was used, or it never existed
    return item


def challenge_purpose(item: AuthCodeModel) -> Purpose:
    return _key_parts(item.key)[0]


def verify_challenge_code(
    keyring: Keyring, settings: Settings, item: AuthCodeModel, code: str, now: float | None = None
) -> AuthCodeModel:
    """Checks the code of an EMAIL_OTP challenge; the session (or next challenge) uses it up."""
    return _check(keyring, settings, item, code, time.time() if now is None else now)


def issue_password_challenge(
    keyring: Keyring, settings: Settings, email: str, user_id: str, spending: AuthCodeModel, now: float | None = None
) -> str:
    """After an emailed code, a two-factor user's second challenge: no code, only a session, which
    the password must then accompany. Its tries are the password guard's (throttle.py)."""
    now = time.time() if now is None else now
    address = address_id(keyring, email)
    key = code_key(Purpose.PASSWORD_CHALLENGE, address)
    secret = new_token_secret()
    item = AuthCodeModel(
        key,
        user_id=user_id,
        code_hash="",
        session_hash=_hash_session(keyring, key, secret),
        expires_at=int(now) + settings.password_challenge_seconds,
        ttl=datetime.fromtimestamp(int(now) + settings.password_challenge_seconds, UTC),
    )
    if not store.put_challenge(item, spending):
        raise InvalidCode()  # the emailed code was used meanwhile, by a request that raced this one
    return f"{Purpose.PASSWORD_CHALLENGE.value}.{address}.{secret}"


def forget_codes(keyring: Keyring, email: str) -> None:
    address = address_id(keyring, email)
    for purpose in Purpose:
        store.delete_code(code_key(purpose, address))
    store.delete_password_guard(password_guard_key(address))


def password_guard_key(address: str) -> str:
    return f"password#{address}"
