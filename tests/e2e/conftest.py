"""End to end: `python -m local.stack` started as a new user would (`make dev`), driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local.harness import RunningStack, stack_process
from tests.helpers import MessagesFor


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    with stack_process(log_path=log, ready_seconds=90) as stack:
        yield stack
    assert stack.process.returncode == 0, log.read_text()  # Ctrl-C stopped it cleanly


@pytest.fixture(scope="session")
def stack_url(running_stack: RunningStack) -> str:
    return running_stack.url


@pytest.fixture(scope="session")
def stack_aws_port(running_stack: RunningStack) -> int:
    return running_stack.aws_port


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
