"""Password sign-in, passwordless codes, two-factor, and throttling of wrong passwords."""

from __future__ import annotations

import time

from assisti_auth.codes import address_id, password_guard_key
from assisti_common.db.models import PasswordGuardModel
from assisti_common.keys import get_keyring
from tests.conftest import ENUMERATION_FLOOR_MS
from tests.helpers import PASSWORD, assert_error, bearer, latest_code, register, sign_in


def test_password_sign_in_returns_short_lived_tokens(api, messages_for):
    register(api, messages_for, "ann@example.com")
    tokens = sign_in(api, "Ann@Example.com")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    assert tokens["refresh_token"].startswith("rt1.")
    assert api.get("/me", headers=bearer(tokens)).json()["email"] == "ann@example.com"


def test_wrong_password_and_unknown_email_get_the_same_answer(api, messages_for):
    register(api, messages_for, "bo@example.com")
    wrong = api.post("/auth/sign-in", json={"email": "bo@example.com", "password": "not the password"})
    unknown = api.post("/auth/sign-in", json={"email": "nobody@example.com", "password": "not the password"})
    assert assert_error(wrong, 401, "invalid_credentials") == assert_error(unknown, 401, "invalid_credentials")


def test_passwordless_sign_in_gives_the_same_challenge_shape_for_unknown_emails(api, messages_for):
    register(api, messages_for, "cy@example.com")
    known = api.post("/auth/sign-in/code", json={"email": "cy@example.com"})
    unknown = api.post("/auth/sign-in/code", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert set(known.json()) == set(unknown.json()) == {"challenge", "session", "delivery"}
    assert known.json()["challenge"] == unknown.json()["challenge"] == "EMAIL_OTP"
    assert len(known.json()["session"]) == len(unknown.json()["session"])
    assert messages_for("ghost@example.com") == []

    code = latest_code(messages_for, "cy@example.com")
    response = api.post("/auth/respond-to-challenge", json={"session": known.json()["session"], "code": code})
    assert response.status_code == 200
    assert api.get("/me", headers=bearer(response.json())).status_code == 200


def test_a_challenge_for_an_unknown_email_can_never_be_answered(api):
    session = api.post("/auth/sign-in/code", json={"email": "ghost@example.com"}).json()["session"]
    for code in ("000000", "123456"):
        assert api.post("/auth/respond-to-challenge", json={"session": session, "code": code}).status_code == 400


def test_a_forged_or_stale_challenge_session_is_refused(api, messages_for):
    register(api, messages_for, "dee@example.com")
    first = api.post("/auth/sign-in/code", json={"email": "dee@example.com"}).json()["session"]
    code = latest_code(messages_for, "dee@example.com")
    forged = first.rsplit(".", 1)[0] + ".forged-secret"
    assert_error(api.post("/auth/respond-to-challenge", json={"session": forged, "code": code}), 401, "invalid_session")
    assert_error(
        api.post("/auth/respond-to-challenge", json={"session": "garbage", "code": code}), 401, "invalid_session"
    )


def test_two_factor_turns_password_sign_in_into_an_email_challenge(api, messages_for):
    register(api, messages_for, "eve@example.com")
    tokens = sign_in(api, "eve@example.com")
    assert api.put("/me/two-factor", json={"enabled": True}, headers=bearer(tokens)).json()["two_factor_enabled"]

    challenge = api.post("/auth/sign-in", json={"email": "eve@example.com", "password": PASSWORD})
    assert challenge.status_code == 200 and challenge.json()["challenge"] == "EMAIL_OTP"
    assert "access_token" not in challenge.json()
    code = latest_code(messages_for, "eve@example.com")
    assert_error(
        api.post(
            "/auth/respond-to-challenge",
            json={"session": challenge.json()["session"], "code": f"{(int(code) + 1) % 10**6:06d}"},
        ),
        400,
        "invalid_code",
    )
    response = api.post("/auth/respond-to-challenge", json={"session": challenge.json()["session"], "code": code})
    assert response.status_code == 200 and "access_token" in response.json()
    # A code answers one challenge only.
    assert_error(
        api.post("/auth/respond-to-challenge", json={"session": challenge.json()["session"], "code": code}),
        401,
        "invalid_session",
    )


def test_repeated_wrong_passwords_are_throttled_even_for_the_right_one(api, messages_for):
    register(api, messages_for, "fay@example.com")
    for _ in range(5):
        assert_error(api.post("/auth/sign-in", json={"email": "fay@example.com", "password": "guess guess"}), 401)
    locked = api.post("/auth/sign-in", json={"email": "fay@example.com", "password": PASSWORD})
    body = assert_error(locked, 429, "too_many_requests")
    assert "emailed code" in body["error"]["message"]
    # Unknown emails are throttled the same way, so the lock does not reveal an account.
    for _ in range(5):
        api.post("/auth/sign-in", json={"email": "nobody@example.com", "password": "guess guess"})
    assert_error(api.post("/auth/sign-in", json={"email": "nobody@example.com", "password": "x"}), 429)


def test_the_password_lock_is_short_and_never_blocks_emailed_codes(api, messages_for):
    register(api, messages_for, "gus@example.com")
    for _ in range(6):
        api.post("/auth/sign-in", json={"email": "gus@example.com", "password": "guess guess"})
    guard = PasswordGuardModel.get(password_guard_key(address_id(get_keyring(), "gus@example.com")))
    assert guard.locked_until - time.time() <= 900  # never longer than the cap
    # The owner can still get in with an emailed code.
    session = api.post("/auth/sign-in/code", json={"email": "gus@example.com"}).json()["session"]
    code = latest_code(messages_for, "gus@example.com")
    assert api.post("/auth/respond-to-challenge", json={"session": session, "code": code}).status_code == 200
    # Once the wait is over, the right password works and clears the count.
    guard.update(actions=[PasswordGuardModel.locked_until.set(0)])
    sign_in(api, "gus@example.com")
    assert PasswordGuardModel.count(password_guard_key(address_id(get_keyring(), "gus@example.com"))) == 0


def test_enumeration_sensitive_answers_take_at_least_the_floor(api, messages_for):
    register(api, messages_for, "hal@example.com")
    for email in ("hal@example.com", "nobody@example.com"):
        started = time.perf_counter()
        api.post("/auth/forgot-password", json={"email": email})
        assert (time.perf_counter() - started) * 1000 >= ENUMERATION_FLOOR_MS
