"""Configuration every function shares: environment variables, parsed once per container.

Each function adds its own settings model (auth, chat, image jobs, vision) for what only it reads,
so a bad variable of one function never breaks another's cold start. `load_settings` is how every
model is read: a configuration error names the variables at fault and never prints their values,
which may be secrets.

The models are plain pydantic models validated from `os.environ`, each field named by its variable
(`validation_alias`). Every variable is a scalar, so pydantic's own string coercion is all the parsing
needed; pydantic-settings, which did the same here, cost ~30 ms of every cold start to import.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError


class ConfigurationError(RuntimeError):
    """A function's environment is invalid. The message names variables, never their values."""


class FunctionSettings(BaseModel):
    """The base of every settings model: frozen, unknown variables ignored, values from strings."""

    model_config = ConfigDict(extra="ignore", frozen=True)


SettingsModel = TypeVar("SettingsModel", bound=FunctionSettings)


def load_settings(model: type[SettingsModel]) -> SettingsModel:
    """Reads `model` from the environment. pydantic echoes the offending input in its errors, so
    they are re-raised with the variable names and reasons only."""
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or model.__name__}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigurationError(f"{model.__name__} is invalid: {problems}") from None


class Settings(FunctionSettings):
    """What every function reads: where AWS is, the tables, the keyring, access-token checks."""

    stage: str = Field("local", validation_alias="ASSISTI_STAGE")
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    # Points boto3 and PynamoDB at the local emulator (moto); unset in AWS.
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")

    users_table: str = Field("assisti-users", validation_alias="USERS_TABLE")
    user_handles_table: str = Field("assisti-user-handles", validation_alias="USER_HANDLES_TABLE")
    auth_codes_table: str = Field("assisti-auth-codes", validation_alias="AUTH_CODES_TABLE")
    sessions_table: str = Field("assisti-sessions", validation_alias="SESSIONS_TABLE")
    security_events_table: str = Field("assisti-security-events", validation_alias="SECURITY_EVENTS_TABLE")
    idempotency_table: str = Field("assisti-idempotency", validation_alias="IDEMPOTENCY_TABLE")
    categories_table: str = Field("assisti-categories", validation_alias="CATEGORIES_TABLE")
    messages_table: str = Field("assisti-messages", validation_alias="MESSAGES_TABLE")
    usage_table: str = Field("assisti-usage", validation_alias="USAGE_TABLE")
    image_items_table: str = Field("assisti-image-items", validation_alias="IMAGE_ITEMS_TABLE")
    uploads_bucket: str = Field("assisti-uploads", validation_alias="UPLOADS_BUCKET")

    # Secrets Manager secret holding the JSON keyring (see keys.py); never a literal key.
    keys_secret_id: str = Field("assisti/local/keys", validation_alias="ASSISTI_KEYS_SECRET_ID")
    keys_cache_seconds: int = Field(300, ge=0, validation_alias="ASSISTI_KEYS_CACHE_SECONDS")

    token_issuer: str = Field("assisti", validation_alias="ASSISTI_TOKEN_ISSUER")
    token_audience: str = Field("assisti-app", validation_alias="ASSISTI_TOKEN_AUDIENCE")
    access_token_seconds: int = Field(900, ge=60, le=900, validation_alias="ASSISTI_ACCESS_TOKEN_SECONDS")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings(Settings)
