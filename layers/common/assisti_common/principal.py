"""Who is calling: what every service takes instead of a request."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The token's user and the session it belongs to."""

    user_id: str
    session_id: str


@dataclass(frozen=True)
class Client:
    """Where a request came from, as API Gateway saw it: for the audit trail and device sessions."""

    ip: str | None = None
    user_agent: str | None = None
