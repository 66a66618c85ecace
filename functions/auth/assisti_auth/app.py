"""The auth function: routes only. Each parses input, calls one service function, shapes output.

The service (PynamoDB, argon2, PyJWT, SES) is imported by the first request that reaches it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response, status
from fastapi.routing import APIRoute

from assisti_auth.schemas import (
    AdminUserPatchIn,
    ChallengeOut,
    ChallengeResponseIn,
    ChangePasswordIn,
    CodeSentOut,
    ConfirmForgotPasswordIn,
    ConfirmSignUpIn,
    Delivery,
    EmailIn,
    MessageOut,
    ProfileOut,
    ProfilePatchIn,
    ReauthIn,
    RefreshIn,
    SecurityEventOut,
    SecurityEventPageOut,
    SessionListOut,
    SessionOut,
    SignedOutOut,
    SignInIn,
    SignOutIn,
    SignUpIn,
    TokensOut,
    TwoFactorIn,
    UserOut,
    UserPageOut,
    mask_email,
)
from assisti_auth.settings import get_auth_settings
from assisti_common import lazy
from assisti_common.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    InvalidCode,
    InvalidCredentials,
    InvalidCursor,
    InvalidRefreshToken,
    InvalidSession,
    NotFound,
    ReauthenticationRequired,
    TooManyRequests,
    UserDisabled,
    UsernameTaken,
    WrongChallengeAnswer,
)
from assisti_common.http import (
    CurrentClient,
    CurrentPrincipal,
    PageCursor,
    PageLimit,
    ResourceId,
    create_app,
    errors,
    lambda_handler,
)

if TYPE_CHECKING:
    from assisti_auth import passwords, service
    from assisti_common.db.models import SecurityEventModel, SessionModel, UserModel
else:
    service = lazy.module("assisti_auth.service")
    passwords = lazy.module("assisti_auth.passwords")

# Validated at cold start: a bad auth variable fails here, naming the variable, and only in auth.
get_auth_settings()


class EnumerationSafeRoute(APIRoute):
    """Answers no sooner than a fixed floor, success or error, so timing does not tell a
    stranger whether an account exists (a send to SES, or a missing user, costs different time)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        floor = get_auth_settings().enumeration_floor_ms / 1000

        async def floored(request: Request) -> Response:
            started = time.perf_counter()
            try:
                return await handle(request)
            finally:
                await asyncio.sleep(max(0.0, floor - (time.perf_counter() - started)))

        return floored


public = APIRouter(prefix="/auth", tags=["sign-up and sign-in"], route_class=EnumerationSafeRoute)
tokens = APIRouter(prefix="/auth", tags=["sign-up and sign-in"])
me = APIRouter(prefix="/me", tags=["my account"])
admin = APIRouter(prefix="/admin", tags=["staff"])


def _delivery(email: str) -> Delivery:
    return Delivery(destination=mask_email(email))


def _tokens_out(result: service.Tokens) -> TokensOut:
    return TokensOut(access_token=result.access_token, refresh_token=result.refresh_token, expires_in=result.expires_in)


def _signed_in_out(result: service.Tokens | service.Challenge, email: str | None) -> TokensOut | ChallengeOut:
    if isinstance(result, service.Challenge):
        delivery = _delivery(email) if email is not None and result.name == "EMAIL_OTP" else None
        return ChallengeOut(challenge=result.name, session=result.session, delivery=delivery)
    return _tokens_out(result)


def _session_out(session: SessionModel, current_session_id: str) -> SessionOut:
    return SessionOut(
        id=session.session_id,
        device=session.device,
        ip=session.ip,
        created_at=session.created_at,
        last_used_at=session.last_used_at,
        current=session.session_id == current_session_id,
    )


def _event_out(event: SecurityEventModel) -> SecurityEventOut:
    return SecurityEventOut(
        id=event.event_id,
        type=event.type,
        method=event.method,
        occurred_at=event.occurred_at,
        ip=event.ip,
        user_agent=event.user_agent,
        session_id=event.session_id,
        actor_id=event.actor_id,
    )


def _user_out(user: UserModel) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        username=user.username,
        name=user.name,
        date_joined=user.date_joined,
        is_active=user.is_active,
        is_verified=user.is_verified,
        is_staff=user.is_staff,
        two_factor_enabled=user.two_factor_enabled,
        profile=ProfileOut(bio=user.bio, created_at=user.profile_created_at),
    )


@public.post(
    "/sign-up",
    status_code=status.HTTP_201_CREATED,
    response_model=CodeSentOut,
    responses=errors(TooManyRequests, DependencyUnavailable),
)
def sign_up(body: SignUpIn) -> CodeSentOut:
    service.sign_up(body.email, body.password, body.name)
    return CodeSentOut(message="Check your email for a 6-digit confirmation code.", delivery=_delivery(body.email))


@public.post("/confirm-sign-up", response_model=MessageOut, responses=errors(InvalidCode, TooManyRequests))
def confirm_sign_up(body: ConfirmSignUpIn, client: CurrentClient) -> MessageOut:
    service.confirm_sign_up(body.email, body.code, body.password, client)
    return MessageOut(message="Your account is confirmed. You can sign in.")


@public.post("/resend-code", response_model=CodeSentOut, responses=errors(TooManyRequests, DependencyUnavailable))
def resend_code(body: EmailIn) -> CodeSentOut:
    service.resend_code(body.email)
    return CodeSentOut(
        message="If this address has an unconfirmed account, a new code is on its way.", delivery=_delivery(body.email)
    )


@public.post(
    "/sign-in",
    response_model=TokensOut | ChallengeOut,
    responses=errors(InvalidCredentials, UserDisabled, TooManyRequests, DependencyUnavailable),
)
def sign_in(body: SignInIn, client: CurrentClient) -> TokensOut | ChallengeOut:
    return _signed_in_out(service.sign_in(body.email, body.password, client), body.email)


@public.post("/sign-in/code", response_model=ChallengeOut, responses=errors(TooManyRequests, DependencyUnavailable))
def sign_in_with_code(body: EmailIn, client: CurrentClient) -> ChallengeOut:
    result = service.start_code_sign_in(body.email, client)
    return ChallengeOut(session=result.session, delivery=_delivery(body.email))


@public.post(
    "/respond-to-challenge",
    response_model=TokensOut | ChallengeOut,
    responses=errors(
        InvalidCode, WrongChallengeAnswer, InvalidCredentials, InvalidSession, UserDisabled, TooManyRequests
    ),
)
def respond_to_challenge(body: ChallengeResponseIn, client: CurrentClient) -> TokensOut | ChallengeOut:
    """EMAIL_OTP: the code. A two-factor user who started without the password then gets a PASSWORD
    challenge, answered with the password, before any token."""
    return _signed_in_out(service.respond_to_challenge(body.session, body.code, body.password, client), None)


@public.post("/forgot-password", response_model=CodeSentOut, responses=errors(TooManyRequests, DependencyUnavailable))
def forgot_password(body: EmailIn, client: CurrentClient) -> CodeSentOut:
    service.forgot_password(body.email, client)
    return CodeSentOut(
        message="If this address has an account, a reset code is on its way.", delivery=_delivery(body.email)
    )


@public.post(
    "/confirm-forgot-password",
    response_model=MessageOut,
    responses=errors(InvalidCode, TooManyRequests, DependencyUnavailable),
)
def confirm_forgot_password(body: ConfirmForgotPasswordIn, client: CurrentClient) -> MessageOut:
    service.confirm_forgot_password(body.email, body.code, body.new_password, client)
    return MessageOut(message="Your password is set, and every device was signed out.")


@tokens.post("/refresh", response_model=TokensOut, responses=errors(InvalidRefreshToken))
def refresh(body: RefreshIn, client: CurrentClient) -> TokensOut:
    return _tokens_out(service.refresh(body.refresh_token, client))


@tokens.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(principal: CurrentPrincipal, client: CurrentClient, body: SignOutIn | None = None) -> None:
    service.sign_out(principal, body.all_devices if body else False, client)


@me.get("", response_model=UserOut, responses=errors(NotFound))
def get_me(principal: CurrentPrincipal) -> UserOut:
    return _user_out(service.get_profile(principal))


@me.patch("", response_model=UserOut, responses=errors(NotFound, UsernameTaken))
def patch_me(principal: CurrentPrincipal, body: ProfilePatchIn) -> UserOut:
    return _user_out(service.update_profile(principal, body.name, body.username, body.bio))


@me.put(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(InvalidCredentials, NotFound, TooManyRequests, DependencyUnavailable),
)
def change_password(principal: CurrentPrincipal, client: CurrentClient, body: ChangePasswordIn) -> None:
    service.change_password(principal, body.current_password, body.new_password, client)


@me.put(
    "/two-factor",
    response_model=UserOut,
    responses=errors(NotFound, ReauthenticationRequired, InvalidCredentials, TooManyRequests, DependencyUnavailable),
)
def set_two_factor(principal: CurrentPrincipal, client: CurrentClient, body: TwoFactorIn) -> UserOut:
    """Turning two-factor off needs a recent sign-in on this session, or `password`."""
    return _user_out(service.set_two_factor(principal, body.enabled, body.password, client))


@me.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(NotFound, ReauthenticationRequired, InvalidCredentials, TooManyRequests),
)
def delete_me(principal: CurrentPrincipal, client: CurrentClient, body: ReauthIn | None = None) -> None:
    """Needs a recent sign-in on this session, or `password` in the body."""
    service.delete_account(principal, body.password if body else None, client)


@me.get("/sessions", response_model=SessionListOut)
def list_sessions(principal: CurrentPrincipal) -> SessionListOut:
    """The signed-in devices, newest first."""
    found = service.list_sessions(principal)
    return SessionListOut(sessions=[_session_out(session, principal.session_id) for session in found])


@me.delete("/sessions", response_model=SignedOutOut)
def sign_out_other_sessions(principal: CurrentPrincipal, client: CurrentClient) -> SignedOutOut:
    """Signs out every device but this one."""
    return SignedOutOut(signed_out=service.revoke_other_sessions(principal, client))


@me.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(NotFound))
def sign_out_session(principal: CurrentPrincipal, client: CurrentClient, session_id: ResourceId) -> None:
    """Signs out one device at once: its access and refresh tokens stop working."""
    service.revoke_session(principal, session_id, client)


@me.get("/security-events", response_model=SecurityEventPageOut, responses=errors(InvalidCursor))
def my_security_events(
    principal: CurrentPrincipal, limit: PageLimit = 25, cursor: PageCursor = None
) -> SecurityEventPageOut:
    """The account's audit trail, newest first: sign-ins, codes, password and two-factor changes …"""
    page, next_cursor = service.security_events_of(principal, limit, cursor)
    return SecurityEventPageOut(events=[_event_out(event) for event in page], next_cursor=next_cursor)


@admin.get("/users", response_model=UserPageOut, responses=errors(InvalidCursor, Forbidden, NotFound))
def list_users(principal: CurrentPrincipal, limit: PageLimit = 25, cursor: PageCursor = None) -> UserPageOut:
    page, next_cursor = service.list_users(principal, limit, cursor)
    return UserPageOut(users=[_user_out(user) for user in page], next_cursor=next_cursor)


@admin.patch("/users/{user_id}", response_model=UserOut, responses=errors(Forbidden, NotFound, Conflict))
def patch_user(
    principal: CurrentPrincipal, client: CurrentClient, user_id: ResourceId, body: AdminUserPatchIn
) -> UserOut:
    return _user_out(service.set_user_active(principal, user_id, body.is_active, client))


@admin.get(
    "/users/{user_id}/security-events",
    response_model=SecurityEventPageOut,
    responses=errors(InvalidCursor, Forbidden, NotFound),
)
def user_security_events(
    principal: CurrentPrincipal, user_id: ResourceId, limit: PageLimit = 25, cursor: PageCursor = None
) -> SecurityEventPageOut:
    """Any user's audit trail, newest first (staff only); a deleted account's until it expires."""
    page, next_cursor = service.user_security_events(principal, user_id, limit, cursor)
    return SecurityEventPageOut(events=[_event_out(event) for event in page], next_cursor=next_cursor)


app = create_app(
    "Assisti auth",
    "Accounts: Cognito-style sign-up and sign-in with emailed codes, tokens, the profile, staff tools.",
    [public, tokens, me, admin],
)
handler = lambda_handler(app, warm_up=lambda: passwords.dummy_hash())  # not at import: argon2 waits
