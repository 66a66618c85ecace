"""What the benchmarks share: real v2 events, percentiles, moto wired from the template, a user."""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Metrics are disabled locally; Powertools still warns on every flush. Benchmarks only print figures.
warnings.filterwarnings("ignore", message="No application metrics to publish")
PASSWORD = "bench password 123"  # noqa: S105 - a throwaway account in a throwaway moto


def http_event(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A minimal but real API Gateway HTTP API (payload 2.0) event."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "bench.local", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.local",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": "bench",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "21/Nov/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": json.dumps(body) if body is not None else "",
        "isBase64Encoded": False,
    }


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def warm(handler: Any, event: dict[str, Any], requests: int) -> list[float]:
    from local.functions import LambdaContext

    handler(event, LambdaContext("warmup"))
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = handler(event, LambdaContext("bench"))
        times.append(time.perf_counter() - started)
        assert response["statusCode"] < 400, response
    return times


@contextmanager
def local_aws(stage: str, extra_env: dict[str, str] | None = None) -> Iterator[tuple[Any, dict[str, str]]]:
    """A moto server provisioned from template.yaml, this process's env pointed at it.
    Yields the template and the environment every function gets (for subprocesses too)."""
    from moto.server import ThreadedMotoServer

    from local.provision import provision
    from local.stack import free_port, function_environment
    from local.template import LocalTemplate, load_template

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    template = LocalTemplate(load_template(), stage=stage)
    env = {
        **os.environ,
        **function_environment(template.shared_environment(), endpoint),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    os.environ.update(env)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        provision(template, endpoint)
        yield template, env
    finally:
        server.stop()


def load(template: Any, logical_id: str) -> Any:
    from local.functions import load_handler

    function = next(function for function in template.functions() if function.logical_id == logical_id)
    return load_handler(function.handler)


def invoke(handler: Any, event: dict[str, Any]) -> dict[str, Any]:
    from local.functions import LambdaContext

    response: dict[str, Any] = handler(event, LambdaContext("bench"))
    return response


def signed_in_user(auth_handler: Any, email: str) -> dict[str, Any]:
    """A confirmed user, made through the real sign-up flow with the code read from moto's SES."""
    from local.mailbox import Mailbox
    from tests.helpers import CODE

    invoke(auth_handler, http_event("POST", "/auth/sign-up", {"email": email, "password": PASSWORD}))
    code = CODE.search(Mailbox().messages(email)[0].text)
    assert code is not None
    invoke(auth_handler, http_event("POST", "/auth/confirm-sign-up", {"email": email, "code": code.group(1)}))
    response = invoke(auth_handler, http_event("POST", "/auth/sign-in", {"email": email, "password": PASSWORD}))
    tokens: dict[str, Any] = json.loads(response["body"])
    return tokens
