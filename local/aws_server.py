"""Local AWS: moto's server, answering DynamoDB one request at a time, as DynamoDB applies each
request atomically.

moto's DynamoDB backend is not safe under parallel requests. A conditional update checks and writes
in separate steps, and a cancelled transaction restores a copy of its tables taken when it began,
wiping whatever other requests wrote meanwhile. Two taps at once then lose updates that AWS keeps:
a quota counter ends below what was charged. So every server here serialises DynamoDB's requests.
Other services are not serialised: an SQS long-poll must not hold the rest of local AWS.

    python -m local.aws_server -H 127.0.0.1 -p 4566    # moto in a process of its own
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

DYNAMODB_TARGET_PREFIX = "DynamoDB_"  # X-Amz-Target of every DynamoDB call (not of DynamoDB Streams)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def one_dynamodb_request_at_a_time(app: WsgiApp) -> WsgiApp:
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET_PREFIX):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))  # the whole answer made before the next request starts

    return serialised


def _server(host: str, port: int) -> BaseWSGIServer:
    app = one_dynamodb_request_at_a_time(DomainDispatcherApplication(create_backend_app))
    return make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)


class LocalAwsServer:
    """The one way the project runs local AWS in a thread: tests, `make dev`, benchmarks."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = _server(self.host, self.port)  # bound before start returns: ready for requests
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args(argv)
    _server(args.host, args.port).serve_forever()


if __name__ == "__main__":
    main()
