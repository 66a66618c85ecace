"""Text a person types (a name, a title, a message): checked, and documented exactly as it is checked.

    Name = Annotated[str, Text(max_length=100, min_length=1)]

`max_length` bounds the text as sent. `min_length` counts what is left once the surrounding whitespace is
dropped ("  " is empty, not two characters); the OpenAPI schema says so with a pattern: that many
characters from the first non-blank one to the last. With `trim` (the default) the trimmed text is what the
route gets.

Whitespace is Unicode's White_Space, spelled out (WHITESPACE) rather than left to `\\s` or `str.isspace()`:
those differ between regular expression engines (Python counts \\x1c-\\x1f, ECMAScript U+FEFF), and the
schema's pattern must mean the same to a client, to a JSON Schema validator and to this check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
BLANK = r"[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""WHITESPACE as a regular expression class, the same in Python, ECMAScript and Rust."""
NOT_BLANK = "[^" + BLANK[1:]


@dataclass(frozen=True)
class Text:
    max_length: int
    min_length: int = 0
    trim: bool = True

    @property
    def pattern(self) -> str | None:
        """The JSON Schema pattern of `min_length` (search semantics: anywhere in the text)."""
        if self.min_length <= 0:
            return None
        if self.min_length == 1:
            return NOT_BLANK
        return rf"{NOT_BLANK}[\s\S]{{{self.min_length - 2},}}{NOT_BLANK}"

    def check(self, value: str) -> str:
        trimmed = value.strip(WHITESPACE)
        if len(trimmed) < self.min_length:
            if self.min_length == 1:
                raise ValueError("must not be empty or only spaces")
            raise ValueError(f"must have at least {self.min_length} characters besides spaces")
        return trimmed if self.trim else value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # What is sent is bounded first: a megabyte of spaces is turned away before it is stripped.
        sent = core_schema.str_schema(min_length=self.min_length or None, max_length=self.max_length)
        return core_schema.no_info_after_validator_function(self.check, sent)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        document = handler(schema)
        if self.pattern is not None:
            document["pattern"] = self.pattern
        return document
