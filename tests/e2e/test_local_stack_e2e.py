"""`make dev` under a newcomer's conditions: a port already taken (LocalStack holds 4566 by default)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from local.stack import free_port
from local.template import ROOT
from tests.e2e.conftest import clean_environment


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
