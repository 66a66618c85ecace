"""The audit trail's vocabulary and its one writer. An event says what happened to which account,
when, from where (IP, user agent) and in which session; never a code, a password or a token.

An event is written after what it records is done. When DynamoDB is too busy to store it, the
event goes to the log in full (the log is the trail's fallback, and `audit_events_logged_only`
counts it), and the request goes on: failing it then would tell the client that a done sign-in
or password change did not happen, and repeating it would do it twice."""

from __future__ import annotations

from enum import StrEnum

from assisti_auth.settings import get_auth_settings
from assisti_common import aws
from assisti_common.db import security_events
from assisti_common.observability import logger, metrics
from assisti_common.principal import Client


class Event(StrEnum):
    SIGN_IN = "sign_in"  # method: password | email_code | password+email_code | email_code+password
    SIGN_IN_FAILED = "sign_in_failed"  # method: the factor that failed
    CODE_SENT = "code_sent"  # method: the code's purpose
    CODE_VERIFIED = "code_verified"
    CODE_FAILED = "code_failed"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    SIGNED_OUT = "signed_out"  # method: this_device | all_devices
    SESSION_REVOKED = "session_revoked"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 - an event name
    ACCOUNT_DEACTIVATED = "account_deactivated"
    ACCOUNT_REACTIVATED = "account_reactivated"
    STAFF_GRANTED = "staff_granted"
    STAFF_REVOKED = "staff_revoked"
    ACCOUNT_DELETED = "account_deleted"


def record(
    event: Event,
    user_id: str,
    client: Client | None,
    *,
    session_id: str | None = None,
    method: str | None = None,
    actor_id: str | None = None,
) -> None:
    fields = {
        "method": method,
        "ip": client.ip if client else None,
        "user_agent": client.user_agent if client else None,
        "session_id": session_id,
        "actor_id": actor_id,
    }
    try:
        security_events.record(user_id, event.value, retention_days=get_auth_settings().security_event_days, **fields)
    except Exception as exc:
        if not aws.is_busy(exc):
            raise
        logger.error(
            "security event not stored; logged instead",
            extra={"security_event": {"user_id": user_id, "type": event.value, **fields}},
        )
        metrics.add_metric(name="audit_events_logged_only", unit="Count", value=1)
