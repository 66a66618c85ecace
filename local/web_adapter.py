"""A function that AWS runs behind the Lambda Web Adapter, run locally the way the adapter runs it: its
ASGI app served over HTTP by uvicorn (what its run.sh starts) in its own process, with the function's
environment. The gateway proxies to it and relays the response as it arrives, like a function URL in
RESPONSE_STREAM mode."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx

from local.template import ROOT


class WebAdapterFunction:
    def __init__(self, name: str, asgi_app: str, env: dict[str, str], port: int) -> None:
        self.name, self.asgi_app, self.env, self.port = name, asgi_app, env, port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_seconds: float = 60.0) -> None:
        command = [sys.executable, "-m", "uvicorn", self.asgi_app, "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--no-access-log", "--log-level", "warning"]
        # The function's code and layer are importable as in the other local functions (editable install).
        self._process = subprocess.Popen(command, env={**os.environ, **self.env}, cwd=ROOT)  # noqa: S603 - our own interpreter and app
        wait_until_answering(self.base_url, self._process, self.name, ready_seconds)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()


def wait_until_answering(base_url: str, process: subprocess.Popen[Any], name: str, seconds: float = 60.0) -> None:
    """The Web Adapter's readiness check: any HTTP answer at `/`. Raises RuntimeError if the server's
    process exits first, TimeoutError if it has not answered within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited while starting (code {process.returncode})")
        try:
            httpx.get(base_url + "/", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{name} did not answer at {base_url} within {seconds} s")
