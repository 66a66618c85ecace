"""Test configuration shared by every layer of tests.

The environment is set here, at import, before any test imports assisti_common: as in Lambda,
configuration is read once at cold start. It is the functions' environment from template.yaml,
pointed at a moto server on a free loopback port.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from local.fake_llm import FakeLLM
from local.stack import LOCAL_MODEL_DIRS, free_port, function_environment
from local.template import LocalTemplate, load_template

MOTO_PORT = free_port()
AWS_ENDPOINT = f"http://127.0.0.1:{MOTO_PORT}"
TEMPLATE = LocalTemplate(load_template(), stage="test")
ENUMERATION_FLOOR_MS = 60
LLM_TIMEOUT_SECONDS = 1.0
# The OpenAI-compatible stand-in on loopback, scripted by the tests to fail on purpose.
FAKE_LLM = FakeLLM(slow_seconds=LLM_TIMEOUT_SECONDS + 1.5).start()

os.environ.update(function_environment(TEMPLATE.shared_environment(), AWS_ENDPOINT))
os.environ.update(
    {
        "ASSISTI_STAGE": "test",
        "ASSISTI_ENUMERATION_FLOOR_MS": str(ENUMERATION_FLOOR_MS),
        "POWERTOOLS_SERVICE_NAME": "tests",
        "OPENAI_BASE_URL": FAKE_LLM.base_url,
        "OPENAI_API_KEY": "test-key",
        "ASSISTI_CHAT_MODEL": "test-model",
        "ASSISTI_LLM_TIMEOUT_SECONDS": str(LLM_TIMEOUT_SECONDS),
        "ASSISTI_LLM_MAX_RETRIES": "2",
        **LOCAL_MODEL_DIRS,
    }
)

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from local.aws_server import LocalAwsServer

    server = LocalAwsServer("127.0.0.1", MOTO_PORT)
    server.start()
    yield AWS_ENDPOINT
    server.stop()
