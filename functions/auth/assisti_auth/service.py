"""Account rules, Cognito-style. Knows nothing of HTTP; data access goes through assisti_common.db."""

from __future__ import annotations

import time
from dataclasses import dataclass

from assisti_auth import codes, emails, purge, throttle
from assisti_auth.codes import Purpose
from assisti_auth.passwords import hash_password, password_needs_rehash, verify_password
from assisti_auth.settings import get_auth_settings
from assisti_common.db import sessions, users
from assisti_common.db.models import UserModel
from assisti_common.email import send_email
from assisti_common.errors import (
    Conflict,
    Forbidden,
    InvalidCode,
    InvalidCredentials,
    InvalidRefreshToken,
    NotFound,
    UserDisabled,
)
from assisti_common.ids import new_id
from assisti_common.keys import Keyring, get_keyring
from assisti_common.observability import logger, metrics
from assisti_common.pagination import Page, paginate
from assisti_common.principal import Principal
from assisti_common.security import constant_time_equal
from assisti_common.settings import get_settings
from assisti_common.tokens import AccessClaims, RefreshToken, issue_access_token

DAY = 24 * 3600


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Challenge:
    session: str


def _send(to: str, email: emails.Email) -> None:
    send_email(get_auth_settings().sender_email, to, email.subject, email.text, kind=email.kind)


def _issue(
    keyring: Keyring,
    purpose: Purpose,
    email: str,
    user_id: str | None,
    pending_password_hash: str | None = None,
    pending_name: str | None = None,
) -> codes.IssuedCode:
    return codes.issue_code(
        keyring,
        get_auth_settings(),
        purpose,
        email,
        user_id=user_id,
        pending_password_hash=pending_password_hash,
        pending_name=pending_name,
    )


# --- sign-up ---------------------------------------------------------------------------------


def sign_up(email: str, password: str, name: str) -> None:
    """Same answer whether or not the email is registered; the owner of a taken one gets a notice."""
    keyring = get_keyring()
    password_hash = hash_password(password)  # always, so the timing does not tell
    user: UserModel | None
    try:
        user = users.create_unverified_user(email, name)
    except users.EmailTaken:
        user = users.find_user_by_email(email)
    if user is not None and user.is_verified:
        _issue(keyring, Purpose.SIGN_UP, email, None)  # counts against the same send limits
        _send(email, emails.already_registered())
        return
    user_id = user.id if user is not None else None
    issued = _issue(
        keyring, Purpose.SIGN_UP, email, user_id, pending_password_hash=password_hash, pending_name=name or None
    )
    if user_id is not None:
        _send(email, emails.sign_up_code(issued.code))
        metrics.add_metric(name="sign_ups", unit="Count", value=1)


def confirm_sign_up(email: str, code: str) -> None:
    item = codes.verify_code(get_keyring(), get_auth_settings(), Purpose.SIGN_UP, email, code)
    user = users.get_user(item.user_id) if item.user_id else None
    if user is None or user.is_verified or item.pending_password_hash is None:
        raise InvalidCode()
    users.confirm_user(user, item.pending_password_hash, item.pending_name)
    logger.info("account confirmed", extra={"user_id": user.id})


def resend_code(email: str) -> None:
    keyring = get_keyring()
    user = users.find_user_by_email(email)
    pending = codes.pending_sign_up(keyring, email) if user is not None and not user.is_verified else None
    if user is None or pending is None or pending.pending_password_hash is None:
        _issue(keyring, Purpose.SIGN_UP, email, None)  # same limits and work, nothing sent
        return
    issued = _issue(
        keyring,
        Purpose.SIGN_UP,
        email,
        user.id,
        pending_password_hash=pending.pending_password_hash,
        pending_name=pending.pending_name,
    )
    _send(email, emails.sign_up_code(issued.code))


# --- sign-in ---------------------------------------------------------------------------------


def _start_session(keyring: Keyring, user: UserModel) -> Tokens:
    settings = get_auth_settings()
    session_id = new_id()
    refresh = RefreshToken.new(user.id, session_id)
    sessions.create_session(
        user.id, session_id, refresh.hashed(keyring), int(time.time()) + settings.refresh_token_days * DAY
    )
    metrics.add_metric(name="sign_ins", unit="Count", value=1)
    logger.info("session started", extra={"user_id": user.id, "session_id": session_id})
    return _tokens(keyring, user.id, session_id, refresh)


def _tokens(keyring: Keyring, user_id: str, session_id: str, refresh: RefreshToken) -> Tokens:
    settings = get_settings()  # the access token's issuer, audience and lifetime are every function's
    access = issue_access_token(keyring, settings, AccessClaims(user_id, session_id))
    return Tokens(access, str(refresh), settings.access_token_seconds)


def _email_otp(keyring: Keyring, email: str, user: UserModel | None) -> Challenge:
    # Unknown, unconfirmed and disabled accounts get the same challenge, bound to no one, and no email.
    account_id = user.id if user is not None and user.is_verified and user.is_active else None
    issued = _issue(keyring, Purpose.SIGN_IN, email, account_id)
    if account_id is not None:
        _send(email, emails.sign_in_code(issued.code))
    assert issued.session is not None
    return Challenge(issued.session)


def sign_in(email: str, password: str) -> Tokens | Challenge:
    keyring, settings = get_keyring(), get_auth_settings()
    throttle.ensure_password_attempt_allowed(keyring, email)
    user = users.find_user_by_email(email)
    if not verify_password(user.password_hash if user is not None else None, password) or user is None:
        throttle.record_password_failure(keyring, settings, email)
        metrics.add_metric(name="sign_in_failures", unit="Count", value=1)
        raise InvalidCredentials()
    throttle.clear_password_failures(keyring, email)
    if not user.is_active:
        raise UserDisabled()
    if user.password_hash is not None and password_needs_rehash(user.password_hash):
        users.set_password(user, hash_password(password))
    if user.two_factor_enabled:
        return _email_otp(keyring, email, user)
    return _start_session(keyring, user)


def start_code_sign_in(email: str) -> Challenge:
    """Passwordless: the same challenge shape for every email; a code goes only to real accounts."""
    keyring = get_keyring()
    return _email_otp(keyring, email, users.find_user_by_email(email))


def respond_to_challenge(session: str, code: str) -> Tokens:
    keyring = get_keyring()
    item = codes.verify_challenge(keyring, get_auth_settings(), session, code)
    user = users.get_user(item.user_id) if item.user_id else None
    if user is None:
        raise InvalidCode()
    if not user.is_active:
        raise UserDisabled()
    return _start_session(keyring, user)


def refresh(token: str) -> Tokens:
    """Rotates the refresh token. An already-rotated one revokes the whole session (token theft)."""
    keyring = get_keyring()
    presented = RefreshToken.parse(token)
    session = sessions.get_session(presented.user_id, presented.session_id)
    if session is None or session.revoked:
        raise InvalidRefreshToken()
    presented_hash = presented.hashed(keyring)
    if any(constant_time_equal(presented_hash, old) for old in session.rotated_hashes):
        _revoke_for_reuse(session.user_id, session.session_id)
    if not constant_time_equal(presented_hash, session.refresh_hash) or time.time() >= session.refresh_expires_at:
        raise InvalidRefreshToken()
    user = users.get_user(session.user_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken()
    rotated = RefreshToken.new(session.user_id, session.session_id)
    expires_at = int(time.time()) + get_auth_settings().refresh_token_days * DAY
    if not sessions.rotate_refresh(session, rotated.hashed(keyring), expires_at):
        _revoke_for_reuse(session.user_id, session.session_id)  # the same token was used twice at once
    return _tokens(keyring, session.user_id, session.session_id, rotated)


def _revoke_for_reuse(user_id: str, session_id: str) -> None:
    sessions.revoke_session(user_id, session_id)
    logger.warning(
        "rotated refresh token reused: session revoked", extra={"user_id": user_id, "session_id": session_id}
    )
    metrics.add_metric(name="refresh_token_reuse", unit="Count", value=1)
    raise InvalidRefreshToken()


def sign_out(principal: Principal, all_devices: bool) -> None:
    if all_devices:
        sessions.revoke_all_sessions(principal.user_id)
    else:
        sessions.revoke_session(principal.user_id, principal.session_id)


# --- passwords -------------------------------------------------------------------------------


def forgot_password(email: str) -> None:
    keyring = get_keyring()
    user = users.find_user_by_email(email)
    account_id = user.id if user is not None and user.is_verified else None
    issued = _issue(keyring, Purpose.RESET_PASSWORD, email, account_id)
    if account_id is not None:
        _send(email, emails.reset_code(issued.code))


def confirm_forgot_password(email: str, code: str, new_password: str) -> None:
    keyring = get_keyring()
    password_hash = hash_password(new_password)
    item = codes.verify_code(keyring, get_auth_settings(), Purpose.RESET_PASSWORD, email, code)
    user = users.get_user(item.user_id) if item.user_id else None
    if user is None:
        raise InvalidCode()
    users.set_password(user, password_hash)
    sessions.revoke_all_sessions(user.id)
    throttle.clear_password_failures(keyring, email)
    _send(email, emails.password_changed())


def change_password(principal: Principal, current_password: str, new_password: str) -> None:
    """Needs the current password (throttled like sign-in); signs out every other device."""
    keyring = get_keyring()
    user = _own_user(principal)
    throttle.ensure_password_attempt_allowed(keyring, user.email)
    if not verify_password(user.password_hash, current_password):
        throttle.record_password_failure(keyring, get_auth_settings(), user.email)
        raise InvalidCredentials("The current password is incorrect.")
    users.set_password(user, hash_password(new_password))
    sessions.revoke_all_sessions(user.id, except_session_id=principal.session_id)


# --- the profile -----------------------------------------------------------------------------


def _own_user(principal: Principal) -> UserModel:
    user = users.get_user(principal.user_id)
    if user is None:
        raise NotFound("The account no longer exists.")
    return user


def get_profile(principal: Principal) -> UserModel:
    return _own_user(principal)


def update_profile(principal: Principal, name: str | None, username: str | None, bio: str | None) -> UserModel:
    user = _own_user(principal)
    users.update_profile(user, name=name, bio=bio, username=username)
    return _own_user(principal)


def set_two_factor(principal: Principal, enabled: bool) -> UserModel:
    user = _own_user(principal)
    users.set_flags(user, two_factor_enabled=enabled)
    return _own_user(principal)


def delete_account(principal: Principal) -> None:
    """Everything the user owns goes first, the user row last: a failure can be retried."""
    user = _own_user(principal)
    purge.purge_user_data(user)
    codes.forget_codes(get_keyring(), user.email)
    users.delete_user(user)
    logger.info("account deleted", extra={"user_id": user.id})
    metrics.add_metric(name="accounts_deleted", unit="Count", value=1)


# --- staff -----------------------------------------------------------------------------------


def _require_staff(principal: Principal) -> UserModel:
    user = _own_user(principal)
    if not user.is_staff or not user.is_active:
        raise Forbidden("Staff only.")
    return user


def list_users(principal: Principal, limit: int, cursor: str | None) -> Page[UserModel]:
    _require_staff(principal)
    return paginate("admin-users", cursor, lambda start: users.list_users(limit, start))


def set_user_active(principal: Principal, user_id: str, is_active: bool) -> UserModel:
    """Deactivation revokes every session at once, so the user's tokens stop working."""
    staff = _require_staff(principal)
    target = users.get_user(user_id)
    if target is None:
        raise NotFound("No such user.")
    if target.id == staff.id and not is_active:
        raise Conflict("You cannot deactivate your own account.")
    users.set_flags(target, is_active=is_active)
    if not is_active:
        sessions.revoke_all_sessions(target.id)
    logger.info("user activity changed", extra={"user_id": target.id, "is_active": is_active, "by": staff.id})
    target.refresh(consistent_read=True)
    return target


def set_staff(email: str, is_staff: bool) -> UserModel:
    """For the `make staff` command, run by an operator with direct table access."""
    user = users.find_user_by_email(email)
    if user is None:
        raise NotFound(f"No account for {email}.")
    users.set_flags(user, is_staff=is_staff)
    user.refresh(consistent_read=True)
    return user
