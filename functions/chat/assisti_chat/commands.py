"""Fast-path commands: answered at once, without the LLM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from assisti_chat.assistants import ASSISTANTS, UnknownAssistant
from assisti_chat.schemas import CategoryPatchIn
from assisti_common.errors import ValidationFailed, field_errors

COMMANDS = {
    "/help": "what Assisti can do in this chat",
    "/assistant NAME [LANGUAGE]": "switch this chat's assistant (" + ", ".join(ASSISTANTS) + ")",
    "/usage": "today's messages and tokens against your quota",
}


@dataclass(frozen=True)
class Command:
    name: str  # help | assistant | usage
    args: tuple[str, ...]


def parse_command(text: str) -> Command | None:
    """A fast-path command, answered without the LLM; anything else is for the model."""
    words = text.strip().split()
    if not words or words[0].lower() not in {"/help", "/assistant", "/usage"}:
        return None
    return Command(words[0].lower().lstrip("/"), tuple(words[1:]))


def assistant_change(args: tuple[str, ...]) -> dict[str, Any]:
    """The category change `/assistant NAME [LANGUAGE]` asks for, checked by the body model of
    PATCH /categories/{id}: a command is no way around the API's limits."""
    name = args[0].lower()
    if name not in ASSISTANTS:
        raise UnknownAssistant(name)
    try:
        return CategoryPatchIn.model_validate({"assistant": name, "language": " ".join(args[1:]) or None}).changes()
    except ValidationError as exc:
        # The API's 422 shape, naming the field; never the value, which may be 8,000 characters.
        raise ValidationFailed(details=field_errors(exc.errors(include_input=False, include_url=False))) from None


def help_text(assistant: str) -> str:
    lines = [f"This chat uses the '{assistant}' assistant. Write anything to ask it; these commands are instant:"]
    lines += [f"  {command} - {meaning}" for command, meaning in COMMANDS.items()]
    lines.append("Assistants: " + ", ".join(ASSISTANTS) + " (language_tutor takes a language, e.g. Spanish).")
    return "\n".join(lines)
