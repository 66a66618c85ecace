"""The rules of secrets: codes, keyed hashes, password hashing, the keyring."""

from __future__ import annotations

import pytest

from assisti_auth import passwords
from assisti_common import security
from assisti_common.keys import Keyring, generate_keyring_document


def test_codes_are_six_digits_and_vary():
    codes = {security.new_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 150


def test_keyed_hash_depends_on_key_purpose_and_value():
    key, other = b"k" * 32, b"o" * 32
    base = security.keyed_hash(key, "code", "123456")
    assert base != security.keyed_hash(other, "code", "123456")
    assert base != security.keyed_hash(key, "session", "123456")
    assert base != security.keyed_hash(key, "code", "123457")
    assert "123456" not in base


def test_password_hashing_is_argon2id_and_verifies():
    hashed = passwords.hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "correct horse")
    assert not passwords.verify_password(hashed, "correct horsE")
    assert not passwords.verify_password("not a hash", "x")


def test_verifying_without_an_account_still_answers_false():
    assert passwords.verify_password(None, "anything") is False


def test_constant_time_equal():
    assert security.constant_time_equal("abc", "abc")
    assert not security.constant_time_equal("abc", "abd")


def test_keyring_round_trip_and_validation():
    document = generate_keyring_document("k9")
    keyring = Keyring.from_json(document)
    assert keyring.active_kid == "k9" and len(keyring.active_signing_key) == 32
    with pytest.raises(ValueError):
        Keyring.from_json({**document, "active_kid": "missing"})
    with pytest.raises(ValueError):
        Keyring.from_json({**document, "hash_key": "c2hvcnQ"})  # too short
    with pytest.raises(ValueError):
        Keyring.from_json({"signing_keys": "nope"})


def test_importing_the_password_module_spends_no_argon2_hash():
    """The dummy hash waits for the first unknown address, not the cold start."""
    import subprocess
    import sys

    script = "import assisti_auth.passwords as p; print(p.dummy_hash.cache_info().currsize)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"
