"""Configuration: environment variables, parsed once per container and validated at cold start."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    stage: str = Field("local", validation_alias="ASSISTI_STAGE")
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    # Points boto3 and PynamoDB at the local emulator (moto); unset in AWS.
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")

    users_table: str = Field("assisti-users", validation_alias="USERS_TABLE")
    user_handles_table: str = Field("assisti-user-handles", validation_alias="USER_HANDLES_TABLE")
    auth_codes_table: str = Field("assisti-auth-codes", validation_alias="AUTH_CODES_TABLE")
    sessions_table: str = Field("assisti-sessions", validation_alias="SESSIONS_TABLE")

    sender_email: str = Field("no-reply@assisti.local", validation_alias="ASSISTI_SENDER_EMAIL")
    # Secrets Manager secret holding the JSON keyring (see keys.py); never a literal key.
    keys_secret_id: str = Field("assisti/local/keys", validation_alias="ASSISTI_KEYS_SECRET_ID")
    keys_cache_seconds: int = Field(300, ge=0, validation_alias="ASSISTI_KEYS_CACHE_SECONDS")

    token_issuer: str = Field("assisti", validation_alias="ASSISTI_TOKEN_ISSUER")
    token_audience: str = Field("assisti-app", validation_alias="ASSISTI_TOKEN_AUDIENCE")
    access_token_seconds: int = Field(900, ge=60, le=900, validation_alias="ASSISTI_ACCESS_TOKEN_SECONDS")
    refresh_token_days: int = Field(30, ge=1, le=30, validation_alias="ASSISTI_REFRESH_TOKEN_DAYS")

    code_seconds: int = Field(600, ge=60, le=600, validation_alias="ASSISTI_CODE_SECONDS")
    code_max_attempts: int = Field(5, ge=1, le=5, validation_alias="ASSISTI_CODE_MAX_ATTEMPTS")
    code_resend_seconds: int = Field(60, ge=0, validation_alias="ASSISTI_CODE_RESEND_SECONDS")
    code_sends_per_hour: int = Field(5, ge=1, validation_alias="ASSISTI_CODE_SENDS_PER_HOUR")

    # Wrong passwords: after `free` failures each try waits twice as long, capped so that a
    # stranger can delay the owner's password sign-in by at most `max` seconds (codes still work).
    password_failures_free: int = Field(5, ge=1, validation_alias="ASSISTI_PASSWORD_FAILURES_FREE")
    password_lockout_max_seconds: int = Field(900, ge=1, validation_alias="ASSISTI_PASSWORD_LOCKOUT_MAX_SECONDS")

    # Endpoints that must not reveal whether an account exists answer no sooner than this.
    enumeration_floor_ms: int = Field(400, ge=0, validation_alias="ASSISTI_ENUMERATION_FLOOR_MS")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
