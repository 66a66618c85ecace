"""The local mailbox: every email sent through moto's SES, newest first, also echoed to the console."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from local.template import LOCAL_REGION


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    text: str
    sent_at: str

    def as_json(self) -> dict[str, Any]:
        return {"to": self.to, "subject": self.subject, "text": self.text, "sent_at": self.sent_at}


class Mailbox:
    """Reads what moto's SES backend recorded (moto runs in this process)."""

    def __init__(self, on_new: Callable[[Mail], None] | None = None) -> None:
        self._seen = 0
        self._mails: list[Mail] = []
        self._lock = threading.Lock()
        self._on_new = on_new

    def _collect(self) -> None:
        with self._lock:
            sent = ses_backends[DEFAULT_ACCOUNT_ID][LOCAL_REGION].sent_messages
            for message in sent[self._seen :]:
                destinations = message.destinations
                recipients = (
                    [address for group in destinations.values() for address in group]
                    if isinstance(destinations, dict)
                    else list(destinations)
                )
                mail = Mail(
                    recipients,
                    getattr(message, "subject", ""),
                    getattr(message, "body", ""),
                    datetime.now(UTC).isoformat(timespec="milliseconds"),
                )
                self._mails.append(mail)
                if self._on_new:
                    self._on_new(mail)
            self._seen = len(sent)

    def messages(self, to: str | None = None) -> list[Mail]:
        self._collect()
        wanted = to.strip().lower() if to else None
        return [
            mail
            for mail in reversed(self._mails)
            if wanted is None or wanted in (address.lower() for address in mail.to)
        ]

    def watch(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Echoes new mail to the console until `stop` is set."""
        while not stop.wait(interval):
            self._collect()
