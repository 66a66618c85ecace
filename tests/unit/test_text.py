"""assisti_common.text: what a field of typed text accepts is what its OpenAPI schema says it accepts."""

from __future__ import annotations

from typing import Annotated

import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from assisti_common.text import WHITESPACE, Text

CANDIDATES = sorted({*WHITESPACE, *(chr(code) for code in range(0x3001) if chr(code).isspace()), "\ufeff", "\u180e"})


class Form(BaseModel):
    name: Annotated[str, Text(max_length=12, min_length=1)]
    language: Annotated[str, Text(max_length=12, min_length=2)] = "en"
    message: Annotated[str, Text(max_length=12, min_length=1, trim=False)] = "hi"


def accepted(field: str, value: str) -> bool:
    try:
        Form.model_validate({"name": "x", field: value})
    except ValidationError:
        return False
    return True


def samples() -> list[str]:
    found = ["", "a", "ab", "a b", " ab ", "a" * 12, "a" * 13, " " * 12 + "a"]
    for char in CANDIDATES:
        found += [char, f"{char}a", f"a{char}", f"{char}a{char}", f"{char}ab{char}", f"a{char}b"]
    return found


@pytest.mark.parametrize("field", ["name", "language", "message"])
def test_the_documented_schema_accepts_exactly_what_the_field_accepts(field):
    schema = Form.model_json_schema()["properties"][field]
    python = Draft202012Validator(schema)  # Python's `re`
    rust = jsonschema_rs.validator_for(schema)  # Rust's regex crate, ECMAScript-like

    for value in samples():
        assert python.is_valid(value) == accepted(field, value), (field, value)
        assert rust.is_valid(value) == accepted(field, value), (field, value)


def test_typed_text_is_trimmed_unless_kept_as_sent():
    form = Form.model_validate({"name": "\u3000 Ann\n", "language": " es ", "message": " /help "})

    assert (form.name, form.language, form.message) == ("Ann", "es", " /help ")


def test_the_bound_is_on_the_text_as_sent():
    assert not accepted("name", "a" * 12 + " ")
