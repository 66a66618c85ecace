"""The auth function's own settings: emailed codes, refresh tokens, password throttling, the sender."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from assisti_common.settings import FunctionSettings, load_settings


class AuthSettings(FunctionSettings):
    # The From address of every email; SES must have it verified (template parameter SenderEmail).
    sender_email: str = Field("no-reply@assisti.local", validation_alias="ASSISTI_SENDER_EMAIL")
    refresh_token_days: int = Field(30, ge=1, le=30, validation_alias="ASSISTI_REFRESH_TOKEN_DAYS")

    code_seconds: int = Field(600, ge=60, le=600, validation_alias="ASSISTI_CODE_SECONDS")
    code_max_attempts: int = Field(5, ge=1, le=5, validation_alias="ASSISTI_CODE_MAX_ATTEMPTS")
    code_resend_seconds: int = Field(60, ge=0, validation_alias="ASSISTI_CODE_RESEND_SECONDS")
    code_sends_per_hour: int = Field(5, ge=1, validation_alias="ASSISTI_CODE_SENDS_PER_HOUR")

    # Wrong codes for one address and purpose, across every code, in a day: then no more codes for it
    # until the day is over or the password proves the owner (a successful password sign-in).
    code_failures_per_day: int = Field(20, ge=1, validation_alias="ASSISTI_CODE_FAILURES_PER_DAY")
    # A two-factor user who started with an emailed code has this long to give the password.
    password_challenge_seconds: int = Field(300, ge=30, le=900, validation_alias="ASSISTI_PASSWORD_CHALLENGE_SECONDS")
    # What can't be undone (delete the account, two-factor off, a new password) needs a sign-in at
    # most this old on the session, or the password given again.
    reauth_seconds: int = Field(300, ge=30, le=3600, validation_alias="ASSISTI_REAUTH_SECONDS")
    # A refresh whose answer was lost (a dropped connection) may be repeated with the same token
    # this long after it; later, a replaced token presented again is theft and ends the session.
    refresh_retry_seconds: int = Field(30, ge=0, le=120, validation_alias="ASSISTI_REFRESH_RETRY_SECONDS")
    security_event_days: int = Field(90, ge=1, le=3650, validation_alias="ASSISTI_SECURITY_EVENT_DAYS")

    # Wrong passwords: after `free` failures each try waits twice as long, capped so that a
    # stranger can delay the owner's password sign-in by at most `max` seconds (codes still work).
    password_failures_free: int = Field(5, ge=1, validation_alias="ASSISTI_PASSWORD_FAILURES_FREE")
    password_lockout_max_seconds: int = Field(900, ge=1, validation_alias="ASSISTI_PASSWORD_LOCKOUT_MAX_SECONDS")

    # Endpoints that must not reveal whether an account exists answer no sooner than this.
    enumeration_floor_ms: int = Field(400, ge=0, validation_alias="ASSISTI_ENUMERATION_FLOOR_MS")


@lru_cache(maxsize=1)
def get_auth_settings() -> AuthSettings:
    return load_settings(AuthSettings)
