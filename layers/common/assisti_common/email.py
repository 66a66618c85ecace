"""Sending email through SES (v2). Messages carry codes, so they are never logged."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from assisti_common import aws
from assisti_common.errors import DependencyUnavailable
from assisti_common.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client


def ses() -> SESV2Client:
    ses: SESV2Client = aws.client("sesv2")
    return ses


def send_email(sender: str, to: str, subject: str, text: str, kind: str) -> None:
    """`kind` names the message for logs and metrics; the body itself is never logged."""
    try:
        ses().send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}}},
        )
    except (ClientError, BotoCoreError) as exc:
        logger.error("email send failed", extra={"email_kind": kind, "error_type": type(exc).__name__})
        raise DependencyUnavailable("We could not send the email. Try again shortly.") from exc
    metrics.add_metric(name=f"email_{kind}", unit="Count", value=1)
