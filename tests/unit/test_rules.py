"""Rules that need no AWS: throttling curve, cursors, email normalisation, masking."""

from __future__ import annotations

import pytest

from assisti_auth import schemas
from assisti_auth.settings import AuthSettings as Settings
from assisti_auth.throttle import lockout_seconds
from assisti_common.errors import InvalidCursor
from assisti_common.pagination import decode_cursor, encode_cursor

KEY = b"h" * 32


def test_lockout_doubles_after_the_free_failures_and_is_capped():
    settings = Settings()
    waits = [lockout_seconds(settings, failures) for failures in range(1, 20)]
    assert waits[:4] == [0, 0, 0, 0]
    assert waits[4:8] == [1, 2, 4, 8]
    assert max(waits) == settings.password_lockout_max_seconds == 900


def test_cursor_round_trip_and_scope():
    last_key = {"id": {"S": "abc"}}
    cursor = encode_cursor(KEY, "users", last_key)
    assert cursor is not None and decode_cursor(KEY, "users", cursor) == last_key
    assert encode_cursor(KEY, "users", None) is None and decode_cursor(KEY, "users", None) is None
    with pytest.raises(InvalidCursor):
        decode_cursor(KEY, "someone-elses-list", cursor)


@pytest.mark.parametrize("cursor", ["", ".", "abc", "abc.def", "x" * 3000])
def test_malformed_cursors(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(KEY, "users", cursor)


@pytest.mark.parametrize(("raw", "normal"), [("Ann@Example.COM", "ann@example.com"), (" a.b@x.io ", "a.b@x.io")])
def test_emails_are_normalised_case_insensitively(raw, normal):
    assert schemas.normalize_email(raw) == normal


@pytest.mark.parametrize("raw", ["plain", "a@", "@b.com", "a@b", "a b@c.com"])
def test_invalid_emails(raw):
    with pytest.raises(ValueError):
        schemas.normalize_email(raw)


def test_mask_email():
    assert schemas.mask_email("ann@example.com") == "a***@e***.com"
    assert schemas.mask_email("x@localhost") == "x***@l***"
