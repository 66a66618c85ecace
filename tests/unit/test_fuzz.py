"""tools/fuzz.py, `make fuzz`'s driver: its own check, and that it fuzzes every operation of the document."""

from __future__ import annotations

import json

import pytest

from tools.fuzz import EXCLUDED_CHECKS, error_body_problems, function_operations, schemathesis_command
from tools.openapi import DOCUMENT_PATH, operations

ERROR = {"error": {"code": "not_found", "message": "Not found.", "details": None}}


def test_the_common_error_body_passes_the_check():
    assert error_body_problems(404, "application/json", json.dumps(ERROR).encode()) == []
    assert error_body_problems(200, "text/plain", b"anything") == []  # not an error: not this check's


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain; charset=utf-8", b"Method Not Allowed"),  # Starlette's own 405 (fixed in the gateway)
        ("application/json", b"{"),
        ("application/json", json.dumps({"message": "Not Found"}).encode()),  # API Gateway's own shape
        ("application/json", json.dumps({"detail": "Not Found"}).encode()),  # FastAPI's
        ("application/json", json.dumps({"error": {"code": "not_found", "message": "Not found."}}).encode()),
        ("application/json", json.dumps({"error": {**ERROR["error"], "code": "Not Found"}}).encode()),
        ("application/json", json.dumps({"error": {**ERROR["error"], "message": ""}}).encode()),
        ("application/json", json.dumps({**ERROR, "request_id": "1"}).encode()),
    ],
)
def test_any_other_error_body_fails_the_check(content_type, body):
    assert error_body_problems(405, content_type, body)


def test_every_operation_of_the_document_is_fuzzed_with_its_function():
    document = json.loads(DOCUMENT_PATH.read_text())
    labels = [label for function in function_operations(document).values() for label in function]

    assert sorted(labels) == sorted(f"{method} {path}" for method, path in operations(document))


def test_every_check_runs_but_the_excluded_ones(tmp_path):
    command = schemathesis_command("http://x", ["GET /me"], 10, 1, ["fuzzing"], tmp_path / "r.json", 1)

    assert "--checks=all" in command
    assert f"--exclude-checks={','.join(sorted(EXCLUDED_CHECKS))}" in command
    assert set(EXCLUDED_CHECKS) == {"unsupported_method", "object_level_authorization"}
