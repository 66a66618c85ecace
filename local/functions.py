"""Loading and invoking Lambda handlers the way Lambda does.

Every unit is a package with its own import name (`assisti_auth.app.handler`, …), so a handler is
imported by its name, as Lambda does with the template's `Handler`. The local stack runs each
function in its own process (`FunctionWorker`), with exactly the environment the template gives
it, like a Lambda container.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]


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


def load_handler(handler: str) -> Handler:
    """The function named by a template `Handler` (or image `Command`), e.g. `assisti_auth.app.handler`."""
    module_name, _, function_name = handler.rpartition(".")
    function: Handler = getattr(importlib.import_module(module_name), function_name)
    return function


def _worker_main(connection: Connection, name: str, handler: str, env: dict[str, str]) -> None:
    # Ctrl-C reaches the whole process group; the stack stops its workers itself (and a worker whose
    # stack died sees its pipe close), so a worker does not die mid-invocation printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(env)
    try:
        module = importlib.import_module(handler.rpartition(".")[0])
        function = getattr(module, handler.rpartition(".")[2])
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
                event, timeout, memory_mb = payload
                result = function(event, LambdaContext(name, memory_mb, timeout_seconds=timeout))
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

    def __init__(self, name: str, handler: str, env: dict[str, str], timeout: float, memory_mb: int) -> None:
        self.name, self.handler, self.env, self.timeout, self.memory_mb = name, handler, env, timeout, memory_mb
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
            args=(child, self.name, self.handler, self.env),
        )
        process.start()
        self._process = process  # known before it is ready: a stop during the cold start ends it too
        status, detail = parent.recv()
        if status != "ready":
            process.join(1)
            raise FunctionError(f"{self.name} failed to import:\n{detail}")
        self._connection = parent

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
        return self._call("invoke", (event, self.timeout, self.memory_mb))

    def openapi(self) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._call("openapi", None)
        return result

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(2)
        self._process = self._connection = None


class FunctionPool:
    """An HTTP function's warm containers, as Lambda scales one: a request takes an idle one, or
    cold-starts a new one while fewer than `concurrency` run, or waits for one to be free. One
    container still handles one invocation at a time, so a request that sleeps in its handler (a
    long-poll, auth's timing floor) holds only its own container, never the whole function."""

    def __init__(
        self, name: str, handler: str, env: dict[str, str], timeout: float, memory_mb: int, concurrency: int
    ) -> None:
        self.name, self.handler, self.env, self.timeout, self.memory_mb = name, handler, env, timeout, memory_mb
        self.concurrency = max(1, concurrency)
        self._idle: queue.SimpleQueue[FunctionWorker] = queue.SimpleQueue()
        self._all: list[FunctionWorker] = []
        self._lock = threading.Lock()

    def _new_worker(self) -> FunctionWorker:
        worker = FunctionWorker(self.name, self.handler, self.env, self.timeout, self.memory_mb)
        self._all.append(worker)  # tracked before its cold start: a stop meanwhile ends it too
        return worker

    def start(self) -> None:
        """The first container, warm before the stack says it is ready; the rest start on demand."""
        with self._lock:
            worker = self._new_worker()
        worker.start()
        self._idle.put(worker)

    def _take(self) -> FunctionWorker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            grow = len(self._all) < self.concurrency
            worker = self._new_worker() if grow else None
        if worker is not None:
            return worker  # its first call cold-starts it, in this request, as in Lambda
        return self._idle.get()

    def _call(self, call: Callable[[FunctionWorker], Any]) -> Any:
        worker = self._take()
        try:
            return call(worker)
        finally:
            self._idle.put(worker)

    def invoke(self, event: dict[str, Any]) -> Any:
        return self._call(lambda worker: worker.invoke(event))

    def openapi(self) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._call(FunctionWorker.openapi)
        return result

    def stop(self) -> None:
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.stop()
