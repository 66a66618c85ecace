"""Bad input gets a clear 4xx in the one error shape; secrets never reach the logs."""

from __future__ import annotations

import io

import pytest

from assisti_common.observability import logger
from tests.helpers import PASSWORD, assert_error, bearer, latest_code, register, sign_in


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/sign-up", {"email": "a@example.com"}),
        ("/auth/sign-up", {"email": "a@example.com", "password": "password123"}),
        ("/auth/sign-up", {"email": "a@example.com", "password": " padded password "}),
        ("/auth/sign-up", {"email": "a@example.com", "password": "x" * 257}),
        ("/auth/sign-up", {"email": "a" * 300 + "@example.com", "password": PASSWORD}),
        ("/auth/sign-up", {"email": "a@example.com", "password": PASSWORD, "is_staff": True}),
        ("/auth/confirm-sign-up", {"email": "a@example.com", "code": "12345", "password": PASSWORD}),
        ("/auth/confirm-sign-up", {"email": "a@example.com", "code": "123456"}),
        ("/auth/confirm-sign-up", {"email": "a@example.com", "code": "abcdef", "password": PASSWORD}),
        ("/auth/sign-in", {"email": "a@example.com", "password": ""}),
        ("/auth/sign-in", {"email": ["a@example.com"], "password": "x"}),
        ("/auth/refresh", {}),
        ("/auth/respond-to-challenge", {"session": "", "code": "123456"}),
    ],
)
def test_invalid_bodies_get_a_validation_error(api, path, body):
    response = api.post(path, json=body)
    error = assert_error(response, 422, "validation_error")
    assert PASSWORD not in response.text and "password123" not in response.text
    assert all({"field", "message", "type"} == set(item) for item in error["error"]["details"])


def test_malformed_json_is_a_400(api):
    response = api.post("/auth/sign-in", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 400, "malformed_json")


def test_unknown_routes_and_methods(api):
    assert_error(api.get("/auth/nothing-here"), 404)
    assert_error(api.get("/auth/sign-in"), 404)  # API Gateway has no GET route for it


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "PUT"])
@pytest.mark.parametrize("path", ["/categories", "/ocr/01a1b2c3", "/me"])
def test_a_method_no_route_takes_is_a_404_in_the_common_error_shape(api, ann, method, path):
    assert_error(api.request(method, path, headers=ann), 404, "not_found")


def test_no_code_password_or_token_is_ever_logged(api, messages_for):
    log = io.StringIO()
    previous = logger.registered_handler.setStream(log)  # type: ignore[attr-defined]
    try:
        secrets = _exercise_every_secret(api, messages_for)
    finally:
        logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]
    output = log.getvalue()
    assert "account confirmed" in output and "session started" in output  # the logs did run
    for secret in secrets:
        assert secret not in output


def _exercise_every_secret(api, messages_for) -> list[str]:
    register(api, messages_for, "ann@example.com")
    tokens = sign_in(api, "ann@example.com")
    api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    api.post("/auth/sign-in", json={"email": "ann@example.com", "password": "a wrong password"})
    api.post("/auth/forgot-password", json={"email": "ann@example.com"})
    code = latest_code(messages_for, "ann@example.com")
    api.post(
        "/auth/confirm-forgot-password",
        json={"email": "ann@example.com", "code": code, "new_password": "new password 42"},
    )
    api.get("/me", headers=bearer(tokens))
    return [
        PASSWORD,
        "a wrong password",
        "new password 42",
        code,
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["refresh_token"].rsplit(".", 1)[1],
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/categories/{id}"),
        ("DELETE", "/categories/{id}/messages/{id}"),
        ("POST", "/categories/{id}/messages/{id}/retry"),
        ("GET", "/ocr/{id}"),
        ("PATCH", "/vision/animals/{id}"),
        ("DELETE", "/me/sessions/{id}"),
        ("GET", "/admin/users/{id}/security-events"),
    ],
)
def test_ids_past_dynamodbs_key_limits_are_a_422_not_a_500(api, ann, method, path):
    """DynamoDB refuses keys over 2 KB (hash) and 1 KB (range) with a ValidationException that moto does
    not raise: the bound must hold before any read."""
    response = api.request(method, path.replace("{id}", "a" * 2049), headers=ann, json={"title": "t"})
    assert_error(response, 422, "validation_error")


def test_a_body_that_is_not_utf8_is_a_clear_400_not_a_500(api):
    """API Gateway base64-encodes such a body (the local gateway too) and the app refuses it cleanly."""
    body = b'{"email": "\xff\xfe@example.com", "password": "x"}'
    response = api.post("/auth/sign-in", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400)
