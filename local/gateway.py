"""The local HTTP API: every HttpApi route of the template, each request turned into a real
API Gateway HTTP API (payload 2.0) event and handed to that function's real Lambda handler."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from assisti_common.errors import error_body
from local.fake_llm import FakeLLM
from local.mailbox import Mailbox
from local.template import LOCAL_ACCOUNT
from local.template import Route as TemplateRoute
from tools.openapi import merge as merge_openapi

EVENT_STREAM = "text/event-stream"
HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's own limit
INVOCATION_THREADS = 64  # requests in flight at once, across every function


@dataclass
class BoundRoute:
    route: TemplateRoute
    function_name: str
    invoke: Callable[[dict[str, Any]], Any]

    def __post_init__(self) -> None:
        self.regex = self.route.pattern()


def build_event(request: Request, body: bytes, route: TemplateRoute, path_parameters: dict[str, str]) -> dict[str, Any]:
    """An API Gateway HTTP API v2 event, as Lambda receives it."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    cookies = [f"{name}={value}" for name, value in request.cookies.items()]
    headers.pop("cookie", None)
    query: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = headers.get("content-type", "")
    is_text = not body or (content_type.startswith(TEXT_TYPES) and _is_utf8(body))
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.url.path,
        "rawQueryString": request.url.query,
        "headers": headers,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": "local",
            "domainName": request.url.hostname or "127.0.0.1",
            "domainPrefix": (request.url.hostname or "127").split(".")[0],
            "http": {
                "method": request.method,
                "path": request.url.path,
                "protocol": f"HTTP/{request.scope.get('http_version', '1.1')}",
                "sourceIp": request.client.host if request.client else "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode() if is_text else base64.b64encode(body).decode(),
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    return event


def _is_utf8(body: bytes) -> bool:
    """API Gateway passes a text body as a string only when it is valid UTF-8; anything else arrives
    base64-encoded (isBase64Encoded), whatever its content type says. It never fails on a body."""
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def to_response(result: Any) -> Response:
    """Lambda's payload-2.0 response format back into HTTP."""
    if not isinstance(result, dict) or "statusCode" not in result:
        body = result if isinstance(result, str) else json.dumps(result)
        return Response(body, 200, media_type="application/json")
    raw = result.get("body") or ""
    content = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    response = Response(content, int(result["statusCode"]))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.append(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.append("set-cookie", cookie)
    return response


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status)


class Gateway:
    def __init__(
        self,
        routes: list[BoundRoute],
        mailbox: Mailbox,
        openapi_sources: dict[str, Callable[[], dict[str, Any] | None]],
        is_ready: Callable[[], bool],
        stream_upstream: str | None = None,
        stream_timeout: float = 120.0,
        fake_llm: FakeLLM | None = None,
    ) -> None:
        # The most specific route wins, as in API Gateway.
        self.routes = sorted(routes, key=lambda bound: bound.route.specificity, reverse=True)
        self.mailbox = mailbox
        self.openapi_sources = openapi_sources
        self.is_ready = is_ready
        self._openapi: dict[str, Any] | None = None
        # The streaming function URL (AWS: ChatStreamUrl): where a request for Server-Sent Events goes.
        self.stream_upstream = stream_upstream
        self.stream_timeout = stream_timeout
        self._stream_client: httpx.AsyncClient | None = None
        self.fake_llm = fake_llm
        # Its own threads for invocations: requests waiting for a busy function's containers must not
        # take asyncio's few default threads from requests to idle functions.
        self.invocations = ThreadPoolExecutor(max_workers=INVOCATION_THREADS, thread_name_prefix="invoke")

    def match(self, method: str, path: str) -> tuple[BoundRoute, dict[str, str]] | None:
        for bound in self.routes:
            found = bound.regex.match(path)
            if found and bound.route.method in ("ANY", method):
                return bound, found.groupdict()
        return None

    async def dispatch(self, request: Request) -> Response:
        matched = self.match(request.method, request.url.path)
        if matched is None:
            return _error(404, "not_found", f"No route for {request.method} {request.url.path}.")
        bound, path_parameters = matched
        body = await request.body()
        if len(body) > MAX_PAYLOAD_BYTES:
            return _error(413, "payload_too_large", "The request body is over 10 MB.")
        if self.stream_upstream is not None and EVENT_STREAM in request.headers.get("accept", ""):
            return await self.relay_stream(request, body)
        event = build_event(request, body, bound.route, path_parameters)
        try:
            result = await asyncio.get_running_loop().run_in_executor(self.invocations, bound.invoke, event)
        except Exception as exc:  # what API Gateway does when the integration fails
            print(f"[gateway] {bound.function_name} failed: {exc}", flush=True)
            return _error(502, "bad_gateway", "The function failed to answer.")
        return to_response(result)

    async def relay_stream(self, request: Request, body: bytes) -> Response:
        """Forwards to the streaming function and relays its response chunk by chunk, never buffered:
        the local stand-in for a function URL in RESPONSE_STREAM mode, at the same base URL and path."""
        assert self.stream_upstream is not None
        if self._stream_client is None:
            timeout = httpx.Timeout(self.stream_timeout, connect=5.0)
            self._stream_client = httpx.AsyncClient(base_url=self.stream_upstream, timeout=timeout)
        headers = [(name, value) for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP]
        upstream = self._stream_client.build_request(
            request.method, request.url.path, params=request.url.query, headers=headers, content=body
        )
        try:
            response = await self._stream_client.send(upstream, stream=True)
        except httpx.TransportError as exc:
            print(f"[gateway] the streaming function failed: {exc}", flush=True)
            return _error(502, "bad_gateway", "The function failed to answer.")

        async def relay() -> Any:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()  # the client left, or the stream ended: the function goes on alone

        kept = {name: value for name, value in response.headers.items() if name.lower() not in HOP_BY_HOP}
        return StreamingResponse(relay(), status_code=response.status_code, headers=kept)

    async def llm_route(self, request: Request) -> Response:
        """The local LLM stand-in's controls, to see and measure streaming and to script its failures:
        `{"tokens_per_second": 20}` (null: as fast as it can), `{"script": ["stall:2", "drop:5"]}`."""
        if self.fake_llm is None:
            return _error(404, "not_found", "This stack uses a real LLM (OPENAI_BASE_URL), not the stand-in.")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "malformed_json", "The request body is not valid JSON.")
        if "tokens_per_second" in body:
            rate = body["tokens_per_second"]
            self.fake_llm.tokens_per_second = float(rate) if rate else None
        self.fake_llm.script(*[str(step) for step in body.get("script", [])])
        return JSONResponse({"tokens_per_second": self.fake_llm.tokens_per_second, "base_url": self.fake_llm.base_url})

    async def health(self, _: Request) -> Response:
        if not self.is_ready():
            return _error(503, "starting", "The local stack is still starting.")
        return JSONResponse({"status": "ok", "functions": sorted({r.function_name for r in self.routes})})

    async def mailbox_route(self, request: Request) -> Response:
        to = request.query_params.get("to")
        return JSONResponse({"messages": [mail.as_json() for mail in self.mailbox.messages(to)]})

    def merged_openapi(self) -> dict[str, Any]:
        """The document `python -m tools.openapi` commits, merged the same way from the running functions."""
        if self._openapi is None:
            self._openapi = merge_openapi({name: source() for name, source in self.openapi_sources.items()})
        return self._openapi

    async def openapi_route(self, _: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(self.merged_openapi))

    async def docs_route(self, _: Request) -> Response:
        page: HTMLResponse = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Assisti API (local)",
            swagger_js_url="/_local/swagger/swagger-ui-bundle.js",
            swagger_css_url="/_local/swagger/swagger-ui.css",
            swagger_favicon_url="/_local/swagger/favicon-32x32.png",
        )
        return page

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/health", self.health, methods=["GET"]),
                Route("/docs", self.docs_route, methods=["GET"]),
                Route("/openapi.json", self.openapi_route, methods=["GET"]),
                Route("/_local/mailbox", self.mailbox_route, methods=["GET"]),
                Route("/_local/llm", self.llm_route, methods=["POST"]),
                Mount("/_local/swagger", StaticFiles(directory=swagger_ui_path)),
                Route("/{path:path}", _EveryMethod(self.dispatch)),
            ]
        )


class _EveryMethod:
    """The API's catch-all as a plain ASGI endpoint, which Starlette routes whatever the method: TRACE,
    CONNECT and extension methods reach `dispatch` too, and a method no route takes is a 404 in the one
    error shape (API Gateway's answer when nothing matches), never Starlette's plain-text 405."""

    def __init__(self, handle: Callable[[Request], Awaitable[Response]]) -> None:
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)
