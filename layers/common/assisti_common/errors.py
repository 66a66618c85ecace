"""One JSON error shape everywhere: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, Field


class AppError(Exception):
    """An error the client can act on. Subclasses fix the status and the code."""

    status_code = 400
    code = "bad_request"
    message = "The request is not valid."
    details_example: ClassVar[Any] = None  # for the API documentation only

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class MalformedJson(AppError):
    code = "malformed_json"
    message = "The request body is not valid JSON."


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_error"
    message = "The request is not valid."
    details_example: ClassVar[Any] = [
        {"field": "email", "message": "Value error, not a valid email address", "type": "value_error"}
    ]


def field_errors(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> list[dict[str, str]]:
    """pydantic's errors as ValidationFailed details: the field, the reason and its type, never the
    submitted value (it may be a password or a code). `skip` drops location parts such as "body"."""
    return [
        {
            "field": ".".join(str(part) for part in error["loc"][skip:]) or str(error["loc"][0]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in errors
    ]


class InvalidCode(AppError):
    code = "invalid_code"
    message = "The code is incorrect, has expired or was already used. Request a new one."


class InvalidPassword(AppError):
    code = "invalid_password"
    message = "The password does not meet the policy."


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"
    message = "A valid access token is required."


class InvalidCredentials(AppError):
    status_code = 401
    code = "invalid_credentials"
    message = "Incorrect email or password."


class InvalidRefreshToken(AppError):
    status_code = 401
    code = "invalid_refresh_token"
    message = "The refresh token is invalid, expired or revoked. Sign in again."


class InvalidSession(AppError):
    status_code = 401
    code = "invalid_session"
    message = "The challenge session is invalid or has expired. Start the sign-in again."


class UserNotConfirmed(AppError):
    status_code = 403
    code = "user_not_confirmed"
    message = "Confirm your email address before signing in."


class UserDisabled(AppError):
    status_code = 403
    code = "user_disabled"
    message = "This account is disabled."


class ReauthenticationRequired(AppError):
    status_code = 403
    code = "reauthentication_required"
    message = "This needs a recent sign-in. Give your password, or sign in again, and retry."
    details_example: ClassVar[Any] = {"max_age_seconds": 300}


class WrongChallengeAnswer(AppError):
    code = "wrong_challenge_answer"
    message = "This challenge is answered with something else: a code for EMAIL_OTP, a password for PASSWORD."


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class InvalidCursor(AppError):
    code = "invalid_cursor"
    message = "The cursor is malformed or was not issued for this list."


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "The request conflicts with the current state."


class UsernameTaken(Conflict):
    code = "username_taken"
    message = "That username is taken."


class TooManyRequests(AppError):
    status_code = 429
    code = "too_many_requests"
    message = "Too many requests. Try again later."
    details_example: ClassVar[Any] = {"retry_after_seconds": 60}

    def __init__(self, retry_after_seconds: float, message: str | None = None) -> None:
        retry_after_seconds = max(1, math.ceil(retry_after_seconds))
        super().__init__(
            message,
            details={"retry_after_seconds": retry_after_seconds},
            headers={"Retry-After": str(retry_after_seconds)},
        )


class DependencyUnavailable(AppError):
    """A service we call (SES, AWS) failed: every 503 says when to try again, in the header and the body."""

    status_code = 503
    code = "service_unavailable"
    message = "A service we depend on is unavailable. Try again shortly."
    details_example: ClassVar[Any] = {"retry_after_seconds": 1}
    RETRY_AFTER_SECONDS = 1

    def __init__(self, message: str | None = None) -> None:
        seconds = self.RETRY_AFTER_SECONDS
        super().__init__(message, details={"retry_after_seconds": seconds}, headers={"Retry-After": str(seconds)})


class ServiceBusy(DependencyUnavailable):
    """AWS throttled us (or did not answer) after the SDK's own retries. Every write path leaves its
    items whole or unwritten, so repeating the same request is safe."""

    code = "service_busy"
    message = "The service is busy. Nothing was half-done; repeat the request shortly."


ERROR_CODE_PATTERN = r"^[a-z][a-z0-9_]*$"  # stable, snake_case


class ErrorDetail(BaseModel):
    code: str = Field(
        pattern=ERROR_CODE_PATTERN,
        description="What went wrong, for code to branch on: stable, snake_case.",
        examples=["not_found"],
    )
    message: str = Field(description="A human sentence, safe to show to the user.", examples=["Not found."])
    details: Any = Field(
        default=None,
        description="More about this error when it has any (the invalid fields, when to retry …), else null.",
    )


class ErrorBody(BaseModel):
    """The body of every error answer, whatever the status."""

    error: ErrorDetail


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}
