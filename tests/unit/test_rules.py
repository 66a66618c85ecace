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
    assert waits[4:8] == [2, 4, 8, 16]
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


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
            "Chrome on Windows",
        ),
        ("Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36", "Chrome on Android"),
        ("Assisti/2.3 CFNetwork/1494.0.7 Darwin/23.4.0", "iOS app"),
        ("python-httpx/0.28.1", "python-httpx"),
        ("", "Unknown device"),
        (None, "Unknown device"),
        ("<script>", "Unknown device"),
    ],
)
def test_device_labels_name_the_client_and_platform(user_agent, label):
    from assisti_auth.devices import device_label

    assert device_label(user_agent) == label
