"""The chat function's own settings: the LLM, the prompt budget and the daily quotas."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator

from assisti_common.settings import FunctionSettings, load_settings

# API Gateway gives up after 30 s; leave room for the DynamoDB writes around the LLM call.
GATEWAY_BUDGET_SECONDS = 28


class ChatSettings(FunctionSettings):
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
    def _llm_fits_the_gateway(self) -> ChatSettings:
        # The OpenAI SDK backs off 0.5 s, 1 s, 2 s … between tries.
        worst = self.llm_timeout_seconds * (self.llm_max_retries + 1) + 0.5 * (2**self.llm_max_retries - 1)
        if worst > GATEWAY_BUDGET_SECONDS:
            raise ValueError(
                f"LLM timeout x tries plus backoff is {worst:.1f} s, over the {GATEWAY_BUDGET_SECONDS} s budget"
            )
        return self


@lru_cache(maxsize=1)
def get_chat_settings() -> ChatSettings:
    return load_settings(ChatSettings)
