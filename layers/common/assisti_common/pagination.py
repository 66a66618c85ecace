"""Opaque, tamper-evident cursors over DynamoDB's LastEvaluatedKey."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from assisti_common.errors import InvalidCursor
from assisti_common.keys import get_keyring
from assisti_common.security import constant_time_equal, keyed_hash

MAX_CURSOR_LENGTH = 2048
T = TypeVar("T")


def encode_cursor(hash_key: bytes, scope: str, last_key: dict[str, Any] | None) -> str | None:
    """`scope` binds the cursor to one list of one owner, so it cannot be replayed elsewhere."""
    if not last_key:
        return None
    body = base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode().rstrip("=")
    return f"{body}.{keyed_hash(hash_key, f'cursor:{scope}', body)[:32]}"


def decode_cursor(hash_key: bytes, scope: str, cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    body, _, signature = cursor.partition(".")
    if (
        len(cursor) > MAX_CURSOR_LENGTH
        or not body
        or not constant_time_equal(signature, keyed_hash(hash_key, f"cursor:{scope}", body)[:32])
    ):
        raise InvalidCursor()
    try:
        value = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(value, dict):
        raise InvalidCursor()
    return value


Page = tuple[list[T], str | None]


def paginate(scope: str, cursor: str | None, fetch: Callable[[dict[str, Any] | None], tuple[list[T], Any]]) -> Page[T]:
    """One page of a list: decodes the caller's cursor for `scope`, fetches from that key, and
    encodes the next one. Every list endpoint pages through here."""
    hash_key = get_keyring().hash_key
    items, last_key = fetch(decode_cursor(hash_key, scope, cursor))
    return items, encode_cursor(hash_key, scope, last_key)
