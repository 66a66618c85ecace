"""The auth function: routes only. Each parses input, calls one service function, shapes output.

The service (PynamoDB, argon2, PyJWT, SES) is imported by the first request that reaches it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
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
    RefreshIn,
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
    TooManyRequests,
    UserDisabled,
    UsernameTaken,
)
from assisti_common.http import CurrentPrincipal, create_app, errors, lambda_handler

if TYPE_CHECKING:
    from assisti_auth import passwords, service
    from assisti_common.db.models import UserModel
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


@public.post("/confirm-sign-up", response_model=MessageOut, responses=errors(InvalidCode))
def confirm_sign_up(body: ConfirmSignUpIn) -> MessageOut:
    service.confirm_sign_up(body.email, body.code)
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
def sign_in(body: SignInIn) -> TokensOut | ChallengeOut:
    result = service.sign_in(body.email, body.password)
    if isinstance(result, service.Challenge):
        return ChallengeOut(session=result.session, delivery=_delivery(body.email))
    return _tokens_out(result)


@public.post("/sign-in/code", response_model=ChallengeOut, responses=errors(TooManyRequests, DependencyUnavailable))
def sign_in_with_code(body: EmailIn) -> ChallengeOut:
    result = service.start_code_sign_in(body.email)
    return ChallengeOut(session=result.session, delivery=_delivery(body.email))


@public.post(
    "/respond-to-challenge", response_model=TokensOut, responses=errors(InvalidCode, InvalidSession, UserDisabled)
)
def respond_to_challenge(body: ChallengeResponseIn) -> TokensOut:
    return _tokens_out(service.respond_to_challenge(body.session, body.code))


@public.post("/forgot-password", response_model=CodeSentOut, responses=errors(TooManyRequests, DependencyUnavailable))
def forgot_password(body: EmailIn) -> CodeSentOut:
    service.forgot_password(body.email)
    return CodeSentOut(
        message="If this address has an account, a reset code is on its way.", delivery=_delivery(body.email)
    )


@public.post(
    "/confirm-forgot-password", response_model=MessageOut, responses=errors(InvalidCode, DependencyUnavailable)
)
def confirm_forgot_password(body: ConfirmForgotPasswordIn) -> MessageOut:
    service.confirm_forgot_password(body.email, body.code, body.new_password)
    return MessageOut(message="Your password is set, and every device was signed out.")


@tokens.post("/refresh", response_model=TokensOut, responses=errors(InvalidRefreshToken))
def refresh(body: RefreshIn) -> TokensOut:
    return _tokens_out(service.refresh(body.refresh_token))


@tokens.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(principal: CurrentPrincipal, body: SignOutIn | None = None) -> None:
    service.sign_out(principal, all_devices=body.all_devices if body else False)


@me.get("", response_model=UserOut, responses=errors(NotFound))
def get_me(principal: CurrentPrincipal) -> UserOut:
    return _user_out(service.get_profile(principal))


@me.patch("", response_model=UserOut, responses=errors(NotFound, UsernameTaken))
def patch_me(principal: CurrentPrincipal, body: ProfilePatchIn) -> UserOut:
    return _user_out(service.update_profile(principal, body.name, body.username, body.bio))


@me.put(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(InvalidCredentials, NotFound, TooManyRequests),
)
def change_password(principal: CurrentPrincipal, body: ChangePasswordIn) -> None:
    service.change_password(principal, body.current_password, body.new_password)


@me.put("/two-factor", response_model=UserOut, responses=errors(NotFound))
def set_two_factor(principal: CurrentPrincipal, body: TwoFactorIn) -> UserOut:
    return _user_out(service.set_two_factor(principal, body.enabled))


@me.delete("", status_code=status.HTTP_204_NO_CONTENT, responses=errors(NotFound))
def delete_me(principal: CurrentPrincipal) -> None:
    service.delete_account(principal)


@admin.get("/users", response_model=UserPageOut, responses=errors(InvalidCursor, Forbidden, NotFound))
def list_users(
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> UserPageOut:
    page, next_cursor = service.list_users(principal, limit, cursor)
    return UserPageOut(users=[_user_out(user) for user in page], next_cursor=next_cursor)


@admin.patch("/users/{user_id}", response_model=UserOut, responses=errors(Forbidden, NotFound, Conflict))
def patch_user(principal: CurrentPrincipal, user_id: str, body: AdminUserPatchIn) -> UserOut:
    return _user_out(service.set_user_active(principal, user_id, body.is_active))


app = create_app(
    "Assisti auth",
    "Accounts: Cognito-style sign-up and sign-in with emailed codes, tokens, the profile, staff tools.",
    [public, tokens, me, admin],
)
handler = lambda_handler(app, warm_up=lambda: passwords.dummy_hash())  # not at import: argon2 waits
