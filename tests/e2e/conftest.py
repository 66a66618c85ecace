"""End to end: `python -m local.stack` started as a new user would (`make dev`), driven over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from local.stack import free_port
from local.template import ROOT
from tests.helpers import MessagesFor


def clean_environment() -> dict[str, str]:
    """The shell of a new user: none of the test process's AWS, LLM or function settings."""
    wiring = ("AWS_", "ASSISTI_", "OPENAI_", "POWERTOOLS_")
    return {
        key: value for key, value in os.environ.items() if not key.startswith(wiring) and not key.endswith("_TABLE")
    }


@pytest.fixture(scope="session")
def stack_aws_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def stack_url(stack_aws_port: int) -> Iterator[str]:
    port, aws_port = free_port(), stack_aws_port
    env = clean_environment()
    env.update({"PORT": str(port), "LOCAL_AWS_PORT": str(aws_port), "LOCAL_QUIET": "1"})
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the local stack did not become healthy within 90 s")
        time.sleep(0.2)
    yield url
    process.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, process.stdout.read() if process.stdout else ""


@pytest.fixture
def http(stack_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack_url, timeout=30) as client:
        yield client


@pytest.fixture
def messages_for(http: httpx.Client) -> MessagesFor:
    def fetch(email: str) -> list[dict]:
        response = http.get("/_local/mailbox", params={"to": email})
        response.raise_for_status()
        messages: list[dict] = response.json()["messages"]
        return messages

    return fetch
