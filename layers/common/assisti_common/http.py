"""What every HTTP function shares: the FastAPI app factory, the one error shape, the bearer
dependency and the Lambda entry point (Mangum inside Powertools' logger and metrics).

Only what every request needs is imported at cold start. Token verification (PyJWT, the keyring) and
the session lookup (PynamoDB, botocore) are imported by the first request that carries a token."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, cast

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from mangum import Mangum
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assisti_common import aws, idempotency, lazy, snapstart
from assisti_common.errors import (
    AppError,
    ErrorBody,
    MalformedJson,
    NotAuthenticated,
    ServiceBusy,
    TooManyRequests,
    ValidationFailed,
    error_body,
    field_errors,
)
from assisti_common.observability import logger, metrics
from assisti_common.principal import Client, Principal
from assisti_common.settings import get_settings

if TYPE_CHECKING:
    from assisti_common import keys, tokens
    from assisti_common.db import sessions
else:
    keys = lazy.module("assisti_common.keys")
    tokens = lazy.module("assisti_common.tokens")
    sessions = lazy.module("assisti_common.db.sessions")

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}

ResourceId = Annotated[str, Path(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
"""An id in a path. Bounded well inside DynamoDB's key limits (2 KB hash, 1 KB range), which moto does
not enforce: an over-long id is a 422 here rather than a ValidationException (500) in AWS."""

PageLimit = Annotated[int, Query(ge=1, le=100)]
PageCursor = Annotated[str | None, Query(max_length=2048)]
"""Every list's `?limit=` and `?cursor=` (pagination.py makes and checks the cursors)."""

Responses = dict[int | str, dict[str, Any]]
"""A route's `responses=`: status -> OpenAPI response (FastAPI's `model` key for the schema)."""

_STATUS_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    422: "Validation error",
    429: "Too many requests",
    503: "Service unavailable",
}

_RETRY_AFTER = {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}


def errors(*raised: type[AppError]) -> Responses:
    """The `responses=` of a route: the errors it can answer, grouped by status, each with the common
    error schema and one example per code. create_app adds the ones implied by the route's shape."""
    examples: dict[int, dict[str, Any]] = {}
    for error in raised:
        value = error_body(error.code, error.message, error.details_example)
        examples.setdefault(error.status_code, {})[error.code] = {"value": value}
    return {status: _error_response(status, examples[status]) for status in sorted(examples)}


def _error_response(status: int, examples: dict[str, Any]) -> dict[str, Any]:
    codes = ", ".join(f"`{code}`" for code in sorted(examples))
    response: dict[str, Any] = {
        "model": ErrorBody,
        "description": f"{_STATUS_TITLES.get(status, 'Error')}: {codes}.",
        "content": {"application/json": {"examples": dict(sorted(examples.items()))}},
    }
    if status in (TooManyRequests.status_code, ServiceBusy.status_code):
        response["headers"] = {"Retry-After": _RETRY_AFTER}
    return response


def _examples(response: dict[str, Any]) -> dict[str, Any]:
    examples: dict[str, Any] = response["content"]["application/json"]["examples"]
    return examples


def _implied_errors(route: APIRoute) -> list[type[AppError]]:
    """What any route of this shape can answer: 503 (AWS busy) on every route; 401 if it takes the
    bearer token; 422 and 409 if it takes an Idempotency-Key; 400 (malformed JSON) and 422 if it takes
    a body; 422 if it takes query or path parameters."""
    dependants = list(_with_dependencies(route.dependant))
    implied: list[type[AppError]] = [ServiceBusy]  # every route reads or writes DynamoDB
    if any(dependant.call is current_principal for dependant in dependants):
        implied.append(NotAuthenticated)
    if any(dependant.call is idempotency.replay_of for dependant in dependants):
        implied += [idempotency.IdempotencyKeyReused, idempotency.RequestInProgress]
    if route.body_field is not None:
        implied += [MalformedJson, ValidationFailed]
    elif any(dependant.query_params or dependant.path_params for dependant in dependants):
        implied.append(ValidationFailed)
    return implied


def _with_dependencies(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dependency in dependant.dependencies:
        yield from _with_dependencies(dependency)


def _document_errors(route: APIRoute) -> None:
    """The route's documented errors: those it declared with errors() plus those its shape implies."""
    responses = errors(*_implied_errors(route))
    for status, response in route.responses.items():
        if status in responses:
            merged = {**_examples(responses[status]), **_examples(response)}
            responses[status] = _error_response(int(status), merged)
        else:
            responses[status] = response
    route.responses = dict(sorted(responses.items(), key=lambda item: str(item[0])))


def _request_id(request: Request) -> str | None:
    event = request.scope.get("aws.event") or {}
    return (event.get("requestContext") or {}).get("requestId")


def _json_answer(error: AppError) -> JSONResponse:
    return JSONResponse(error_body(error.code, error.message, error.details), error.status_code, headers=error.headers)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return _json_answer(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse(error_body(MalformedJson.code, MalformedJson.message), MalformedJson.status_code)
    details = field_errors(errors, skip=1)  # the location starts with "body", "query" or "path"
    return JSONResponse(
        error_body(ValidationFailed.code, ValidationFailed.message, details), ValidationFailed.status_code
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    return JSONResponse(error_body(code, message), exc.status_code, headers=getattr(exc, "headers", None))


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path, "error_type": type(exc).__name__})
    return JSONResponse(
        error_body(
            "internal_error", "Something went wrong on our side. Try again.", {"request_id": _request_id(request)}
        ),
        500,
    )


class _BusyIsRetryable:
    """AWS throttling (or not answering) after the SDK's retries is a 503 with Retry-After, not a 500:
    the client may repeat the request. ASGI middleware, so the error is answered here and not also
    re-raised and logged as a crash by Starlette's last-resort handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if started or not aws.is_busy(exc):
                raise
            logger.warning("AWS busy", extra={"path": scope.get("path"), "error_type": type(exc).__name__})
            metrics.add_metric(name="aws_busy", unit="Count", value=1)
            await _json_answer(ServiceBusy())(scope, receive, send)


class _App(FastAPI):
    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            _drop_default_validation_errors(super().openapi())
        return super().openapi()  # the document FastAPI generated once and keeps


def _drop_default_validation_errors(document: dict[str, Any]) -> None:
    """FastAPI documents its own 422 (HTTPValidationError) on every route with any parameter. This app
    answers 422 in the common shape instead, and only where _implied_errors says it can."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            media = operation["responses"].get("422", {}).get("content", {}).get("application/json", {})
            if media.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        document.get("components", {}).get("schemas", {}).pop(name, None)


def create_app(title: str, description: str, routers: Sequence[APIRouter]) -> FastAPI:
    """The app of one function. Its OpenAPI document lists, per route, every error it can answer."""
    app = _App(title=title, description=description, version="1.0.0")
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled_error)
    app.add_middleware(_BusyIsRetryable)
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                _document_errors(route)  # before include_router, which reads route.responses
        app.include_router(router)
    return app


WARM_PATH = "/_snapstart/warm"  # no route answers it: a 404 that goes through every layer of the app


def _warm(asgi: Mangum, warm_up: Callable[[], object] | None) -> None:
    """Before a SnapStart snapshot: what the first request would otherwise pay for. Every deferred
    module is imported, then the function's own `warm_up`; the clients are made through the same
    accessors requests use; they are dropped after the restore, and the service models botocore
    loaded for them stay loaded."""
    from assisti_common import email
    from assisti_common.image_jobs import storage

    lazy.load_all()
    if warm_up is not None:
        warm_up()
    storage.s3()
    email.ses()
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": WARM_PATH,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": WARM_PATH, "sourceIp": "127.0.0.1"}, "stage": "$default"},
        "isBase64Encoded": False,
    }
    asgi(event, None)  # type: ignore[arg-type]  # no invocation yet: no context


def lambda_handler(
    app: FastAPI, warm_up: Callable[[], object] | None = None
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point: an API Gateway HTTP API (v2) event in, its response out. `warm_up` is
    the function's own work to do before a SnapStart snapshot."""
    get_settings()  # validated at cold start: a bad variable fails here, naming it
    asgi = Mangum(app, lifespan="off", api_gateway_base_path="/")
    metrics_disabled = is_metrics_disabled()
    snapstart.register(lambda: _warm(asgi, warm_up))

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return dict(asgi(event, context))
        finally:
            if metrics_disabled:  # Powertools keeps unflushed metrics forever; a local process must not
                metrics.clear_metrics()

    return cast(Callable[[dict[str, Any], Any], dict[str, Any]], handler)


_bearer = HTTPBearer(auto_error=False, description="The access token from sign-in.")


def current_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Verifies the access token and that its session is still live (sign-out takes effect at once)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated()
    claims = tokens.verify_access_token(keys.get_keyring(), get_settings(), credentials.credentials)
    session = sessions.get_session(claims.user_id, claims.session_id)
    if session is None or session.revoked:
        raise NotAuthenticated("The session has ended. Sign in again.")
    return Principal(claims.user_id, claims.session_id)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

USER_AGENT_KEPT = 256  # characters: a label and an audit record, not a place to store a payload


def current_client(request: Request) -> Client:
    """The caller's IP and user agent from API Gateway's request context (what it saw, not headers a
    client could forge, for the IP)."""
    http = ((request.scope.get("aws.event") or {}).get("requestContext") or {}).get("http") or {}
    ip = http.get("sourceIp") or (request.client.host if request.client else None)
    user_agent = http.get("userAgent") or request.headers.get("user-agent")
    return Client(ip=ip, user_agent=user_agent[:USER_AGENT_KEPT] if user_agent else None)


CurrentClient = Annotated[Client, Depends(current_client)]
