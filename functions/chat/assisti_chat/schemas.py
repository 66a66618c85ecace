"""Chat request and response bodies, with bounded fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from assisti_chat.assistants import ASSISTANTS, NEEDS_LANGUAGE
from assisti_chat.settings import get_chat_settings
from assisti_common.text import Text

AssistantName = Literal["general", "summarizer", "grammar", "language_tutor", "science", "coder"]
assert set(AssistantName.__args__) == set(ASSISTANTS)  # type: ignore[attr-defined]

Name = Annotated[str, Text(max_length=100, min_length=1)]
Language = Annotated[str, Text(max_length=40, min_length=2)]
Instructions = Annotated[str, StringConstraints(max_length=2000)]
# The limit is the deployment's (ASSISTI_CHAT_MAX_MESSAGE_CHARS), read once at cold start like every setting.
Message = Annotated[str, Text(max_length=get_chat_settings().chat_max_message_chars, min_length=1, trim=False)]


class Body(BaseModel):
    # Strict: a JSON value of another type than the document says is a 422, never coerced (0 is no false).
    model_config = ConfigDict(extra="forbid", strict=True)


class CategoryIn(Body):
    # assistants.check_choice: the language tutor needs a language (LanguageRequired).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["assistant"], "properties": {"assistant": {"const": NEEDS_LANGUAGE}}},
            "then": {"required": ["language"], "properties": {"language": {"type": "string"}}},
        }
    )

    name: Name
    assistant: AssistantName = "general"
    language: Language | None = None
    instructions: Instructions = ""


class CategoryPatchIn(Body):
    name: Name | None = None
    assistant: AssistantName | None = None
    language: Language | None = None
    instructions: Instructions | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class MessageIn(Body):
    message: Message = Field(description="The user's message, or a command such as /help.")


class CategoryOut(BaseModel):
    id: str
    name: str
    assistant: str
    language: str | None
    instructions: str
    created_at: datetime
    updated_at: datetime


class CategoryPageOut(BaseModel):
    categories: list[CategoryOut]
    next_cursor: str | None


class UsageCountOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = Field(
        False, description="True when the endpoint gave no usage (a stream without it): the counts are estimates."
    )


class ErrorOut(BaseModel):
    code: str
    message: str


class MessageOut(BaseModel):
    id: str
    category_id: str
    message: str
    answer: str | None
    status: Literal["pending", "answered", "failed"]
    kind: Literal["llm", "command"]
    model: str | None
    usage: UsageCountOut
    latency_ms: int | None
    created_at: datetime
    error: ErrorOut | None = Field(None, description="Why the answer failed; retry it with POST …/retry.")


class MessagePageOut(BaseModel):
    messages: list[MessageOut]
    next_cursor: str | None


class QuotaOut(BaseModel):
    used: int
    limit: int


class UsageOut(BaseModel):
    date: str
    messages: QuotaOut
    tokens: QuotaOut
    resets_at: datetime
