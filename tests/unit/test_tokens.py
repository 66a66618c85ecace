"""Access tokens: pinned algorithm, iss/aud/exp checks, key rotation by kid."""

from __future__ import annotations

import time

import jwt
import pytest

from assisti_common.errors import InvalidRefreshToken, NotAuthenticated
from assisti_common.keys import Keyring, generate_keyring_document
from assisti_common.settings import Settings
from assisti_common.tokens import AccessClaims, RefreshToken, issue_access_token, verify_access_token

SETTINGS = Settings()
CLAIMS = AccessClaims("user-1", "session-1")


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_json(generate_keyring_document("k1"))


def test_round_trip(keyring):
    token = issue_access_token(keyring, SETTINGS, CLAIMS)
    assert verify_access_token(keyring, SETTINGS, token) == CLAIMS
    assert jwt.get_unverified_header(token)["kid"] == "k1"


def test_expired_tokens_are_refused(keyring):
    token = issue_access_token(keyring, SETTINGS, CLAIMS, now=time.time() - SETTINGS.access_token_seconds - 5)
    with pytest.raises(NotAuthenticated):
        verify_access_token(keyring, SETTINGS, token)


def test_alg_none_is_refused(keyring):
    payload = jwt.decode(issue_access_token(keyring, SETTINGS, CLAIMS), options={"verify_signature": False})
    unsigned = jwt.encode(payload, None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(NotAuthenticated):
        verify_access_token(keyring, SETTINGS, unsigned)


def test_other_hmac_algorithms_are_refused(keyring):
    payload = jwt.decode(issue_access_token(keyring, SETTINGS, CLAIMS), options={"verify_signature": False})
    token = jwt.encode(payload, keyring.active_signing_key * 2, algorithm="HS512", headers={"kid": "k1"})
    with pytest.raises(NotAuthenticated):
        verify_access_token(keyring, SETTINGS, token)


def test_rotation_old_kid_still_verifies_until_removed(keyring):
    old_token = issue_access_token(keyring, SETTINGS, CLAIMS)
    new_key = Keyring.from_json(generate_keyring_document("k2")).signing_keys["k2"]
    both = Keyring("k2", {**keyring.signing_keys, "k2": new_key}, keyring.hash_key)
    assert verify_access_token(both, SETTINGS, old_token) == CLAIMS
    new_token = issue_access_token(both, SETTINGS, CLAIMS)
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    only_new = Keyring("k2", {"k2": both.signing_keys["k2"]}, keyring.hash_key)
    with pytest.raises(NotAuthenticated):
        verify_access_token(only_new, SETTINGS, old_token)


def test_claims_must_be_complete(keyring):
    token = jwt.encode(
        {
            "iss": SETTINGS.token_issuer,
            "aud": SETTINGS.token_audience,
            "sub": "u",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        keyring.active_signing_key,
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    with pytest.raises(NotAuthenticated):
        verify_access_token(keyring, SETTINGS, token)  # no session id


@pytest.mark.parametrize("text", ["", "rt1", "rt1.a.b", "rt2.a.b.c", "rt1..b.c", "rt1.a.b.c.d", "rt1.a.b." + "c" * 300])
def test_malformed_refresh_tokens(text):
    with pytest.raises(InvalidRefreshToken):
        RefreshToken.parse(text)


def test_refresh_token_round_trip(keyring):
    token = RefreshToken.new("user-1", "session-1")
    parsed = RefreshToken.parse(str(token))
    assert parsed == token and parsed.hashed(keyring) == token.hashed(keyring)
    assert token.secret not in token.hashed(keyring)
