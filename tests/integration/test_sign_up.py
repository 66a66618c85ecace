"""Sign-up, confirmation and resending codes, with the unhappy paths."""

from __future__ import annotations

import time

import pytest

from assisti_auth.codes import Purpose, address_id, code_key
from assisti_common.db.models import AuthCodeModel, UserModel
from assisti_common.db.users import find_user_by_email
from assisti_common.keys import get_keyring
from tests.helpers import PASSWORD, allow_immediate_resend, assert_error, bearer, latest_code, register, sign_in


def test_sign_up_emails_a_code_and_confirming_activates_the_account(api, messages_for):
    response = api.post("/auth/sign-up", json={"email": "Ann@Example.COM", "password": PASSWORD, "name": "Ann"})
    assert response.status_code == 201
    assert response.json()["delivery"] == {"medium": "EMAIL", "destination": "a***@e***.com"}
    user = find_user_by_email("ann@example.com")
    assert user is not None and not user.is_verified and not user.is_active and user.password_hash is None

    code = latest_code(messages_for, "ann@example.com")
    assert (
        api.post(
            "/auth/confirm-sign-up", json={"email": "ANN@example.com", "code": code, "password": PASSWORD}
        ).status_code
        == 200
    )

    user = find_user_by_email("ann@example.com")
    assert user is not None and user.is_verified and user.is_active and user.name == "Ann"
    assert user.username.startswith("user_") and len(user.username) == 11
    me = api.get("/me", headers=bearer(sign_in(api, "ann@example.com"))).json()
    assert me["email"] == "ann@example.com" and me["profile"]["bio"] == ""


def test_cannot_sign_in_before_confirming(api, messages_for):
    api.post("/auth/sign-up", json={"email": "bo@example.com", "password": PASSWORD})
    assert_error(
        api.post("/auth/sign-in", json={"email": "bo@example.com", "password": PASSWORD}), 401, "invalid_credentials"
    )


def test_sign_up_with_a_registered_email_looks_the_same_and_sends_the_owner_a_notice(api, messages_for):
    register(api, messages_for, "cy@example.com")
    fresh = api.post("/auth/sign-up", json={"email": "new@example.com", "password": PASSWORD})
    allow_immediate_resend("cy@example.com", Purpose.SIGN_UP)
    taken = api.post("/auth/sign-up", json={"email": "cy@example.com", "password": "another password 1"})
    assert taken.status_code == fresh.status_code == 201
    assert taken.json()["message"] == fresh.json()["message"]
    notice = messages_for("cy@example.com")[0]
    assert "already has one" in notice["text"] and not any(ch.isdigit() for ch in notice["text"])
    sign_in(api, "cy@example.com")  # the owner's password is untouched


def test_a_stranger_signing_up_the_same_address_cannot_slip_in_their_password(api, messages_for):
    """The takeover: the victim signs up, an attacker signs up the same unconfirmed address with their
    own password and name, and the victim confirms with the newest code. The victim keeps the account."""
    victim_password, attacker_password = "victim's own password 1", "attacker password 2"
    api.post("/auth/sign-up", json={"email": "dee@example.com", "password": victim_password, "name": "Dee"})
    first_code = latest_code(messages_for, "dee@example.com")
    allow_immediate_resend("dee@example.com", Purpose.SIGN_UP)
    api.post("/auth/sign-up", json={"email": "dee@example.com", "password": attacker_password, "name": "Mallory"})
    newest_code = latest_code(messages_for, "dee@example.com")
    confirm = {"email": "dee@example.com", "password": victim_password}
    assert_error(api.post("/auth/confirm-sign-up", json={**confirm, "code": first_code}), 400, "invalid_code")
    assert api.post("/auth/confirm-sign-up", json={**confirm, "code": newest_code}).status_code == 200

    assert_error(api.post("/auth/sign-in", json={"email": "dee@example.com", "password": attacker_password}), 401)
    me = api.get("/me", headers=bearer(sign_in(api, "dee@example.com", victim_password))).json()
    assert me["name"] == "Dee"


def test_the_name_given_with_the_confirmed_password_is_kept(api, messages_for):
    api.post("/auth/sign-up", json={"email": "dan@example.com", "password": "someone else's 1", "name": "Mallory"})
    allow_immediate_resend("dan@example.com", Purpose.SIGN_UP)
    api.post("/auth/sign-up", json={"email": "dan@example.com", "password": PASSWORD, "name": "Dan"})
    code = latest_code(messages_for, "dan@example.com")
    confirm = {"email": "dan@example.com", "code": code, "password": PASSWORD}
    assert api.post("/auth/confirm-sign-up", json=confirm).status_code == 200
    assert api.get("/me", headers=bearer(sign_in(api, "dan@example.com"))).json()["name"] == "Dan"


def test_a_code_works_once(api, messages_for):
    api.post("/auth/sign-up", json={"email": "eve@example.com", "password": PASSWORD})
    code = latest_code(messages_for, "eve@example.com")
    assert (
        api.post(
            "/auth/confirm-sign-up", json={"email": "eve@example.com", "code": code, "password": PASSWORD}
        ).status_code
        == 200
    )
    assert_error(
        api.post("/auth/confirm-sign-up", json={"email": "eve@example.com", "code": code, "password": PASSWORD}),
        400,
        "invalid_code",
    )


def test_brute_forcing_a_code_kills_it_after_five_wrong_tries(api, messages_for):
    api.post("/auth/sign-up", json={"email": "fay@example.com", "password": PASSWORD})
    code = latest_code(messages_for, "fay@example.com")
    wrong = [f"{(int(code) + offset) % 1_000_000:06d}" for offset in range(1, 6)]
    for guess in wrong:
        assert_error(
            api.post("/auth/confirm-sign-up", json={"email": "fay@example.com", "code": guess, "password": PASSWORD}),
            400,
            "invalid_code",
        )
    # The right code is now dead too.
    assert_error(
        api.post("/auth/confirm-sign-up", json={"email": "fay@example.com", "code": code, "password": PASSWORD}),
        400,
        "invalid_code",
    )
    assert not find_user_by_email("fay@example.com").is_verified  # type: ignore[union-attr]


def test_an_expired_code_is_refused_even_before_the_table_ttl_removes_it(api, messages_for):
    api.post("/auth/sign-up", json={"email": "gus@example.com", "password": PASSWORD})
    code = latest_code(messages_for, "gus@example.com")
    item = AuthCodeModel.get(code_key(Purpose.SIGN_UP, address_id(get_keyring(), "gus@example.com")))
    item.update(actions=[AuthCodeModel.expires_at.set(int(time.time()) - 1)])
    assert_error(
        api.post("/auth/confirm-sign-up", json={"email": "gus@example.com", "code": code, "password": PASSWORD}),
        400,
        "invalid_code",
    )


def test_codes_are_stored_only_as_keyed_hashes(api, messages_for):
    api.post("/auth/sign-up", json={"email": "hal@example.com", "password": PASSWORD})
    code = latest_code(messages_for, "hal@example.com")
    item = AuthCodeModel.get(code_key(Purpose.SIGN_UP, address_id(get_keyring(), "hal@example.com")))
    stored = str(item.to_simple_dict())
    assert code not in stored and "hal@example.com" not in stored and PASSWORD not in stored


def test_resend_is_limited_to_one_per_minute_for_every_address(api, messages_for):
    api.post("/auth/sign-up", json={"email": "ida@example.com", "password": PASSWORD})
    known = api.post("/auth/resend-code", json={"email": "ida@example.com"})
    unknown_first = api.post("/auth/resend-code", json={"email": "nobody@example.com"})
    unknown_again = api.post("/auth/resend-code", json={"email": "nobody@example.com"})
    body = assert_error(known, 429, "too_many_requests")
    assert 1 <= body["error"]["details"]["retry_after_seconds"] <= 60 and known.headers["retry-after"]
    assert unknown_first.status_code == 200
    assert_error(unknown_again, 429, "too_many_requests")  # the same limits whether or not it exists
    assert messages_for("nobody@example.com") == []


def test_resend_sends_a_new_code_that_voids_the_old_one(api, messages_for):
    api.post("/auth/sign-up", json={"email": "jo@example.com", "password": PASSWORD})
    old = latest_code(messages_for, "jo@example.com")
    allow_immediate_resend("jo@example.com", Purpose.SIGN_UP)
    assert api.post("/auth/resend-code", json={"email": "jo@example.com"}).status_code == 200
    new = latest_code(messages_for, "jo@example.com")
    assert len(messages_for("jo@example.com")) == 2
    if new != old:
        assert_error(
            api.post("/auth/confirm-sign-up", json={"email": "jo@example.com", "code": old, "password": PASSWORD}), 400
        )
    assert (
        api.post(
            "/auth/confirm-sign-up", json={"email": "jo@example.com", "code": new, "password": PASSWORD}
        ).status_code
        == 200
    )
    sign_in(api, "jo@example.com")  # the password from sign-up carried over to the new code


def test_at_most_five_codes_an_hour_per_address(aws):
    from assisti_auth import codes
    from assisti_auth.settings import get_auth_settings
    from assisti_common.errors import TooManyRequests

    keyring, settings, start = get_keyring(), get_auth_settings(), time.time()
    for attempt in range(5):
        codes.issue_code(
            keyring, settings, Purpose.RESET_PASSWORD, "kim@example.com", user_id=None, now=start + attempt * 61
        )
    with pytest.raises(TooManyRequests) as refused:
        codes.issue_code(keyring, settings, Purpose.RESET_PASSWORD, "kim@example.com", user_id=None, now=start + 5 * 61)
    assert refused.value.details["retry_after_seconds"] > 3000
    codes.issue_code(
        keyring, settings, Purpose.RESET_PASSWORD, "kim@example.com", user_id=None, now=start + 3601
    )  # the oldest send has left the hour


def test_a_failed_sign_up_never_leaves_a_half_written_account(api):
    assert_error(api.post("/auth/sign-up", json={"email": "not-an-email", "password": PASSWORD}), 422)
    assert_error(api.post("/auth/sign-up", json={"email": "lu@example.com", "password": "short"}), 422)
    assert list(UserModel.scan()) == []
