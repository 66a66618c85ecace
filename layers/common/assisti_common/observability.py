"""Powertools Logger and Metrics, created once per container.

The logger never receives codes, tokens or passwords: callers log ids and outcomes only.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "assisti")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Assisti"), service=SERVICE)
