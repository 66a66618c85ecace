"""Loading and invoking Lambda handlers the way Lambda does.

Each function's CodeUri is the root of its own import path (as in its zip), so two functions may
both have an `app.py` or a `service.py`. `load_handler` imports one function's modules and then
files them under a private prefix, so functions loaded into one process never see each other's.
The local stack goes further: `FunctionWorker` runs each function in its own process, with
exactly the environment the template gives it, like a Lambda container.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]

_load_lock = threading.Lock()


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_seconds: float = 15.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def call_handler(handler: Handler, event: dict[str, Any], context: LambdaContext) -> Any:
    """Calls a handler from any thread. Lambda calls it on a main thread, where asyncio (and so
    Mangum) finds an event loop; a worker thread needs one of its own."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    return handler(event, context)


def load_module(code_uri: Path, module_name: str, namespace: str) -> Any:
    """Imports `module_name` from `code_uri` as Lambda would, isolated under `namespace`."""
    code_dir = str(code_uri.resolve())
    with _load_lock:
        before = set(sys.modules)
        sys.path.insert(0, code_dir)
        try:
            module = importlib.import_module(module_name)
        finally:
            sys.path.remove(code_dir)
        for name in set(sys.modules) - before:
            loaded = sys.modules[name]
            origin = getattr(loaded, "__file__", None) or ""
            if origin.startswith(code_dir + os.sep):
                sys.modules[f"{namespace}.{name}"] = sys.modules.pop(name)
    return module


def load_handler(code_uri: Path, handler: str, namespace: str) -> Handler:
    module_name, _, function_name = handler.rpartition(".")
    module = load_module(code_uri, module_name, namespace)
    function: Handler = getattr(module, function_name)
    return function


def _worker_main(connection: Connection, name: str, code_uri: str, handler: str, env: dict[str, str]) -> None:
    os.environ.update(env)
    try:
        module_name, _, function_name = handler.rpartition(".")
        module = load_module(Path(code_uri), module_name, name)
        function = getattr(module, function_name)
        connection.send(("ready", None))
    except Exception:
        connection.send(("error", traceback.format_exc()))
        return
    while True:
        try:
            kind, payload = connection.recv()
        except EOFError:
            return
        try:
            if kind == "invoke":
                event, timeout = payload
                result = function(event, LambdaContext(name, timeout_seconds=timeout))
                connection.send(("ok", result))
            elif kind == "openapi":
                app = getattr(module, "app", None)
                connection.send(("ok", app.openapi() if app is not None else None))
        except Exception:
            connection.send(("error", traceback.format_exc()))


class FunctionError(RuntimeError):
    """The handler raised, or its process died: API Gateway answers 502 then."""


class FunctionWorker:
    """One warm 'container' for one function: its own process and environment, one call at a time."""

    def __init__(self, name: str, code_uri: Path, handler: str, env: dict[str, str], timeout: float) -> None:
        self.name, self.code_uri, self.handler, self.env, self.timeout = name, code_uri, handler, env, timeout
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_worker_main,
            name=f"lambda-{self.name}",
            daemon=True,
            args=(child, self.name, str(self.code_uri), self.handler, self.env),
        )
        process.start()
        status, detail = parent.recv()
        if status != "ready":
            process.join(1)
            raise FunctionError(f"{self.name} failed to import:\n{detail}")
        self._process, self._connection = process, parent

    def _call(self, kind: str, payload: Any) -> Any:
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self.start()  # a cold start, as after a crashed container
            assert self._connection is not None
            try:
                self._connection.send((kind, payload))
                if not self._connection.poll(self.timeout + 1):
                    self.stop()
                    raise FunctionError(f"{self.name} timed out after {self.timeout:.0f} s")
                status, result = self._connection.recv()
            except (EOFError, BrokenPipeError, OSError) as exc:
                self.stop()
                raise FunctionError(f"{self.name} crashed") from exc
        if status != "ok":
            raise FunctionError(f"{self.name} raised:\n{result}")
        return result

    def invoke(self, event: dict[str, Any]) -> Any:
        return self._call("invoke", (event, self.timeout))

    def openapi(self) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._call("openapi", None)
        return result

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(2)
        self._process = self._connection = None
