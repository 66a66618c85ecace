"""The chat function's own settings: the LLM, the prompt budget and the daily quotas."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator

from assisti_common.settings import FunctionSettings, load_settings

# API Gateway gives up after 30 s, as does the function (template.yaml): room for the DynamoDB writes around the LLM.
GATEWAY_BUDGET_SECONDS = 28
# The streaming function URL is bounded only by its function's timeout (at most Lambda's 15 minutes).
LAMBDA_BUDGET_SECONDS = 890
# The end of a request's budget kept for storing the outcome: the LLM's waits stop this much earlier.
STORE_SECONDS = 1.0
# A pending message whose attempt started longer ago than the answer budget plus this margin has no live
# request left to finish it (the margin covers the writes after the LLM call): it reads as failed.
PENDING_MARGIN_SECONDS = 10


class ChatSettings(FunctionSettings):
    # The LLM: any OpenAI-compatible endpoint. In AWS the key comes from a secret, never a literal.
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    openai_api_key: str | None = Field(None, validation_alias="OPENAI_API_KEY", repr=False)
    openai_api_key_secret_id: str | None = Field(None, validation_alias="OPENAI_API_KEY_SECRET_ID")
    chat_model: str = Field("gpt-4o-mini", min_length=1, validation_alias="ASSISTI_CHAT_MODEL")
    # Per attempt, and never past the answer budget below.
    llm_timeout_seconds: float = Field(
        8.0, gt=0, le=LAMBDA_BUDGET_SECONDS, validation_alias="ASSISTI_LLM_TIMEOUT_SECONDS"
    )
    llm_max_retries: int = Field(2, ge=0, le=5, validation_alias="ASSISTI_LLM_MAX_RETRIES")
    # One request's time, from the service's start to the stored outcome: the LLM's attempts, back-offs and
    # Retry-After waits are all cut to it. Behind the HTTP API at most GATEWAY_BUDGET_SECONDS; the streaming
    # function's is longer (template.yaml; tests/unit/test_chat_rules.py checks both against the template).
    chat_answer_budget_seconds: float = Field(
        24.0, ge=2, le=LAMBDA_BUDGET_SECONDS, validation_alias="ASSISTI_CHAT_ANSWER_BUDGET_SECONDS"
    )
    # After how long a pending message reads as failed. Both chat functions must agree on it, past the
    # longer of their budgets: unset, this function's budget plus a margin.
    chat_pending_seconds: float | None = Field(None, gt=0, validation_alias="ASSISTI_CHAT_PENDING_SECONDS")
    llm_max_answer_tokens: int = Field(800, ge=16, le=8192, validation_alias="ASSISTI_LLM_MAX_ANSWER_TOKENS")
    # UTF-8 bytes of an answer that are stored: a DynamoDB item stops at 400 KB, whatever the endpoint sends.
    chat_max_answer_bytes: int = Field(32_000, ge=1_000, le=100_000, validation_alias="ASSISTI_CHAT_MAX_ANSWER_BYTES")
    chat_history_tokens: int = Field(2000, ge=0, validation_alias="ASSISTI_CHAT_HISTORY_TOKENS")
    # At most 80 KB of UTF-8 even at 4 bytes a character: with the answer cap, well inside a 400 KB item.
    chat_max_message_chars: int = Field(8000, ge=1, le=20_000, validation_alias="ASSISTI_CHAT_MAX_MESSAGE_CHARS")
    chat_daily_messages: int = Field(200, ge=1, validation_alias="ASSISTI_CHAT_DAILY_MESSAGES")
    chat_daily_tokens: int = Field(200_000, ge=1, validation_alias="ASSISTI_CHAT_DAILY_TOKENS")

    @model_validator(mode="after")
    def _llm_fits_the_budget(self) -> ChatSettings:
        if self.llm_timeout_seconds > self.chat_answer_budget_seconds:
            raise ValueError("the LLM timeout is longer than the whole answer budget")
        if self.pending_deadline_seconds < self.chat_answer_budget_seconds + PENDING_MARGIN_SECONDS:
            raise ValueError("a pending message would read as failed while its answer may still arrive")
        return self

    @property
    def pending_deadline_seconds(self) -> float:
        """How long after its attempt began a pending message may still be answered."""
        if self.chat_pending_seconds is not None:
            return self.chat_pending_seconds
        return self.chat_answer_budget_seconds + PENDING_MARGIN_SECONDS


@lru_cache(maxsize=1)
def get_chat_settings() -> ChatSettings:
    return load_settings(ChatSettings)
