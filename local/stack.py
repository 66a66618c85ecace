"""`make dev`: moto as local AWS, every resource and route from template.yaml, a mailbox.

    python -m local.stack            # PORT=3000 by default; LOCAL_AWS_PORT=4566 for moto

Ctrl-C stops it; data lives for the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from local.aws_server import LocalAwsServer
from local.fake_llm import MODEL as FAKE_MODEL
from local.fake_llm import FakeLLM
from local.functions import FunctionPool, FunctionWorker
from local.gateway import BoundRoute, Gateway
from local.mailbox import Mail, Mailbox
from local.provision import provision
from local.pump import QueuePump
from local.template import LOCAL_REGION, ROOT, LocalTemplate, load_template
from local.web_adapter import WebAdapterFunction

# Models exported by `make models`, outside the functions' folders so no zip carries them.
LOCAL_MODEL_DIRS = {
    "ASSISTI_OCR_MODEL_DIR": str(ROOT / ".models" / "ocr"),
    "ASSISTI_VISION_MODEL_DIR": str(ROOT / ".models" / "vision"),
}

# Variables a developer may set in their shell to configure every function locally.
PASSTHROUGH_PREFIXES = ("ASSISTI_", "OPENAI_")


class PortInUse(RuntimeError):
    """A port the stack needs is taken; the message says which and how to choose another."""


def free_port() -> int:
    """A loopback port nobody is listening on (for tests and benchmarks that start their own servers)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_aws_environment(endpoint_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": LOCAL_REGION,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
    }


def function_environment(template_env: dict[str, str], endpoint_url: str) -> dict[str, str]:
    """The function's variables from the template, pointed at moto, plus the developer's overrides."""
    overrides = {name: value for name, value in os.environ.items() if name.startswith(PASSTHROUGH_PREFIXES)}
    return {
        **template_env,
        **local_aws_environment(endpoint_url),
        "ASSISTI_STAGE": "local",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
        "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would drown the console
        "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
        **overrides,
    }


def print_mail(mail: Mail) -> None:
    body = "\n".join(f"    {line}" for line in mail.text.splitlines())
    print(f"\n[mailbox] to {', '.join(mail.to)}: {mail.subject}\n{body}\n", flush=True)


@dataclass
class LocalStack:
    port: int = 3000
    aws_port: int = 4566
    host: str = "127.0.0.1"
    quiet: bool = False
    concurrency: int = 4  # warm containers per HTTP function at most (LOCAL_CONCURRENCY)
    workers: dict[str, FunctionWorker | FunctionPool] = field(default_factory=dict)
    adapters: dict[str, WebAdapterFunction] = field(default_factory=dict)

    def __post_init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.endpoint_url = f"http://{self.host}:{self.aws_port}"
        self.moto = LocalAwsServer(self.host, self.aws_port)
        self.mailbox = Mailbox(on_new=None if self.quiet else print_mail)
        self.llm_environment: dict[str, str] = {}
        self.fake_llm: FakeLLM | None = None
        self.aws_started = False

    def check_ports(self) -> None:
        """Both ports must be free before anything starts: a taken one (LocalStack holds 4566 by default)
        stops the stack at once, saying which and how to move it, instead of failing half-started."""
        for port, variable in ((self.port, "PORT"), (self.aws_port, "LOCAL_AWS_PORT")):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is free
                try:
                    probe.bind((self.host, port))
                except OSError as exc:
                    raise PortInUse(
                        f"Port {port} on {self.host} is already in use ({exc.strerror}), so the local stack cannot "
                        f"start. Stop what holds it, or choose another port: make dev {variable}={free_port()}"
                    ) from exc

    def start_aws(self) -> dict[str, list[str]]:
        self.moto.start()
        self.aws_started = True
        os.environ.update(local_aws_environment(self.endpoint_url))
        self.template = LocalTemplate(load_template())
        return provision(self.template, self.endpoint_url)

    def start_functions(self) -> Gateway:
        """Every function in its own process; routes to the HTTP ones, queue pumps to the SQS ones."""
        routes: list[BoundRoute] = []
        pumps: list[QueuePump] = []
        openapi_sources: dict[str, Callable[[], dict[str, Any] | None]] = {}
        for function in self.template.functions():
            environment = {
                **function_environment(function.environment, self.endpoint_url),
                **self.llm_environment,
                **LOCAL_MODEL_DIRS,
            }
            if function.asgi_app is not None:  # behind the Lambda Web Adapter: an HTTP server, not a handler
                self.adapters[function.logical_id] = WebAdapterFunction(
                    function.logical_id, function.asgi_app, environment, free_port()
                )
                continue
            worker: FunctionWorker | FunctionPool
            if function.routes:  # concurrent requests each get a container, up to the local concurrency
                worker = FunctionPool(
                    function.logical_id,
                    function.handler,
                    environment,
                    function.timeout,
                    function.memory_mb,
                    self.concurrency,
                )
            else:  # a queue's pump hands it one batch at a time
                worker = FunctionWorker(
                    function.logical_id, function.handler, environment, function.timeout, function.memory_mb
                )
            self.workers[function.logical_id] = worker
            routes += [BoundRoute(route, function.logical_id, worker.invoke) for route in function.routes]
            pumps += [QueuePump(source, worker.invoke, self.endpoint_url) for source in function.queues]
            if function.routes:
                openapi_sources[function.logical_id] = worker.openapi
        starting: list[FunctionWorker | FunctionPool | WebAdapterFunction] = [
            *self.workers.values(),
            *self.adapters.values(),
        ]
        with ThreadPoolExecutor(max_workers=4) as pool:  # cold-start them all before reporting ready
            list(pool.map(lambda function: function.start(), starting))
        for pump in pumps:
            name = f"pump-{pump.source.queue_name}"
            threading.Thread(target=pump.run, args=(self.stopping,), name=name, daemon=True).start()
        streaming = next(iter(self.adapters.values()), None)
        return Gateway(
            routes,
            self.mailbox,
            openapi_sources,
            self.ready.is_set,
            stream_upstream=streaming.base_url if streaming else None,
            fake_llm=self.fake_llm,
        )

    def start_llm(self) -> str:
        """The developer's LLM if OPENAI_BASE_URL is set; otherwise the project's local stand-in."""
        if os.environ.get("OPENAI_BASE_URL"):
            self.llm_environment = {"OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "local-no-key")}
            return f"LLM: {os.environ['OPENAI_BASE_URL']}"
        rate = os.environ.get("LOCAL_LLM_TOKENS_PER_SECOND")  # to watch answers stream; POST /_local/llm too
        self.fake_llm = FakeLLM(tokens_per_second=float(rate) if rate else None).start()
        self.llm_environment = {
            "OPENAI_BASE_URL": self.fake_llm.base_url,
            "OPENAI_API_KEY": "local-no-key",
            "ASSISTI_CHAT_MODEL": FAKE_MODEL,
        }
        return f"LLM: none configured, the local deterministic stand-in at {self.fake_llm.base_url}"

    def run(self) -> None:
        self.check_ports()
        try:  # Ctrl-C (or SIGTERM) at any point of the start-up still stops whatever has started
            self._start_and_serve()
        finally:
            self.stop()

    def _start_and_serve(self) -> None:
        llm_line = self.start_llm()
        created = self.start_aws()
        gateway = self.start_functions()
        threading.Thread(target=self.mailbox.watch, args=(self.stopping,), daemon=True).start()
        config = uvicorn.Config(
            gateway.app(), host=self.host, port=self.port, log_level="warning", access_log=not self.quiet
        )
        server = uvicorn.Server(config)
        base = f"http://{self.host}:{self.port}"

        def announce() -> None:
            while not server.started and not self.stopping.is_set():
                self.stopping.wait(0.05)
            self.ready.set()
            summary = ", ".join(f"{len(names)} {kind}" for kind, names in created.items() if names)
            functions = len(self.workers) + len(self.adapters)
            print(
                f"Assisti local stack ready on {base} (API docs: {base}/docs, mailbox: {base}/_local/mailbox,"
                f" local AWS: {self.endpoint_url}; {summary}; {functions} functions; {llm_line})",
                flush=True,
            )

        threading.Thread(target=announce, daemon=True).start()
        server.run()

    def stop(self) -> None:
        """Stops what has started, whatever stage the start-up reached."""
        self.stopping.set()
        for worker in self.workers.values():
            worker.stop()
        for adapter in self.adapters.values():
            adapter.stop()
        if self.aws_started:
            self.moto.stop()
        if self.fake_llm is not None:
            self.fake_llm.stop()
        if not self.quiet:
            print("Assisti local stack stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    del argv
    stack = LocalStack(
        port=int(os.environ.get("PORT", "3000")),
        aws_port=int(os.environ.get("LOCAL_AWS_PORT", "4566")),
        quiet=os.environ.get("LOCAL_QUIET", "") == "1",
        concurrency=int(os.environ.get("LOCAL_CONCURRENCY", "4")),
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
            stack.run()
    except PortInUse as busy:
        print(busy, file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
