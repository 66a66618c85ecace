"""What every HTTP function shares: the FastAPI app factory, the one error shape, the bearer
dependency and the Lambda entry point (Mangum inside Powertools' logger, tracer and metrics)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, cast

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from mangum import Mangum
from starlette.exceptions import HTTPException as StarletteHTTPException

from assisti_common.db import sessions
from assisti_common.errors import AppError, NotAuthenticated, error_body
from assisti_common.keys import get_keyring
from assisti_common.observability import logger, metrics, tracer
from assisti_common.principal import Principal
from assisti_common.settings import get_settings
from assisti_common.tokens import verify_access_token

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

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": code.replace("_", " ").capitalize(),
        "content": {"application/json": {"example": error_body(code, "A human sentence.")}},
    }
    for status, code in [
        (400, "bad_request"),
        (401, "not_authenticated"),
        (422, "validation_error"),
        (429, "too_many_requests"),
    ]
}


def _request_id(request: Request) -> str | None:
    event = request.scope.get("aws.event") or {}
    return (event.get("requestContext") or {}).get("requestId")


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status_code, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse(error_body("malformed_json", "The request body is not valid JSON."), 400)
    # Never echo the submitted values back: they may be passwords or codes.
    details = [
        {
            "field": ".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in errors
    ]
    return JSONResponse(error_body("validation_error", "The request is not valid.", details), 422)


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


def create_app(title: str, description: str, routers: Sequence[APIRouter]) -> FastAPI:
    app = FastAPI(title=title, description=description, version="1.0.0", responses=ERROR_RESPONSES)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled_error)
    for router in routers:
        app.include_router(router)
    return app


def lambda_handler(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point: an API Gateway HTTP API (v2) event in, its response out."""
    asgi = Mangum(app, lifespan="off", api_gateway_base_path="/")
    metrics_disabled = is_metrics_disabled()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
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
    claims = verify_access_token(get_keyring(), get_settings(), credentials.credentials)
    session = sessions.get_session(claims.user_id, claims.session_id)
    if session is None or session.revoked:
        raise NotAuthenticated("The session has ended. Sign in again.")
    return Principal(claims.user_id, claims.session_id)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
