"""Sending email through SES (v2). Messages carry codes, so they are never logged."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from assisti_common.errors import DependencyUnavailable
from assisti_common.observability import logger, metrics
from assisti_common.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client


@lru_cache(maxsize=1)
def _client() -> SESV2Client:
    settings = get_settings()
    return boto3.client(
        "sesv2",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}),
    )


def send_email(to: str, subject: str, text: str, kind: str) -> None:
    """`kind` names the message for logs and metrics; the body itself is never logged."""
    try:
        _client().send_email(
            FromEmailAddress=get_settings().sender_email,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}}},
        )
    except (ClientError, BotoCoreError) as exc:
        logger.error("email send failed", extra={"email_kind": kind, "error_type": type(exc).__name__})
        raise DependencyUnavailable("We could not send the email. Try again shortly.") from exc
    metrics.add_metric(name=f"email_{kind}", unit="Count", value=1)
