"""Fast-path commands: answered at once, without the LLM."""

from __future__ import annotations

from dataclasses import dataclass

from assisti_chat.assistants import ASSISTANTS

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


def help_text(assistant: str) -> str:
    lines = [f"This chat uses the '{assistant}' assistant. Write anything to ask it; these commands are instant:"]
    lines += [f"  {command} - {meaning}" for command, meaning in COMMANDS.items()]
    lines.append("Assistants: " + ", ".join(ASSISTANTS) + " (language_tutor takes a language, e.g. Spanish).")
    return "\n".join(lines)
