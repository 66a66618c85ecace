"""Integration: the real handlers, fed real API Gateway v2 events by the local gateway's own event
builder (in-process, over an ASGI test client), against a moto server reset for every test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from local.functions import LambdaContext, call_handler, load_handler
from local.gateway import BoundRoute, Gateway
from local.mailbox import Mailbox
from local.provision import provision
from tests.conftest import TEMPLATE
from tests.helpers import MessagesFor, bearer, register, sign_in


@pytest.fixture(scope="session")
def gateway_app(moto_server: str) -> Any:
    routes: list[BoundRoute] = []
    for function in TEMPLATE.functions():
        if not function.routes:
            continue  # queue workers are driven by their own tests
        handler = load_handler(function.handler)

        def invoke(event: dict[str, Any], handler: Any = handler, name: str = function.logical_id) -> Any:
            return call_handler(handler, event, LambdaContext(name))

        routes += [BoundRoute(route, function.logical_id, invoke) for route in function.routes]
    return Gateway(routes, Mailbox(), {}, lambda: True).app()


@pytest.fixture
def aws(moto_server: str) -> Iterator[str]:
    """A clean account: moto reset, then every resource of the template created again."""
    from aws_lambda_powertools.utilities import parameters

    httpx.post(f"{moto_server}/moto-api/reset").raise_for_status()
    provision(TEMPLATE, moto_server)
    parameters.clear_caches()  # the keyring secret is new
    yield moto_server


@pytest.fixture
def api(aws: str, gateway_app: Any) -> Iterator[TestClient]:
    with TestClient(gateway_app, base_url="http://127.0.0.1:3000") as client:
        yield client


@pytest.fixture
def messages_for(aws: str) -> MessagesFor:
    mailbox = Mailbox()
    return lambda email: [mail.as_json() for mail in mailbox.messages(email)]


@pytest.fixture
def ann(api: TestClient, messages_for: MessagesFor) -> dict[str, str]:
    """A confirmed, signed-in user's Authorization header."""
    register(api, messages_for, "ann@example.com")
    return bearer(sign_in(api, "ann@example.com"))


@pytest.fixture
def bo(api: TestClient, messages_for: MessagesFor) -> dict[str, str]:
    """A second user, for isolation tests."""
    register(api, messages_for, "bo@example.com")
    return bearer(sign_in(api, "bo@example.com"))
