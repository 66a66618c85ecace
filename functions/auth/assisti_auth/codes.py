"""The rules of emailed one-time codes.

- 6 digits from `secrets`, stored only as a keyed hash; compared in constant time.
- Expire after `code_seconds` (checked here, not only by the table's TTL).
- At most `code_max_attempts` wrong tries, then the code is dead; a code works once
  (a conditional write decides the single winner); a new code voids the old one.
- At most one send per address and purpose every `code_resend_seconds`, and
  `code_sends_per_hour` per hour. The same limits apply whether or not an account exists.
"""

from __future__ import annotations

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


class Purpose(StrEnum):
    SIGN_UP = "sign_up"
    SIGN_IN = "sign_in"  # the EMAIL_OTP challenge: passwordless, or the second factor
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name


@dataclass(frozen=True)
class IssuedCode:
    code: str
    session: str | None  # the challenge session, for Purpose.SIGN_IN


def address_id(keyring: Keyring, email: str) -> str:
    """A stable, non-reversible id for an email address: codes are not keyed by plain emails."""
    return keyed_hash(keyring.hash_key, "address", email)[:40]


def code_key(purpose: Purpose, address: str) -> str:
    return f"{purpose.value}#{address}"


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
    now: float | None = None,
) -> IssuedCode:
    """Stores a fresh code for (purpose, email), voiding the previous one, within the send limits."""
    now = time.time() if now is None else now
    address = address_id(keyring, email)
    key = code_key(purpose, address)
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
    item.ttl = datetime.fromtimestamp(int(now) + HOUR, UTC)  # keeps the send log for the hour
    try:
        store.save_code(item)
    except store.LostRace as exc:
        raise TooManyRequests(settings.code_resend_seconds, "A code was just sent.") from exc
    session = f"{purpose.value}.{address}.{session_secret}" if session_secret else None
    return IssuedCode(code=code, session=session)


def pending_sign_up(keyring: Keyring, email: str) -> AuthCodeModel | None:
    """The live sign-up code item, to carry its pending password into a resent code."""
    return store.get_code(code_key(Purpose.SIGN_UP, address_id(keyring, email)))


def _check_and_consume(
    keyring: Keyring, settings: Settings, item: AuthCodeModel | None, code: str, now: float
) -> AuthCodeModel:
    if item is None or item.consumed or item.attempts >= settings.code_max_attempts or now >= item.expires_at:
        raise InvalidCode()
    if not constant_time_equal(_hash_code(keyring, item.key, code), item.code_hash):
        store.count_wrong_attempt(item)
        raise InvalidCode()
    if not store.consume_code(item, settings.code_max_attempts):
        raise InvalidCode()
    return item


def verify_code(
    keyring: Keyring, settings: Settings, purpose: Purpose, email: str, code: str, now: float | None = None
) -> AuthCodeModel:
    """Consumes the code for (purpose, email). Every failure is the same InvalidCode."""
    item = store.get_code(code_key(purpose, address_id(keyring, email)))
    return _check_and_consume(keyring, settings, item, code, time.time() if now is None else now)


def verify_challenge(
    keyring: Keyring, settings: Settings, session: str, code: str, now: float | None = None
) -> AuthCodeModel:
    """Consumes the code of an EMAIL_OTP challenge named by its session token."""
    parts = session.split(".")
    if len(parts) != 3 or parts[0] != Purpose.SIGN_IN.value or not parts[1] or not parts[2]:
        raise InvalidSession()
    key = code_key(Purpose.SIGN_IN, parts[1])
    item = store.get_code(key)
    if (
        item is None
        or item.session_hash is None
        or not constant_time_equal(_hash_session(keyring, key, parts[2]), item.session_hash)
    ):
        raise InvalidSession()  # a newer challenge voided this one, or it never existed
    return _check_and_consume(keyring, settings, item, code, time.time() if now is None else now)


def forget_codes(keyring: Keyring, email: str) -> None:
    address = address_id(keyring, email)
    for purpose in Purpose:
        store.delete_code(code_key(purpose, address))
    store.delete_password_guard(password_guard_key(address))


def password_guard_key(address: str) -> str:
    return f"password#{address}"
