"""`make dev` under a newcomer's conditions: a port already taken (LocalStack holds 4566 by default),
Ctrl-C while it starts, and a second stack beside the first."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from local.harness import new_user_environment as clean_environment
from local.harness import stack_process
from local.stack import free_port
from local.template import ROOT


@pytest.mark.parametrize("variable", ["PORT", "LOCAL_AWS_PORT"])
def test_a_busy_port_stops_the_stack_at_once_saying_which_and_how_to_move_it(variable):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        env = {**clean_environment(), "PORT": str(free_port()), "LOCAL_AWS_PORT": str(free_port()), variable: str(busy)}
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert time.monotonic() - started < 30  # not a hang
    assert f"Port {busy}" in result.stderr and f"make dev {variable}=" in result.stderr


def _stack(port: int, aws_port: int) -> subprocess.Popen[str]:
    env = {**clean_environment(), "PORT": str(port), "LOCAL_AWS_PORT": str(aws_port), "LOCAL_QUIET": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group: the signal below reaches the stack alone, not via a terminal
    )


@pytest.mark.parametrize("interrupt_once", ["a function process has started", "the streaming server has started"])
def test_ctrl_c_during_start_up_leaves_no_process_behind(interrupt_once):
    port = free_port()
    stack = _stack(port, free_port())
    parent = psutil.Process(stack.pid)
    seen: dict[int, psutil.Process] = {}

    def started() -> bool:
        if interrupt_once.startswith("a function"):
            return bool(seen)
        return any("uvicorn" in " ".join(child.cmdline()) for child in seen.values() if child.is_running())

    deadline = time.monotonic() + 90
    while not started() and time.monotonic() < deadline:
        seen |= {child.pid: child for child in parent.children(recursive=True)}
        time.sleep(0.02)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)  # still starting
    stack.send_signal(signal.SIGINT)
    try:
        stack.wait(timeout=60)
    finally:
        stack.kill()
    # A helper may still be on its way out: multiprocessing's resource tracker exits once the last
    # process holding its pipe has gone, a moment after the stack. Gone within seconds is not left behind.
    _, running = psutil.wait_procs([child for child in seen.values() if child.is_running()], timeout=10)
    alive = [child for child in running if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [child.cmdline() for child in alive]
    assert seen, "no child process had started: the test interrupted nothing"


def test_two_stacks_side_by_side_each_keep_their_own_data(stack_url):
    with stack_process() as other:
        email = f"twin-{free_port()}@example.com"
        signed_up = httpx.post(f"{other.url}/auth/sign-up", json={"email": email, "password": "correct horse battery"})
        assert signed_up.status_code == 201
        assert httpx.get(f"{other.url}/_local/mailbox", params={"to": email}).json()["messages"]
        assert httpx.get(f"{stack_url}/_local/mailbox", params={"to": email}).json()["messages"] == []
    assert other.process.returncode == 0


def test_a_long_poll_holds_only_its_own_container_not_the_function(http, messages_for):
    """As in Lambda, concurrent requests to one function run in separate containers: one user's
    `?wait=` long-poll does not make another request to the same function wait behind it."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.helpers import bearer, register, sign_in

    email = f"poll-{free_port()}@example.com"
    register(http, messages_for, email)
    headers = bearer(sign_in(http, email))
    item = http.post("/ocr", json={"title": "never uploaded"}, headers=headers).json()["item"]["id"]
    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(http.get, f"/ocr/{item}", params={"wait": 6}, headers=headers)
        time.sleep(0.5)  # the long-poll is in its handler
        started = time.monotonic()
        listed = http.get("/ocr", headers=headers)
        took = time.monotonic() - started
        assert listed.status_code == 200 and not polling.done()
        assert polling.result().json()["status"] == "awaiting_upload"
    assert took < 3, f"GET /ocr waited {took:.1f} s behind the long-poll"
