"""Local AWS: moto's server, answering DynamoDB one request at a time, as DynamoDB applies each
request atomically.

moto's DynamoDB backend is not safe under parallel requests. A conditional update checks and writes
in separate steps, and a cancelled transaction restores a copy of its tables taken when it began,
wiping whatever other requests wrote meanwhile. Two taps at once then lose updates that AWS keeps:
a quota counter ends below what was charged. So every server here serialises DynamoDB's requests.
Other services are not serialised: an SQS long-poll must not hold the rest of local AWS.

moto 5.2's S3 events name no object version, where S3's name one for a versioned bucket (the uploads
bucket is): the server here names it. And moto frees an object's bytes as soon as another write
replaces or deletes it, even while a read, or the first write (reading them for its event's ETag),
still uses them: two uploads at once through one presigned POST answered 500 and one was never
announced, and a read racing a replacement answered 500. S3 serves the old object or the new one; here
a replaced object's bytes are freed once nothing uses them any more.

moto answers in a millisecond or two, where S3's median for a small object is tens of milliseconds
(AWS's S3 performance guidelines) and DynamoDB's a few. A benchmark that measures what those round
trips cost sets a latency per service (`LATENCY_PATH`): each request to it waits that long before it
is answered, as on a network, without using the CPU. None is set unless a caller asks.

    python -m local.aws_server -H 127.0.0.1 -p 4566    # moto in a process of its own
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.s3 import notifications as s3_notifications
from moto.s3.models import FakeKey
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


LATENCY_PATH = "/_local/latency"  # POST {"s3": 0.02, "dynamodb": 0.005}: seconds per request ({} for none)
RESET_PATH = "/moto-api/reset"  # moto's own: every service's state dropped (and any latency set here)
# The service a SigV4 request is signed for: the fourth part of its credential scope, from the
# Authorization header or a presigned URL's X-Amz-Credential (a browser's POST form has neither).
_CREDENTIAL_SERVICE = re.compile(
    r"Credential=[^/,&%]+(?:/|%2F)[^/,&%]+(?:/|%2F)[^/,&%]+(?:/|%2F)([a-z0-9-]+)(?:/|%2F)", re.I
)


def with_latency(app: WsgiApp) -> WsgiApp:
    latency: dict[str, float] = {}  # replaced whole, never changed in place: a request reads one setting

    def delayed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        nonlocal latency
        path = environ.get("PATH_INFO")
        if path == LATENCY_PATH and environ.get("REQUEST_METHOD") == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            try:
                setting = {
                    str(service).lower(): float(seconds) for service, seconds in json.loads(body or b"{}").items()
                }
            except (ValueError, TypeError, AttributeError):
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [b'expected {"service": seconds, ...}']
            latency = setting
            start_response("204 No Content", [])
            return [b""]
        if path == RESET_PATH:
            latency = {}  # a reset account answers as fast as it did before anything was set
        setting = latency
        if setting:
            found = _CREDENTIAL_SERVICE.search(environ.get("HTTP_AUTHORIZATION", "") or environ.get("QUERY_STRING", ""))
            delay = setting.get(found.group(1).lower(), 0.0) if found else 0.0
            if delay > 0:
                time.sleep(delay)  # before the request is served (and before DynamoDB's lock: a wait, not work)
        return app(environ, start_response)

    return delayed


def _bytes_freed_once_unused() -> None:
    """moto closes a replaced or deleted object's buffer at once (`FakeKey.dispose`); here that only
    marks it and stops moto tracking it (moto keeps every model it makes until a reset), so that the
    object is freed, and its buffer closed by moto's `__del__` without the "not disposed of in time"
    warning, once no read or write still holds it."""
    dispose = FakeKey.dispose
    if getattr(dispose, "frees_once_unused", False):
        return

    def dispose_once_unused(self: FakeKey, garbage: bool = False) -> None:
        if garbage:
            dispose(self, garbage=True)
            return
        self.disposed = True
        with contextlib.suppress(ValueError):  # already untracked (disposed twice) or reset meanwhile
            FakeKey.instances_tracked.remove(self)  # type: ignore[attr-defined]

    dispose_once_unused.frees_once_unused = True  # type: ignore[attr-defined]
    FakeKey.dispose = dispose_once_unused  # type: ignore[method-assign]


def _events_name_the_version() -> None:
    """Makes moto's S3 event notifications name the object's version (`s3.object.versionId`), as S3's
    do for a versioned bucket (moto names none)."""
    make_event = s3_notifications._get_s3_event
    if getattr(make_event, "names_the_version", False):
        return

    def event_naming_the_version(event_name: Any, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event: dict[str, Any] = make_event(event_name, bucket, key, notification_id)
        if bucket.is_versioned:
            for record in event["Records"]:
                record["s3"]["object"]["versionId"] = key.version_id
        return event

    event_naming_the_version.names_the_version = True  # type: ignore[attr-defined]
    s3_notifications._get_s3_event = event_naming_the_version


def _server(host: str, port: int) -> BaseWSGIServer:
    _events_name_the_version()
    _bytes_freed_once_unused()
    app = with_latency(one_dynamodb_request_at_a_time(DomainDispatcherApplication(create_backend_app)))
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
