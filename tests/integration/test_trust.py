"""The security review's account defects, each as the attack that worked: guessing in parallel,
guessing across many codes, the mailbox as the only factor, irreversible changes on a stale session,
a sign-in racing a deactivation. Each test fails on the code before the fix."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from assisti_auth import service
from assisti_auth.codes import Purpose, address_id, failures_key
from assisti_auth.settings import get_auth_settings
from assisti_common.db import sessions, users
from assisti_common.db.models import CodeFailuresModel, SessionModel
from assisti_common.db.users import find_user_by_email, set_flags
from assisti_common.errors import UserDisabled
from assisti_common.keys import get_keyring
from assisti_common.principal import Client
from tests.helpers import PASSWORD, allow_immediate_resend, assert_error, bearer, latest_code, register, sign_in


class CountingVerifier:
    """Wraps the password check to count how many guesses argon2 really verified."""

    def __init__(self, verify):
        self.verify, self.calls, self.lock = verify, 0, threading.Lock()

    def __call__(self, *args):
        with self.lock:
            self.calls += 1
        return self.verify(*args)


def _burst(count, send):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: send(), range(count)))


def test_a_burst_of_parallel_wrong_passwords_verifies_at_most_the_free_allowance(api, messages_for, monkeypatch):
    register(api, messages_for, "ann@example.com")
    verifier = CountingVerifier(service.verify_password)
    monkeypatch.setattr(service, "verify_password", verifier)

    responses = _burst(25, lambda: api.post("/auth/sign-in", json={"email": "ann@example.com", "password": "guess 1"}))

    statuses = sorted(response.status_code for response in responses)
    free = get_auth_settings().password_failures_free
    assert verifier.calls <= free
    assert statuses.count(401) == verifier.calls and statuses.count(429) == 25 - verifier.calls
    assert_error(api.post("/auth/sign-in", json={"email": "ann@example.com", "password": PASSWORD}), 429)


def test_parallel_guesses_of_one_code_compare_at_most_its_tries(api, messages_for):
    register(api, messages_for, "bo@example.com")
    session = api.post("/auth/sign-in/code", json={"email": "bo@example.com"}).json()["session"]
    code = latest_code(messages_for, "bo@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    responses = _burst(12, lambda: api.post("/auth/respond-to-challenge", json={"session": session, "code": wrong}))

    assert all(response.status_code == 400 for response in responses)
    # Every try was spent, however many were in flight: the right code is now refused too.
    assert_error(api.post("/auth/respond-to-challenge", json={"session": session, "code": code}), 400, "invalid_code")
    compared = CodeFailuresModel.get(failures_key(Purpose.SIGN_IN, address_id(get_keyring(), "bo@example.com")))
    assert compared.failures == get_auth_settings().code_max_attempts  # the other guesses never reached the hash


def _spend_code_budget(api, messages_for, email, purpose, start, answer):
    """Asks for codes and answers each wrongly until the day's budget of wrong codes is spent."""
    settings = get_auth_settings()
    wrong_left = settings.code_failures_per_day
    handle = start()
    while True:
        real = latest_code(messages_for, email)
        for _ in range(min(settings.code_max_attempts, wrong_left)):
            answer(handle, f"{(int(real) + 1) % 1_000_000:06d}")
            wrong_left -= 1
        if wrong_left == 0:
            return
        allow_immediate_resend(email, purpose)
        handle = start()


def test_wrong_codes_across_many_codes_end_in_a_daily_budget_that_the_password_lifts(api, messages_for, monkeypatch):
    register(api, messages_for, "cy@example.com")
    monkeypatch.setenv("ASSISTI_CODE_SENDS_PER_HOUR", "50")  # this test is about the budget, not the send limit
    get_auth_settings.cache_clear()
    try:
        _spend_code_budget(
            api,
            messages_for,
            "cy@example.com",
            Purpose.SIGN_IN,
            lambda: api.post("/auth/sign-in/code", json={"email": "cy@example.com"}).json()["session"],
            lambda session, guess: api.post("/auth/respond-to-challenge", json={"session": session, "code": guess}),
        )
        allow_immediate_resend("cy@example.com", Purpose.SIGN_IN)
        refused = assert_error(api.post("/auth/sign-in/code", json={"email": "cy@example.com"}), 429)
        assert "password" in refused["error"]["message"]
        assert refused["error"]["details"]["retry_after_seconds"] > 3600  # until the day-long window ends
        # A reset code is another purpose, with its own budget: still allowed.
        assert api.post("/auth/forgot-password", json={"email": "cy@example.com"}).status_code == 200

        sign_in(api, "cy@example.com")  # the password proves the owner: codes work again
        session = api.post("/auth/sign-in/code", json={"email": "cy@example.com"}).json()["session"]
        code = latest_code(messages_for, "cy@example.com")
        assert api.post("/auth/respond-to-challenge", json={"session": session, "code": code}).status_code == 200
    finally:
        get_auth_settings.cache_clear()


def _two_factor_user(api, messages_for, email):
    register(api, messages_for, email)
    tokens = sign_in(api, email)
    assert api.put("/me/two-factor", json={"enabled": True}, headers=bearer(tokens)).json()["two_factor_enabled"]
    return tokens


def test_with_two_factor_the_mailbox_alone_never_signs_in(api, messages_for):
    _two_factor_user(api, messages_for, "dee@example.com")
    session = api.post("/auth/sign-in/code", json={"email": "dee@example.com"}).json()["session"]
    code = latest_code(messages_for, "dee@example.com")

    second = api.post("/auth/respond-to-challenge", json={"session": session, "code": code})
    assert second.status_code == 200 and second.json()["challenge"] == "PASSWORD"
    assert "access_token" not in second.json() and second.json()["delivery"] is None
    password_session = second.json()["session"]
    assert_error(
        api.post("/auth/respond-to-challenge", json={"session": password_session, "code": code}),
        400,
        "wrong_challenge_answer",
    )
    wrong = api.post("/auth/respond-to-challenge", json={"session": password_session, "password": "not it at all"})
    assert_error(wrong, 401, "invalid_credentials")

    tokens = api.post("/auth/respond-to-challenge", json={"session": password_session, "password": PASSWORD})
    assert tokens.status_code == 200 and "access_token" in tokens.json()
    # The challenge answers once.
    again = api.post("/auth/respond-to-challenge", json={"session": password_session, "password": PASSWORD})
    assert_error(again, 401, "invalid_session")
    methods = [e["method"] for e in api.get("/me/security-events", headers=bearer(tokens.json())).json()["events"]]
    assert "email_code+password" in methods


def test_with_two_factor_password_then_code_needs_no_third_step(api, messages_for):
    _two_factor_user(api, messages_for, "eve@example.com")
    challenge = api.post("/auth/sign-in", json={"email": "eve@example.com", "password": PASSWORD}).json()
    code = latest_code(messages_for, "eve@example.com")
    response = api.post("/auth/respond-to-challenge", json={"session": challenge["session"], "code": code})
    assert response.status_code == 200 and "access_token" in response.json()


def test_a_code_challenge_says_nothing_of_two_factor_before_the_code_is_right(api, messages_for):
    _two_factor_user(api, messages_for, "fay@example.com")
    register(api, messages_for, "gil@example.com")
    answers = []
    for email in ("fay@example.com", "gil@example.com", "nobody@example.com"):
        challenge = api.post("/auth/sign-in/code", json={"email": email}).json()
        answers.append(api.post("/auth/respond-to-challenge", json={"session": challenge["session"], "code": "000000"}))
    bodies = [assert_error(answer, 400, "invalid_code") for answer in answers]
    assert bodies[0] == bodies[1] == bodies[2]


def _age_sign_in(tokens, seconds):
    """Makes the session's last sign-in `seconds` old, as if the phone had been idle that long."""
    user = find_user_by_email("hal@example.com")
    assert user is not None
    for session in SessionModel.query(user.id):
        session.update(actions=[SessionModel.authenticated_at.set(int(time.time()) - seconds)])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("DELETE", "/me", None), ("PUT", "/me/two-factor", {"enabled": False})],
)
def test_what_cannot_be_undone_needs_a_recent_sign_in_or_the_password(api, messages_for, method, path, body):
    tokens = _two_factor_user(api, messages_for, "hal@example.com")
    _age_sign_in(tokens, get_auth_settings().reauth_seconds + 60)

    stale = api.request(method, path, json=body, headers=bearer(tokens))
    error = assert_error(stale, 403, "reauthentication_required")
    assert error["error"]["details"] == {"max_age_seconds": get_auth_settings().reauth_seconds}
    wrong = api.request(method, path, json={**(body or {}), "password": "not the password"}, headers=bearer(tokens))
    assert_error(wrong, 401, "invalid_credentials")
    assert api.get("/me", headers=bearer(tokens)).json()["two_factor_enabled"]  # nothing changed

    done = api.request(method, path, json={**(body or {}), "password": PASSWORD}, headers=bearer(tokens))
    assert done.status_code in (200, 204), done.text


def test_a_fresh_sign_in_is_recent_enough(api, messages_for):
    tokens = _two_factor_user(api, messages_for, "hal@example.com")
    turned_off = api.put("/me/two-factor", json={"enabled": False}, headers=bearer(tokens))
    assert turned_off.status_code == 200 and not turned_off.json()["two_factor_enabled"]
    mail = messages_for("hal@example.com")[0]
    assert mail["subject"] == "Two-factor sign-in was turned off" and "If this was not you" in mail["text"]


def test_a_sign_in_racing_a_deactivation_leaves_no_working_session(api, messages_for):
    register(api, messages_for, "ida@example.com")
    user_as_the_sign_in_read_it = find_user_by_email("ida@example.com")
    assert user_as_the_sign_in_read_it is not None and user_as_the_sign_in_read_it.is_active
    set_flags(user_as_the_sign_in_read_it, is_active=False)  # staff deactivate between the check and the write

    with pytest.raises(UserDisabled):
        service._start_session(get_keyring(), user_as_the_sign_in_read_it, Client(), method="password")
    assert list(sessions.user_sessions(user_as_the_sign_in_read_it.id)) == []


def test_deactivation_by_staff_ends_every_session_at_once(api, messages_for):
    register(api, messages_for, "staff@example.com")
    set_flags(users.find_user_by_email("staff@example.com"), is_staff=True)
    staff = bearer(sign_in(api, "staff@example.com"))
    register(api, messages_for, "joe@example.com")
    phone, laptop = sign_in(api, "joe@example.com"), sign_in(api, "joe@example.com")
    joe = find_user_by_email("joe@example.com")

    assert api.patch(f"/admin/users/{joe.id}", json={"is_active": False}, headers=staff).status_code == 200

    for tokens in (phone, laptop):
        assert_error(api.get("/me", headers=bearer(tokens)), 401)
        assert_error(api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert_error(api.post("/auth/sign-in", json={"email": "joe@example.com", "password": PASSWORD}), 403)
    events = api.get(f"/admin/users/{joe.id}/security-events", headers=staff).json()["events"]
    assert events[0]["type"] == "account_deactivated" and events[0]["actor_id"] is not None
