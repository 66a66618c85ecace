"""The document and the apps agree on what a request may be: a body openapi.json calls invalid is a 422,
and one it calls valid is not. Each case is one `make fuzz` found them disagreeing on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.helpers import PASSWORD, assert_error
from tools.openapi import DOCUMENT_PATH

DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text())
LANGUAGE = {"name": "Spanish", "assistant": "language_tutor", "language": "Spanish"}


def documented_as_valid(method: str, path: str, body: Any) -> bool:
    media = DOCUMENT["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
    schema = {**media["schema"], "components": DOCUMENT["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(body)


def _category(api: Any, headers: dict[str, str]) -> str:
    response = api.post("/categories", json={"name": "Notes"}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        # Surrounding whitespace does not count: blank names, languages and messages are invalid.
        ("POST", "/categories", {"name": " "}),
        ("POST", "/categories", {"name": "\u3000\n"}),
        ("POST", "/categories", {"name": "Notes", "language": " a "}),
        ("POST", "/categories/{category_id}/messages", {"message": ""}),
        ("POST", "/categories/{category_id}/messages", {"message": " \t "}),
        # The length bound is on the text as sent.
        ("POST", "/categories", {"name": "n" * 100 + " "}),
        # The language tutor needs a language.
        ("POST", "/categories", {"name": "Spanish", "assistant": "language_tutor"}),
        ("POST", "/categories", {"name": "Spanish", "assistant": "language_tutor", "language": None}),
        # A value of another JSON type is never coerced.
        ("POST", "/categories", {"name": "Notes", "instructions": 7}),
        ("POST", "/auth/sign-out", {"all_devices": 0}),
        ("PUT", "/me/two-factor", {"enabled": 0}),
        ("PUT", "/me/two-factor", {"enabled": "false"}),
        # Emails at special-use domains, padded and common passwords.
        ("POST", "/auth/sign-up", {"email": "x@id.test", "password": PASSWORD}),
        ("POST", "/auth/sign-up", {"email": "x@mail.LOCAL", "password": PASSWORD}),
        ("POST", "/auth/sign-up", {"email": "ann@example.com", "password": "PassWord123"}),
        ("POST", "/auth/sign-up", {"email": "ann@example.com", "password": PASSWORD + "\u2003"}),
        ("POST", "/auth/forgot-password", {"email": ""}),
        # A challenge takes one answer: the code or the password.
        ("POST", "/auth/respond-to-challenge", {"session": "s", "code": "123456", "password": PASSWORD}),
        ("POST", "/auth/respond-to-challenge", {"session": "s"}),
        ("POST", "/auth/respond-to-challenge", {"session": "s", "code": None, "password": None}),
    ],
)
def test_a_body_the_document_calls_invalid_is_a_422(api, ann, method, path, body):
    concrete = path.replace("{category_id}", _category(api, ann)) if "{category_id}" in path else path

    assert not documented_as_valid(method, path, body)
    error = assert_error(api.request(method, concrete, json=body, headers=ann), 422)
    assert error["error"]["code"] in ("validation_error", "language_required")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/categories", {"name": "  Notes  "}, 201),
        ("POST", "/categories", {"name": "\x1cNotes"}, 201),  # not whitespace to Unicode (to str.isspace() it is)
        ("POST", "/categories", LANGUAGE, 201),
        ("POST", "/categories/{category_id}/messages", {"message": " /help "}, 201),
        ("POST", "/auth/sign-out", {"all_devices": False}, 204),
        ("POST", "/auth/respond-to-challenge", {"session": "s", "code": "123456", "password": None}, 401),
        ("POST", "/auth/forgot-password", {"email": "someone@example.com"}, 200),
    ],
)
def test_a_body_the_document_calls_valid_is_not_a_422(api, ann, method, path, body, status):
    concrete = path.replace("{category_id}", _category(api, ann)) if "{category_id}" in path else path

    assert documented_as_valid(method, path, body)
    response = api.request(method, concrete, json=body, headers=ann)
    assert response.status_code == status, response.text


def test_a_name_is_stored_without_its_surrounding_spaces(api, ann):
    created = api.post("/categories", json={"name": "\u2003 Notes \n"}, headers=ann)

    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Notes"


@pytest.mark.parametrize("path", ["/ocr", "/vision/animals", "/vision/road-signs"])
@pytest.mark.parametrize("title", [" ", "t" * 200 + " "])
def test_an_image_title_the_document_calls_invalid_is_a_422(api, ann, path, title):
    assert not documented_as_valid("POST", path, {"title": title})
    assert_error(api.post(path, json={"title": title}, headers=ann), 422, "validation_error")
