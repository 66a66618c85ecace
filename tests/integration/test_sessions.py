"""Tokens and sessions: refresh rotation and reuse, sign-out, tampered JWTs, other users' data."""

from __future__ import annotations

import time

import jwt

from assisti_common.db.models import SessionModel
from assisti_common.db.users import find_user_by_email
from assisti_common.keys import get_keyring
from assisti_common.settings import get_settings
from tests.helpers import assert_error, bearer, past_the_refresh_retry_window, register, sign_in


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_access_token_has_pinned_claims_and_a_kid(api, messages_for):
    register(api, messages_for, "ann@example.com")
    token = sign_in(api, "ann@example.com")["access_token"]
    header, claims = jwt.get_unverified_header(token), _claims(token)
    assert header["alg"] == "HS256" and header["kid"] == get_keyring().active_kid
    assert claims["iss"] == "assisti" and claims["aud"] == "assisti-app"
    assert claims["exp"] - claims["iat"] <= 900
    assert claims["sub"] == find_user_by_email("ann@example.com").id  # type: ignore[union-attr]
    assert set(claims) == {"iss", "aud", "sub", "sid", "iat", "exp"}


def test_refresh_rotates_and_reusing_a_rotated_token_revokes_the_session(api, messages_for):
    register(api, messages_for, "bo@example.com")
    first = sign_in(api, "bo@example.com")
    second = api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert api.get("/me", headers=bearer(second)).status_code == 200

    # The old refresh token shows up again, past the window for a lost answer: theft. The session dies.
    past_the_refresh_retry_window()
    assert_error(
        api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401, "invalid_refresh_token"
    )
    assert_error(api.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401)
    assert_error(api.get("/me", headers=bearer(second)), 401, "not_authenticated")


def test_a_refresh_repeated_after_its_answer_was_lost_rotates_again_and_keeps_the_session(api, messages_for):
    register(api, messages_for, "eli@example.com")
    first = sign_in(api, "eli@example.com")
    api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})  # the answer never arrives
    repeated = api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert repeated.status_code == 200, repeated.text
    again = api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})  # a second retry
    assert again.status_code == 200, again.text
    assert api.get("/me", headers=bearer(again.json())).status_code == 200
    newest = api.post("/auth/refresh", json={"refresh_token": again.json()["refresh_token"]})
    assert newest.status_code == 200 and api.get("/me", headers=bearer(newest.json())).status_code == 200

    past_the_refresh_retry_window()  # once the window is over, the first token is theft again
    assert_error(api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    assert_error(api.get("/me", headers=bearer(newest.json())), 401, "not_authenticated")


def test_a_garbage_refresh_token_does_not_revoke_the_session(api, messages_for):
    register(api, messages_for, "cy@example.com")
    tokens = sign_in(api, "cy@example.com")
    user_part = tokens["refresh_token"].rsplit(".", 1)[0]
    assert_error(api.post("/auth/refresh", json={"refresh_token": f"{user_part}.guessed"}), 401)
    assert_error(api.post("/auth/refresh", json={"refresh_token": "nonsense"}), 401)
    assert api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 200


def test_refresh_tokens_are_stored_only_as_hashes(api, messages_for):
    register(api, messages_for, "dee@example.com")
    tokens = sign_in(api, "dee@example.com")
    secret = tokens["refresh_token"].rsplit(".", 1)[1]
    for session in SessionModel.scan():
        assert secret not in str(session.to_simple_dict())


def test_sign_out_rejects_that_sessions_tokens_at_once(api, messages_for):
    register(api, messages_for, "eve@example.com")
    phone, laptop = sign_in(api, "eve@example.com"), sign_in(api, "eve@example.com")
    assert api.post("/auth/sign-out", headers=bearer(phone)).status_code == 204
    assert_error(api.get("/me", headers=bearer(phone)), 401)
    assert_error(api.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]}), 401)
    assert api.get("/me", headers=bearer(laptop)).status_code == 200


def test_sign_out_of_all_devices(api, messages_for):
    register(api, messages_for, "fay@example.com")
    phone, laptop = sign_in(api, "fay@example.com"), sign_in(api, "fay@example.com")
    assert api.post("/auth/sign-out", json={"all_devices": True}, headers=bearer(phone)).status_code == 204
    for tokens in (phone, laptop):
        assert_error(api.get("/me", headers=bearer(tokens)), 401)
        assert_error(api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)


def test_tampered_tokens_are_refused(api, messages_for):
    register(api, messages_for, "gus@example.com")
    good = sign_in(api, "gus@example.com")["access_token"]
    claims = _claims(good)
    keyring, settings = get_keyring(), get_settings()
    header = {"kid": keyring.active_kid}
    forged = {
        "alg none": jwt.encode(claims, None, algorithm="none", headers=header),
        "wrong key": jwt.encode(claims, b"x" * 32, algorithm="HS256", headers=header),
        "unknown kid": jwt.encode(claims, keyring.active_signing_key, algorithm="HS256", headers={"kid": "nope"}),
        "expired": jwt.encode(
            {**claims, "iat": time.time() - 1000, "exp": time.time() - 10},
            keyring.active_signing_key,
            algorithm="HS256",
            headers=header,
        ),
        "wrong audience": jwt.encode(
            {**claims, "aud": "someone-else"}, keyring.active_signing_key, algorithm="HS256", headers=header
        ),
        "wrong issuer": jwt.encode(
            {**claims, "iss": "evil"}, keyring.active_signing_key, algorithm="HS256", headers=header
        ),
        "edited payload": good.split(".")[0]
        + "."
        + jwt.encode({**claims, "sub": "x"}, "k" * 32).split(".")[1]
        + "."
        + good.split(".")[2],
        "not a jwt": "abc.def",
    }
    assert settings.token_audience == claims["aud"]
    for name, token in forged.items():
        response = api.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
    assert_error(api.get("/me"), 401, "not_authenticated")
    assert_error(api.get("/me", headers={"Authorization": f"Basic {good}"}), 401)


def test_a_token_for_another_users_session_reaches_nothing(api, messages_for):
    """Even a validly signed token naming user B with user A's session finds no session:
    sessions are keyed by their owner in the data layer itself."""
    register(api, messages_for, "hal@example.com")
    register(api, messages_for, "ida@example.com")
    hal = _claims(sign_in(api, "hal@example.com")["access_token"])
    ida_id = find_user_by_email("ida@example.com").id  # type: ignore[union-attr]
    keyring = get_keyring()
    crossed = jwt.encode(
        {**hal, "sub": ida_id}, keyring.active_signing_key, algorithm="HS256", headers={"kid": keyring.active_kid}
    )
    assert_error(api.get("/me", headers={"Authorization": f"Bearer {crossed}"}), 401)
