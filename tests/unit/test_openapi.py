"""The API contract (openapi.json) is an artifact: it must say what the apps and the template do."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local.template import LocalTemplate, load_template
from tools.openapi import DOCUMENT_PATH, differences, generate, operations

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}
DOCUMENTED_ERROR_STATUSES = {"400", "401", "403", "404", "409", "413", "422", "429", "503"}


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text())
    return document


def _errors(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {status: response for status, response in operation["responses"].items() if status[0] in "45"}


def test_committed_openapi_json_is_what_the_apps_generate(committed: dict[str, Any]) -> None:
    generated = generate()

    assert generated == committed, "\n".join(
        ["openapi.json is stale; run `python -m tools.openapi`. What differs:", *differences(committed, generated)]
    )


def test_the_document_has_exactly_the_http_api_routes_of_the_template(committed: dict[str, Any]) -> None:
    template_routes = {
        (route.method, route.path)
        for function in LocalTemplate(load_template()).functions()
        for route in function.routes
    }

    assert set(operations(committed)) == template_routes
    assert not {path for path in committed["paths"] if path.startswith(("/_local", "/health", "/docs", "/openapi"))}


def test_every_documented_error_uses_the_common_error_schema(committed: dict[str, Any]) -> None:
    for (method, path), operation in operations(committed).items():
        for status, response in _errors(operation).items():
            where = f"{method} {path} {status}"
            assert status in DOCUMENTED_ERROR_STATUSES, where
            media = response["content"]["application/json"]
            assert media["schema"] == ERROR_SCHEMA, where
            for code, example in media["examples"].items():
                assert example["value"]["error"]["code"] == code, where
    detail = committed["components"]["schemas"]["ErrorDetail"]
    assert committed["components"]["schemas"]["ErrorBody"]["properties"] == {
        "error": {"$ref": "#/components/schemas/ErrorDetail"}
    }
    assert set(detail["properties"]) == {"code", "message", "details"}
    assert set(detail["required"]) == {"code", "message"}


def test_every_route_documents_the_errors_its_shape_implies(committed: dict[str, Any]) -> None:
    for (method, path), operation in operations(committed).items():
        documented = _errors(operation)
        codes = {
            status: set(response["content"]["application/json"]["examples"]) for status, response in documented.items()
        }
        where = f"{method} {path}"
        if operation.get("security"):  # the bearer token
            assert "not_authenticated" in codes.get("401", set()), where
        if "requestBody" in operation:
            assert "malformed_json" in codes.get("400", set()), where
            assert "validation_error" in codes.get("422", set()), where
        if "{" in path:
            assert "not_found" in codes.get("404", set()), where
        assert "service_busy" in codes.get("503", set()), where  # AWS throttling, on every route
        for status in {"429", "503"} & set(documented):
            assert "Retry-After" in documented[status].get("headers", {}), where


def test_each_status_is_documented_where_the_code_can_answer_it(committed: dict[str, Any]) -> None:
    routes = operations(committed)

    def statuses(route: str) -> set[str]:
        method, path = route.split(" ", 1)
        return set(_errors(routes[(method, path)]))

    assert {"403"} <= statuses("GET /admin/users") and {"403", "409"} <= statuses("PATCH /admin/users/{user_id}")
    assert "409" in statuses("PATCH /me")
    assert {"409", "429"} <= statuses("POST /categories/{category_id}/messages/{message_id}/retry")
    assert "429" in statuses("POST /categories/{category_id}/messages")
    for emailing in ("sign-up", "resend-code", "sign-in", "sign-in/code", "forgot-password"):
        assert {"429", "503"} <= statuses(f"POST /auth/{emailing}"), emailing
    assert not statuses("POST /auth/sign-up") & {"401", "403", "404"}
    assert statuses("GET /me/usage") == {"401", "503"}


def test_each_create_links_to_every_operation_that_takes_what_it_created(committed: dict[str, Any]) -> None:
    by_id = {operation["operationId"]: key for key, operation in operations(committed).items()}
    takes = {
        ("POST", "/categories"): "/categories/{category_id}",
        ("POST", "/categories/{category_id}/messages"): "/categories/{category_id}/messages/{message_id}",
        ("POST", "/ocr"): "/ocr/{item_id}",
        ("POST", "/vision/animals"): "/vision/animals/{item_id}",
        ("POST", "/vision/road-signs"): "/vision/road-signs/{item_id}",
    }
    for (method, path), prefix in takes.items():
        links = operations(committed)[(method, path)]["responses"]["201"]["links"]
        targets = {by_id[link["operationId"]] for link in links.values()}
        # every operation on what was created (and under it, with no id of its own besides)
        wanted = {
            key
            for key in operations(committed)
            if key[1].startswith(prefix) and key[1].count("{") == prefix.count("{") and key != (method, path)
        }
        assert targets == wanted, (method, path)
        for link in links.values():
            target_path = by_id[link["operationId"]][1]
            taken = {name.removeprefix("path.") for name in link["parameters"]}
            assert {f"{{{name}}}" for name in taken} == set(re.findall(r"\{\w+\}", target_path)), link
            assert all(expression.startswith("$response.body#/") for expression in link["parameters"].values())


def test_each_error_example_has_the_details_that_error_answers_with(committed: dict[str, Any]) -> None:
    from assisti_common.idempotency import IdempotencyKeyReused

    for (method, path), operation in operations(committed).items():
        examples = _errors(operation).get("422", {}).get("content", {}).get("application/json", {}).get("examples", {})
        if IdempotencyKeyReused.code in examples:
            assert examples[IdempotencyKeyReused.code]["value"]["error"].get("details") is None, (method, path)
