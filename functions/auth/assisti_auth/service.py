"""Account rules, Cognito-style. Knows nothing of HTTP; data access goes through assisti_common.db.

Every security event goes to the audit trail (audit.py) with the caller's `Client`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from assisti_auth import codes, emails, purge, throttle
from assisti_auth.audit import Event, record
from assisti_auth.codes import Purpose
from assisti_auth.devices import device_label
from assisti_auth.passwords import hash_password, password_needs_rehash, verify_password
from assisti_auth.settings import get_auth_settings
from assisti_common.db import security_events, sessions, users
from assisti_common.db.models import AuthCodeModel, SecurityEventModel, SessionModel, UserModel
from assisti_common.email import send_email
from assisti_common.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    InvalidCode,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidSession,
    NotFound,
    ReauthenticationRequired,
    UserDisabled,
    WrongChallengeAnswer,
)
from assisti_common.ids import new_id
from assisti_common.keys import Keyring, get_keyring
from assisti_common.observability import logger, metrics
from assisti_common.pagination import Page, paginate
from assisti_common.principal import Client, Principal
from assisti_common.security import constant_time_equal
from assisti_common.settings import get_settings
from assisti_common.tokens import AccessClaims, RefreshToken, issue_access_token

DAY = 24 * 3600
PASSWORD = "password"  # noqa: S105 - the name of a factor


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Challenge:
    session: str
    name: Literal["EMAIL_OTP", "PASSWORD"] = "EMAIL_OTP"


def _send(to: str, email: emails.Email) -> None:
    send_email(get_auth_settings().sender_email, to, email.subject, email.text, kind=email.kind)


def _send_code(to: str, email: emails.Email, issued: codes.IssuedCode) -> None:
    """An email answering a request for a code: when it cannot be sent the request fails (503) and
    its send is withdrawn, so asking again right away is not refused as too soon."""
    try:
        _send(to, email)
    except DependencyUnavailable:
        codes.withdraw_send(issued)
        raise


def _notify(to: str, email: emails.Email) -> None:
    """A notice of a change already made (password changed, two-factor off): the change stands
    whether or not the notice leaves, so a failed send is logged and counted (email.py), not
    turned into an error that would tell the client the change did not happen."""
    try:
        _send(to, email)
    except DependencyUnavailable:
        metrics.add_metric(name=f"email_{email.kind}_not_sent", unit="Count", value=1)


def _issue(
    keyring: Keyring,
    purpose: Purpose,
    email: str,
    user_id: str | None,
    pending_password_hash: str | None = None,
    pending_name: str | None = None,
    proven_factor: str | None = None,
) -> codes.IssuedCode:
    return codes.issue_code(
        keyring,
        get_auth_settings(),
        purpose,
        email,
        user_id=user_id,
        pending_password_hash=pending_password_hash,
        pending_name=pending_name,
        proven_factor=proven_factor,
    )


def _verify_code(keyring: Keyring, purpose: Purpose, email: str, code: str, client: Client) -> AuthCodeModel:
    """Consumes the emailed code; a wrong one against a real account goes to its audit trail."""
    try:
        item = codes.verify_code(keyring, get_auth_settings(), purpose, email, code)
    except InvalidCode:
        user = users.find_user_by_email(email)
        if user is not None:
            record(Event.CODE_FAILED, user.id, client, method=purpose.value)
        raise
    if item.user_id:
        record(Event.CODE_VERIFIED, item.user_id, client, method=purpose.value)
    return item


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
        issued = _issue(keyring, Purpose.SIGN_UP, email, None)  # counts against the same send limits
        _send_code(email, emails.already_registered(), issued)
        return
    user_id = user.id if user is not None else None
    issued = _issue(
        keyring, Purpose.SIGN_UP, email, user_id, pending_password_hash=password_hash, pending_name=name or None
    )
    if user_id is not None:
        _send_code(email, emails.sign_up_code(issued.code), issued)
        metrics.add_metric(name="sign_ups", unit="Count", value=1)


def confirm_sign_up(email: str, code: str, password: str, client: Client) -> None:
    """The confirmer gives the password again: the code proves the mailbox, the password is theirs.

    Anyone may sign up an unconfirmed address again, and each sign-up's code voids the last, so the
    newest code may carry a stranger's password. Taking the password at confirmation means the
    account always ends with the confirmer's password; the name from sign-up is kept only when it
    came with that same password, otherwise the first sign-up's stays."""
    keyring = get_keyring()
    item = _verify_code(keyring, Purpose.SIGN_UP, email, code, client)
    user = users.get_user(item.user_id) if item.user_id else None
    if user is None or user.is_verified:
        raise InvalidCode()
    pending = item.pending_password_hash
    if pending is not None and verify_password(pending, password):
        confirmed = users.confirm_user(user, pending, item.pending_name, spending=item)
    else:
        confirmed = users.confirm_user(user, hash_password(password), None, spending=item)
    if not confirmed:
        raise InvalidCode()  # confirmed, or the code used, by a request that raced this one
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
    _send_code(email, emails.sign_up_code(issued.code), issued)


# --- sign-in ---------------------------------------------------------------------------------


def _start_session(
    keyring: Keyring, user: UserModel, client: Client, method: str, spending: AuthCodeModel | None = None
) -> Tokens:
    """`spending`: the challenge answered to get here, used up with the session's creation."""
    settings = get_auth_settings()
    session_id = new_id()
    refresh_token = RefreshToken.new(user.id, session_id)
    try:
        sessions.create_session(
            sessions.NewSession(
                user_id=user.id,
                session_id=session_id,
                refresh_hash=refresh_token.hashed(keyring),
                refresh_expires_at=int(time.time()) + settings.refresh_token_days * DAY,
                device=device_label(client.user_agent),
                ip=client.ip,
            ),
            spending,
        )
    except sessions.NotCreated as exc:
        current = users.get_user(user.id)
        if current is None or not current.is_active:
            raise UserDisabled() from exc  # deactivated while this sign-in was in flight
        raise InvalidSession() from exc  # the challenge was answered by a request that raced this one
    record(Event.SIGN_IN, user.id, client, session_id=session_id, method=method)
    metrics.add_metric(name="sign_ins", unit="Count", value=1)
    logger.info("session started", extra={"user_id": user.id, "session_id": session_id})
    return _tokens(keyring, user.id, session_id, refresh_token)


def _tokens(keyring: Keyring, user_id: str, session_id: str, refresh_token: RefreshToken) -> Tokens:
    settings = get_settings()  # the access token's issuer, audience and lifetime are every function's
    access = issue_access_token(keyring, settings, AccessClaims(user_id, session_id))
    return Tokens(access, str(refresh_token), settings.access_token_seconds)


def _email_otp(
    keyring: Keyring, email: str, user: UserModel | None, client: Client, proven_factor: str | None = None
) -> Challenge:
    # Unknown, unconfirmed and disabled accounts get the same challenge, bound to no one, and no email.
    account_id = user.id if user is not None and user.is_verified and user.is_active else None
    issued = _issue(keyring, Purpose.SIGN_IN, email, account_id, proven_factor=proven_factor)
    if account_id is not None:
        _send_code(email, emails.sign_in_code(issued.code), issued)
        record(Event.CODE_SENT, account_id, client, method=Purpose.SIGN_IN.value)
    assert issued.session is not None
    return Challenge(issued.session)


def _check_password(keyring: Keyring, email: str, user: UserModel | None, password: str) -> bool:
    """One password attempt: reserved against the guard first (429 when it is spent), then argon2.
    A success clears the guard and, since the password proves the owner, the wrong-code budgets."""
    throttle.reserve_password_attempt(keyring, get_auth_settings(), email)
    if user is None or not verify_password(user.password_hash, password):
        return False
    throttle.clear_password_failures(keyring, email)
    codes.clear_code_failures(keyring, email)
    return True


def _require_password(
    keyring: Keyring,
    user: UserModel,
    password: str,
    client: Client,
    session_id: str | None = None,
    message: str = "The password is incorrect.",
) -> None:
    """A signed-in (or code-proven) user gives the password again: a failure is audited and a 401."""
    if not _check_password(keyring, user.email, user, password):
        record(Event.SIGN_IN_FAILED, user.id, client, session_id=session_id, method=PASSWORD)
        raise InvalidCredentials(message)


def sign_in(email: str, password: str, client: Client) -> Tokens | Challenge:
    keyring = get_keyring()
    user = users.find_user_by_email(email)
    if not _check_password(keyring, email, user, password) or user is None:
        if user is not None:
            record(Event.SIGN_IN_FAILED, user.id, client, method=PASSWORD)
        metrics.add_metric(name="sign_in_failures", unit="Count", value=1)
        raise InvalidCredentials()
    if not user.is_active:
        raise UserDisabled()
    if user.password_hash is not None and password_needs_rehash(user.password_hash):
        users.set_password(user, hash_password(password))
    if user.two_factor_enabled:
        return _email_otp(keyring, email, user, client, proven_factor=PASSWORD)
    return _start_session(keyring, user, client, method=PASSWORD)


def start_code_sign_in(email: str, client: Client) -> Challenge:
    """Passwordless: the same challenge shape for every email; a code goes only to real accounts."""
    keyring = get_keyring()
    return _email_otp(keyring, email, users.find_user_by_email(email), client)


def respond_to_challenge(session: str, code: str | None, password: str | None, client: Client) -> Tokens | Challenge:
    """EMAIL_OTP takes the code. A two-factor user who has not given the password yet (passwordless
    start) then gets a PASSWORD challenge: the mailbox alone never signs them in. Nothing about the
    account shows before the code is verified."""
    keyring, settings = get_keyring(), get_auth_settings()
    item = codes.challenge_item(keyring, session)
    if codes.challenge_purpose(item) is Purpose.PASSWORD_CHALLENGE:
        if password is None:
            raise WrongChallengeAnswer("This is a PASSWORD challenge: answer it with the password.")
        return _answer_password_challenge(keyring, item, password, client)
    if code is None:
        raise WrongChallengeAnswer("This is an EMAIL_OTP challenge: answer it with the emailed code.")
    try:
        codes.verify_challenge_code(keyring, settings, item, code)
    except InvalidCode:
        if item.user_id:
            record(Event.CODE_FAILED, item.user_id, client, method=Purpose.SIGN_IN.value)
        raise
    user = users.get_user(item.user_id) if item.user_id else None
    if user is None:
        raise InvalidCode()
    record(Event.CODE_VERIFIED, user.id, client, method=Purpose.SIGN_IN.value)
    if not user.is_active:
        raise UserDisabled()
    if item.proven_factor == PASSWORD:
        return _start_session(keyring, user, client, method="password+email_code", spending=item)
    if user.two_factor_enabled:
        session = codes.issue_password_challenge(keyring, settings, user.email, user.id, spending=item)
        return Challenge(session, name="PASSWORD")
    return _start_session(keyring, user, client, method="email_code", spending=item)


def _answer_password_challenge(keyring: Keyring, item: AuthCodeModel, password: str, client: Client) -> Tokens:
    user = users.get_user(item.user_id) if item.user_id else None
    if user is None:
        raise InvalidSession()
    _require_password(keyring, user, password, client)
    if not user.is_active:
        raise UserDisabled()
    return _start_session(keyring, user, client, method="email_code+password", spending=item)


def refresh(token: str, client: Client) -> Tokens:
    """Rotates the refresh token. An already-rotated one revokes the whole session (token theft),
    except the one the last rotation replaced, within `refresh_retry_seconds` of it: that is a client
    repeating a refresh whose answer it never got, and it is rotated again."""
    keyring, settings = get_keyring(), get_auth_settings()
    now = time.time()
    presented = RefreshToken.parse(token)
    session = sessions.get_session(presented.user_id, presented.session_id)
    if session is None or session.revoked:
        raise InvalidRefreshToken()
    presented_hash = presented.hashed(keyring)
    is_retry = (
        session.retry_hash is not None
        and constant_time_equal(presented_hash, session.retry_hash)
        and now < (session.retry_until or 0)
    )
    if not is_retry and any(constant_time_equal(presented_hash, old) for old in session.rotated_hashes):
        _revoke_for_reuse(session, client)
    current = is_retry or constant_time_equal(presented_hash, session.refresh_hash)
    if not current or now >= session.refresh_expires_at:
        raise InvalidRefreshToken()
    user = users.get_user(session.user_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken()
    rotated = RefreshToken.new(session.user_id, session.session_id)
    expires_at = int(now) + settings.refresh_token_days * DAY
    retry_until = None if is_retry else int(now) + settings.refresh_retry_seconds
    if not sessions.rotate_refresh(session, rotated.hashed(keyring), expires_at, retry_until):
        _revoke_for_reuse(session, client)  # the same token was used twice at once
    return _tokens(keyring, session.user_id, session.session_id, rotated)


def _revoke_for_reuse(session: SessionModel, client: Client) -> None:
    sessions.revoke_session(session.user_id, session.session_id)
    record(Event.REFRESH_TOKEN_REUSED, session.user_id, client, session_id=session.session_id)
    logger.warning(
        "rotated refresh token reused: session revoked",
        extra={"user_id": session.user_id, "session_id": session.session_id},
    )
    metrics.add_metric(name="refresh_token_reuse", unit="Count", value=1)
    raise InvalidRefreshToken()


def sign_out(principal: Principal, all_devices: bool, client: Client) -> None:
    if all_devices:
        sessions.revoke_all_sessions(principal.user_id)
    else:
        sessions.revoke_session(principal.user_id, principal.session_id)
    method = "all_devices" if all_devices else "this_device"
    record(Event.SIGNED_OUT, principal.user_id, client, session_id=principal.session_id, method=method)


# --- devices -------------------------------------------------------------------------------------


def list_sessions(principal: Principal) -> list[SessionModel]:
    return sessions.live_sessions(principal.user_id, time.time())


def revoke_session(principal: Principal, session_id: str, client: Client) -> None:
    """Signs out one of the user's own devices (this one included) at once."""
    if not sessions.revoke_session(principal.user_id, session_id):
        raise NotFound("No such signed-in device.")
    record(Event.SESSION_REVOKED, principal.user_id, client, session_id=session_id, method="one_device")


def revoke_other_sessions(principal: Principal, client: Client) -> int:
    ended = sessions.revoke_all_sessions(principal.user_id, except_session_id=principal.session_id)
    for session_id in ended:
        record(Event.SESSION_REVOKED, principal.user_id, client, session_id=session_id, method="other_devices")
    return len(ended)


# --- passwords -------------------------------------------------------------------------------


def forgot_password(email: str, client: Client) -> None:
    keyring = get_keyring()
    user = users.find_user_by_email(email)
    account_id = user.id if user is not None and user.is_verified else None
    issued = _issue(keyring, Purpose.RESET_PASSWORD, email, account_id)
    if account_id is not None:
        _send_code(email, emails.reset_code(issued.code), issued)
        record(Event.CODE_SENT, account_id, client, method=Purpose.RESET_PASSWORD.value)


def confirm_forgot_password(email: str, code: str, new_password: str, client: Client) -> None:
    keyring = get_keyring()
    password_hash = hash_password(new_password)
    item = _verify_code(keyring, Purpose.RESET_PASSWORD, email, code, client)
    user = users.get_user(item.user_id) if item.user_id else None
    if user is None:
        raise InvalidCode()
    # What may be done twice goes first; the new password and the code's use go last, together, so
    # a failure anywhere leaves the code for a repeat and no session outlives the reset.
    sessions.revoke_all_sessions(user.id)
    throttle.clear_password_failures(keyring, email)
    if not users.set_password(user, password_hash, spending=item):
        raise InvalidCode()  # used by a request that raced this one
    record(Event.PASSWORD_RESET, user.id, client)
    _notify(email, emails.password_reset())


def change_password(principal: Principal, current_password: str, new_password: str, client: Client) -> None:
    """The current password is the re-authentication (throttled like sign-in); signs out every
    other device."""
    keyring = get_keyring()
    user = _own_user(principal)
    _require_password(
        keyring, user, current_password, client, principal.session_id, "The current password is incorrect."
    )
    users.set_password(user, hash_password(new_password))
    sessions.revoke_all_sessions(user.id, except_session_id=principal.session_id)
    sessions.mark_authenticated(principal.user_id, principal.session_id, int(time.time()))
    record(Event.PASSWORD_CHANGED, user.id, client, session_id=principal.session_id)
    _notify(user.email, emails.password_changed())


def _require_recent_authentication(principal: Principal, user: UserModel, password: str | None, client: Client) -> None:
    """For what can't be undone: a sign-in on this session within `reauth_seconds`, or the password
    now (throttled like sign-in; it renews the session's sign-in time)."""
    settings = get_auth_settings()
    now = int(time.time())
    if password is not None:
        _require_password(get_keyring(), user, password, client, principal.session_id)
        sessions.mark_authenticated(principal.user_id, principal.session_id, now)
        return
    session = sessions.get_session(principal.user_id, principal.session_id)
    if session is None or now - int(session.authenticated_at) > settings.reauth_seconds:
        raise ReauthenticationRequired(details={"max_age_seconds": settings.reauth_seconds})


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


def set_two_factor(principal: Principal, enabled: bool, password: str | None, client: Client) -> UserModel:
    """Turning it on is always allowed; turning it off needs a recent sign-in (and is emailed)."""
    user = _own_user(principal)
    if enabled == user.two_factor_enabled:
        return user
    if not enabled:
        _require_recent_authentication(principal, user, password, client)
    users.set_flags(user, two_factor_enabled=enabled)
    event = Event.TWO_FACTOR_ENABLED if enabled else Event.TWO_FACTOR_DISABLED
    record(event, user.id, client, session_id=principal.session_id)
    if not enabled:
        _notify(user.email, emails.two_factor_disabled())
    return _own_user(principal)


def delete_account(principal: Principal, password: str | None, client: Client) -> None:
    """Needs a recent sign-in. Everything the user owns goes first, the user row last with this
    session: a failure can be repeated with the same token. No session can start meanwhile without
    the user row. The audit trail stays until its own expiry, as the record of the deletion."""
    user = _own_user(principal)
    _require_recent_authentication(principal, user, password, client)
    purge.purge_user_data(user)
    codes.forget_codes(get_keyring(), user.email)
    sessions.delete_all_sessions(user.id, except_session_id=principal.session_id)
    users.delete_user(user, principal.session_id)
    record(Event.ACCOUNT_DELETED, user.id, client, session_id=principal.session_id)
    logger.info("account deleted", extra={"user_id": user.id})
    metrics.add_metric(name="accounts_deleted", unit="Count", value=1)


def security_events_of(principal: Principal, limit: int, cursor: str | None) -> Page[SecurityEventModel]:
    return paginate(
        f"security-events:{principal.user_id}",
        cursor,
        lambda start: security_events.list_events(principal.user_id, limit, start),
    )


# --- staff -----------------------------------------------------------------------------------


def _require_staff(principal: Principal) -> UserModel:
    user = _own_user(principal)
    if not user.is_staff or not user.is_active:
        raise Forbidden("Staff only.")
    return user


def list_users(principal: Principal, limit: int, cursor: str | None) -> Page[UserModel]:
    _require_staff(principal)
    return paginate("admin-users", cursor, lambda start: users.list_users(limit, start))


def user_security_events(
    principal: Principal, user_id: str, limit: int, cursor: str | None
) -> Page[SecurityEventModel]:
    """Staff only. A deleted account's events stay readable until they expire."""
    _require_staff(principal)
    return paginate(
        f"admin-security-events:{user_id}", cursor, lambda start: security_events.list_events(user_id, limit, start)
    )


def set_user_active(principal: Principal, user_id: str, is_active: bool, client: Client) -> UserModel:
    """Deactivation revokes every session at once, so the user's tokens stop working. A sign-in racing
    it cannot store a session once the flag is off (sessions.create_session checks it in the same
    transaction), and one stored before is among those revoked here."""
    staff = _require_staff(principal)
    target = users.get_user(user_id)
    if target is None:
        raise NotFound("No such user.")
    if target.id == staff.id and not is_active:
        raise Conflict("You cannot deactivate your own account.")
    users.set_flags(target, is_active=is_active)
    if not is_active:
        sessions.revoke_all_sessions(target.id)
    event = Event.ACCOUNT_REACTIVATED if is_active else Event.ACCOUNT_DEACTIVATED
    record(event, target.id, client, actor_id=staff.id)
    logger.info("user activity changed", extra={"user_id": target.id, "is_active": is_active, "by": staff.id})
    target.refresh(consistent_read=True)
    return target


def set_staff(email: str, is_staff: bool) -> UserModel:
    """For the `make staff` command, run by an operator with direct table access."""
    user = users.find_user_by_email(email)
    if user is None:
        raise NotFound(f"No account for {email}.")
    users.set_flags(user, is_staff=is_staff)
    record(Event.STAFF_GRANTED if is_staff else Event.STAFF_REVOKED, user.id, None, method="operator")
    user.refresh(consistent_read=True)
    return user
