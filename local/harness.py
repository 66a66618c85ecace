"""Driving the real handlers against local AWS, outside the local stack: moto provisioned from the
template, real HTTP API v2 events, a user signed up through the real flow; and the whole local stack
as a process of its own (`stack_process`). The benchmarks, `make fuzz`, `make load`, the end-to-end
tests and `make deploy-check` share these."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from local.template import LocalTemplate

CODE = re.compile(r"\b(\d{6})\b")

Handler = Callable[[dict[str, Any]], dict[str, Any]]  # an event in, the function's response out


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


@contextmanager
def local_aws(
    stage: str, extra_env: dict[str, str] | None = None, own_process: bool = False
) -> Iterator[tuple[LocalTemplate, dict[str, str]]]:
    """A moto server provisioned from template.yaml, this process's env pointed at it.
    Yields the template and the environment every function gets (for subprocesses too).

    `own_process`: moto runs in a process of its own, as AWS runs elsewhere: its work then does not
    hold this process's GIL, and a function's concurrent calls wait on sockets as they would in AWS.
    (In a thread, every call's server side runs on the caller's interpreter and serialises with it.)"""
    from local.aws_server import LocalAwsServer
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
    if own_process:
        server: Any = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "local.aws_server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(port)
    else:
        server = LocalAwsServer("127.0.0.1", port)
        server.start()
    try:
        provision(template, endpoint)
        yield template, env
    finally:
        if own_process:
            server.terminate()
            server.wait(10)
        else:
            server.stop()


def _wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"moto did not listen on port {port} within {seconds} s")


def newest_code(texts: Iterable[str]) -> str | None:
    """The 6-digit code in the newest mail that has one (`texts` newest first, as the mailbox lists
    them), or None."""
    for text in texts:
        found = CODE.search(text)
        if found:
            return found.group(1)
    return None


def signed_in_user(invoke: Handler, email: str, password: str) -> dict[str, Any]:
    """A confirmed user, made through the real sign-up flow with the code read from moto's SES; its tokens."""
    from local.mailbox import Mailbox

    invoke(http_event("POST", "/auth/sign-up", {"email": email, "password": password}))
    code = CODE.search(Mailbox().messages(email)[0].text)
    assert code is not None, "no code was mailed"
    invoke(http_event("POST", "/auth/confirm-sign-up", {"email": email, "code": code.group(1), "password": password}))
    response = invoke(http_event("POST", "/auth/sign-in", {"email": email, "password": password}))
    tokens: dict[str, Any] = json.loads(response["body"])
    return tokens


def new_user_environment() -> dict[str, str]:
    """The shell of a new user: none of this process's AWS, LLM or function settings."""
    wiring = ("AWS_", "ASSISTI_", "OPENAI_", "POWERTOOLS_")
    return {
        key: value for key, value in os.environ.items() if not key.startswith(wiring) and not key.endswith("_TABLE")
    }


@dataclass
class RunningStack:
    url: str
    aws_port: int
    process: subprocess.Popen[bytes]


@contextmanager
def stack_process(
    settings: dict[str, str] | None = None,
    *,
    port: int | None = None,
    log_path: Path | None = None,
    ready_seconds: float = 120,
) -> Iterator[RunningStack]:
    """`python -m local.stack` as `make dev` runs it from a new user's shell, plus `settings`, on
    `port` (or a free one) and a free local AWS port; healthy before it is yielded, then stopped with
    Ctrl-C (SIGINT), and killed only if it has not stopped within 30 s (its exit code is then in
    `process.returncode`). Its output goes to `log_path`, or nowhere: a pipe nobody reads would fill up
    and stall it."""
    from local.stack import free_port
    from local.template import ROOT

    port, aws_port = port or free_port(), free_port()
    env = {
        **new_user_environment(),
        **(settings or {}),
        "PORT": str(port),
        "LOCAL_AWS_PORT": str(aws_port),
        "LOCAL_QUIET": "1",
    }
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") if log_path is not None else open(os.devnull, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    stack = RunningStack(f"http://127.0.0.1:{port}", aws_port, process)
    where = f"; its output: {log_path}" if log_path is not None else ""
    try:
        deadline = time.monotonic() + ready_seconds
        while not healthy(stack.url):
            if process.poll() is not None:
                raise RuntimeError(f"the local stack exited while starting (code {process.returncode}){where}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local stack was not healthy within {ready_seconds:.0f} s{where}")
            time.sleep(0.2)
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C, its normal way to stop
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def healthy(url: str) -> bool:
    """Whether a local stack answers at `url`."""
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
