"""Configuration: environment variables, parsed once per container and validated at cold start."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# API Gateway gives up after 30 s; leave room for the DynamoDB writes around the LLM call.
GATEWAY_BUDGET_SECONDS = 28


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
    categories_table: str = Field("assisti-categories", validation_alias="CATEGORIES_TABLE")
    messages_table: str = Field("assisti-messages", validation_alias="MESSAGES_TABLE")
    usage_table: str = Field("assisti-usage", validation_alias="USAGE_TABLE")
    labels_table: str = Field("assisti-labels", validation_alias="LABELS_TABLE")
    uploads_bucket: str = Field("assisti-uploads", validation_alias="UPLOADS_BUCKET")

    # Image jobs: the presigned upload, the checks the worker repeats, and the retry budget.
    upload_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, validation_alias="ASSISTI_UPLOAD_MAX_BYTES")
    upload_url_seconds: int = Field(900, ge=60, le=3600, validation_alias="ASSISTI_UPLOAD_URL_SECONDS")
    image_url_seconds: int = Field(300, ge=30, le=3600, validation_alias="ASSISTI_IMAGE_URL_SECONDS")
    max_image_pixels: int = Field(40_000_000, ge=10_000, validation_alias="ASSISTI_MAX_IMAGE_PIXELS")
    # Below these, a classifier's top class is reported as "unknown".
    animal_min_confidence: float = Field(0.3, ge=0, le=1, validation_alias="ASSISTI_ANIMAL_MIN_CONFIDENCE")
    road_sign_min_confidence: float = Field(0.6, ge=0, le=1, validation_alias="ASSISTI_ROAD_SIGN_MIN_CONFIDENCE")
    # Must equal the queue's redrive maxReceiveCount: the last try marks the item failed.
    worker_max_receives: int = Field(3, ge=1, validation_alias="ASSISTI_WORKER_MAX_RECEIVES")

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

    # The LLM: any OpenAI-compatible endpoint. In AWS the key comes from a secret, never a literal.
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    openai_api_key: str | None = Field(None, validation_alias="OPENAI_API_KEY", repr=False)
    openai_api_key_secret_id: str | None = Field(None, validation_alias="OPENAI_API_KEY_SECRET_ID")
    chat_model: str = Field("gpt-4o-mini", min_length=1, validation_alias="ASSISTI_CHAT_MODEL")
    # Per attempt; with the retries and their backoff the total stays under API Gateway's 30 s.
    llm_timeout_seconds: float = Field(8.0, gt=0, le=28, validation_alias="ASSISTI_LLM_TIMEOUT_SECONDS")
    llm_max_retries: int = Field(2, ge=0, le=5, validation_alias="ASSISTI_LLM_MAX_RETRIES")
    llm_max_answer_tokens: int = Field(800, ge=16, le=8192, validation_alias="ASSISTI_LLM_MAX_ANSWER_TOKENS")
    chat_history_tokens: int = Field(2000, ge=0, validation_alias="ASSISTI_CHAT_HISTORY_TOKENS")
    chat_max_message_chars: int = Field(8000, ge=1, le=100_000, validation_alias="ASSISTI_CHAT_MAX_MESSAGE_CHARS")
    chat_daily_messages: int = Field(200, ge=1, validation_alias="ASSISTI_CHAT_DAILY_MESSAGES")
    chat_daily_tokens: int = Field(200_000, ge=1, validation_alias="ASSISTI_CHAT_DAILY_TOKENS")

    @model_validator(mode="after")
    def _llm_fits_the_gateway(self) -> Settings:
        # The OpenAI SDK backs off 0.5 s, 1 s, 2 s … between tries.
        worst = self.llm_timeout_seconds * (self.llm_max_retries + 1) + 0.5 * (2**self.llm_max_retries - 1)
        if worst > GATEWAY_BUDGET_SECONDS:
            raise ValueError(
                f"LLM timeout x tries plus backoff is {worst:.1f} s, over the {GATEWAY_BUDGET_SECONDS} s budget"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
