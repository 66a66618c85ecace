"""The prompt: the assistant's system prompt, as much recent history as the token budget allows, the message."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def estimate_tokens(text: str) -> int:
    """About 4 characters a token for English (OpenAI's rule of thumb), plus framing per message.
    An estimate is enough to keep the history inside its budget; usage is billed from the API's counts."""
    return math.ceil(len(text) / 4) + 4


def estimate_prompt_tokens(messages: Sequence[dict[str, str]]) -> int:
    return sum(estimate_tokens(message["content"]) for message in messages)


@dataclass(frozen=True)
class Exchange:
    message: str
    answer: str


def fit_history(exchanges_newest_first: Sequence[Exchange], budget_tokens: int) -> list[Exchange]:
    """As many recent exchanges as fit the budget, returned oldest first."""
    kept: list[Exchange] = []
    used = 0
    for exchange in exchanges_newest_first:
        cost = estimate_tokens(exchange.message) + estimate_tokens(exchange.answer)
        if used + cost > budget_tokens:
            break
        kept.append(exchange)
        used += cost
    return list(reversed(kept))


def build_messages(system: str, history: Sequence[Exchange], message: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}]
    for exchange in history:
        messages += [{"role": "user", "content": exchange.message}, {"role": "assistant", "content": exchange.answer}]
    messages.append({"role": "user", "content": message})
    return messages
