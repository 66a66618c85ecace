"""The one place boto3 clients are made: the region and endpoint from the settings (moto locally),
and Lambda-sized timeouts, so a stuck call fails well inside API Gateway's 30 s."""

from __future__ import annotations

from functools import cache
from typing import Any

from assisti_common.settings import get_settings


@cache
def client(service: str, read_timeout: int = 5, **config: Any) -> Any:
    """One client per service and container (clients are thread-safe and reuse connections). boto3 is
    imported with the first client: a request that calls no AWS service does not pay for it."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(
            connect_timeout=2, read_timeout=read_timeout, retries={"max_attempts": 3, "mode": "standard"}, **config
        ),
    )
