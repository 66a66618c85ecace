"""The built-in assistants (personas) and the rules about choosing one. Each rule lives here once."""

from __future__ import annotations

from assisti_common.errors import AppError

ASSISTANTS: dict[str, str] = {
    "general": "You are Assisti, a helpful and concise assistant. Answer clearly; say so when you are unsure.",
    "summarizer": (
        "You are Assisti's summarizer. Summarize the text the user sends faithfully and concisely, as a short "
        "paragraph or a few bullet points. Add nothing that is not in the text."
    ),
    "grammar": (
        "You are Assisti's grammar fixer. Return the user's text with spelling, grammar and punctuation "
        "corrected, keeping their meaning and tone; then list the main corrections briefly."
    ),
    "language_tutor": (
        "You are Assisti's language tutor for {language}. Converse with the learner in {language} at their "
        "level. Gently correct their mistakes and explain each correction briefly in English."
    ),
    "science": (
        "You are Assisti's science explainer. Answer science questions accurately and simply, with the key "
        "reasoning, and say when something is uncertain or debated."
    ),
    "coder": (
        "You are Assisti's coding helper. Give correct, idiomatic code in fenced blocks, explain briefly, and "
        "point out edge cases and bugs."
    ),
}

NEEDS_LANGUAGE = "language_tutor"


class UnknownAssistant(AppError):
    status_code = 422
    code = "unknown_assistant"

    def __init__(self, name: str) -> None:
        super().__init__(f"There is no assistant called '{name}'.", details={"assistants": list(ASSISTANTS)})


class LanguageRequired(AppError):
    status_code = 422
    code = "language_required"
    message = "The language_tutor assistant needs a language."

    def __init__(self) -> None:
        super().__init__(details={"field": "language"})


def check_choice(assistant: str, language: str | None) -> None:
    """The one check of an assistant choice, for create, update and the /assistant command."""
    if assistant not in ASSISTANTS:
        raise UnknownAssistant(assistant)
    if assistant == NEEDS_LANGUAGE and not language:
        raise LanguageRequired()


def system_prompt(assistant: str, language: str | None, instructions: str) -> str:
    prompt = ASSISTANTS[assistant].format(language=language or "English")
    if instructions.strip():
        prompt += f"\n\nThe user's own instructions for this chat:\n{instructions.strip()}"
    return prompt
