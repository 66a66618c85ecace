"""The audit trail (GET /me/security-events, the staff view) and signed-in devices (GET/DELETE
/me/sessions): what a user sees of their own account's security."""

from __future__ import annotations

from assisti_common.db.users import find_user_by_email, set_flags
from tests.helpers import PASSWORD, assert_error, bearer, latest_code, past_the_refresh_retry_window, register, sign_in

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Safari/604.1"
ANDROID_APP = "okhttp/4.12.0 (Linux; Android 15; Pixel 9)"


def _sign_in_from(api, email, user_agent):
    response = api.post(
        "/auth/sign-in", json={"email": email, "password": PASSWORD}, headers={"user-agent": user_agent}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_security_events_record_what_happened_newest_first_and_never_a_secret(api, messages_for):
    register(api, messages_for, "ann@example.com")
    assert_error(api.post("/auth/sign-in", json={"email": "ann@example.com", "password": "wrong guess 1"}), 401)
    tokens = _sign_in_from(api, "ann@example.com", IPHONE)
    change = {"current_password": PASSWORD, "new_password": "a new password 2"}
    assert api.put("/me/password", json=change, headers=bearer(tokens)).status_code == 204
    assert api.put("/me/two-factor", json={"enabled": True}, headers=bearer(tokens)).status_code == 200

    response = api.get("/me/security-events", headers=bearer(tokens))
    assert response.status_code == 200
    events = response.json()["events"]
    assert [event["type"] for event in events] == [
        "two_factor_enabled",
        "password_changed",
        "sign_in",
        "sign_in_failed",
        "code_verified",  # the sign-up's confirmation
    ]
    sign_in_event = events[2]
    assert sign_in_event["method"] == "password" and sign_in_event["user_agent"] == IPHONE
    assert sign_in_event["ip"] and sign_in_event["session_id"]
    assert events[3]["method"] == "password" and events[3]["session_id"] is None
    for secret in (PASSWORD, "wrong guess 1", "a new password 2", tokens["access_token"], tokens["refresh_token"]):
        assert secret not in response.text
    mail = messages_for("ann@example.com")[0]
    assert mail["subject"] == "Your Assisti password was changed" and "If this was not you" in mail["text"]


def test_security_events_page_with_a_cursor(api, messages_for):
    register(api, messages_for, "bo@example.com")
    for _ in range(3):
        tokens = sign_in(api, "bo@example.com")
    first = api.get("/me/security-events?limit=3", headers=bearer(tokens)).json()
    assert len(first["events"]) == 3 and first["next_cursor"]  # three sign-ins, then the confirmation
    rest = api.get(f"/me/security-events?limit=3&cursor={first['next_cursor']}", headers=bearer(tokens)).json()
    ids = [event["id"] for event in first["events"] + rest["events"]]
    assert len(ids) == len(set(ids)) == 4 and ids == sorted(ids, reverse=True)
    assert_error(api.get("/me/security-events?cursor=forged.cursor", headers=bearer(tokens)), 400, "invalid_cursor")


def test_codes_sent_verified_and_failed_are_recorded(api, messages_for):
    register(api, messages_for, "cy@example.com")
    session = api.post("/auth/sign-in/code", json={"email": "cy@example.com"}).json()["session"]
    code = latest_code(messages_for, "cy@example.com")
    api.post("/auth/respond-to-challenge", json={"session": session, "code": f"{(int(code) + 1) % 1_000_000:06d}"})
    tokens = api.post("/auth/respond-to-challenge", json={"session": session, "code": code}).json()
    events = api.get("/me/security-events", headers=bearer(tokens)).json()["events"]
    assert [(event["type"], event["method"]) for event in events] == [
        ("sign_in", "email_code"),
        ("code_verified", "sign_in"),
        ("code_failed", "sign_in"),
        ("code_sent", "sign_in"),
        ("code_verified", "sign_up"),
    ]


def test_only_staff_read_another_users_security_events(api, messages_for):
    register(api, messages_for, "dee@example.com")
    dee = bearer(sign_in(api, "dee@example.com"))
    register(api, messages_for, "staff@example.com")
    set_flags(find_user_by_email("staff@example.com"), is_staff=True)
    staff = bearer(sign_in(api, "staff@example.com"))
    dee_id = find_user_by_email("dee@example.com").id
    staff_id = find_user_by_email("staff@example.com").id

    assert_error(api.get(f"/admin/users/{staff_id}/security-events", headers=dee), 403, "forbidden")
    events = api.get(f"/admin/users/{dee_id}/security-events", headers=staff).json()["events"]
    assert [event["type"] for event in events] == ["sign_in", "code_verified"]
    # Dee's own list is the same, and holds only Dee's events.
    assert api.get("/me/security-events", headers=dee).json()["events"] == events


def test_signed_in_devices_are_listed_and_signed_out_one_at_a_time(api, messages_for):
    register(api, messages_for, "eve@example.com")
    phone = _sign_in_from(api, "eve@example.com", IPHONE)
    tablet = _sign_in_from(api, "eve@example.com", ANDROID_APP)
    laptop = _sign_in_from(api, "eve@example.com", "curl/8.5.0")

    listed = api.get("/me/sessions", headers=bearer(phone)).json()["sessions"]
    assert [session["device"] for session in listed] == ["curl", "Android app on Android", "Safari on iPhone"]
    assert [session["current"] for session in listed] == [False, False, True]
    assert all(session["created_at"] and session["last_used_at"] and session["ip"] for session in listed)

    tablet_id = listed[1]["id"]
    assert api.delete(f"/me/sessions/{tablet_id}", headers=bearer(phone)).status_code == 204
    assert_error(api.get("/me", headers=bearer(tablet)), 401)
    assert_error(api.post("/auth/refresh", json={"refresh_token": tablet["refresh_token"]}), 401)
    assert_error(api.delete(f"/me/sessions/{tablet_id}", headers=bearer(phone)), 404, "not_found")
    assert api.get("/me", headers=bearer(laptop)).status_code == 200

    assert api.delete("/me/sessions", headers=bearer(phone)).json() == {"signed_out": 1}
    assert_error(api.get("/me", headers=bearer(laptop)), 401)
    assert [session["current"] for session in api.get("/me/sessions", headers=bearer(phone)).json()["sessions"]] == [
        True
    ]
    revoked = [
        e
        for e in api.get("/me/security-events", headers=bearer(phone)).json()["events"]
        if e["type"] == "session_revoked"
    ]
    assert len(revoked) == 2


def test_nobody_signs_out_another_users_device(api, messages_for):
    register(api, messages_for, "fay@example.com")
    register(api, messages_for, "gus@example.com")
    fay, gus = sign_in(api, "fay@example.com"), sign_in(api, "gus@example.com")
    gus_session = api.get("/me/sessions", headers=bearer(gus)).json()["sessions"][0]["id"]
    assert_error(api.delete(f"/me/sessions/{gus_session}", headers=bearer(fay)), 404, "not_found")
    assert api.get("/me", headers=bearer(gus)).status_code == 200
    assert all(s["id"] != gus_session for s in api.get("/me/sessions", headers=bearer(fay)).json()["sessions"])


def test_refreshing_marks_the_device_as_used(api, messages_for):
    register(api, messages_for, "hal@example.com")
    tokens = sign_in(api, "hal@example.com")
    before = api.get("/me/sessions", headers=bearer(tokens)).json()["sessions"][0]["last_used_at"]
    refreshed = api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    after = api.get("/me/sessions", headers=bearer(refreshed)).json()["sessions"][0]["last_used_at"]
    assert after > before


def test_sign_out_refresh_token_reuse_and_staff_grants_are_recorded(api, messages_for):
    from assisti_auth import service

    register(api, messages_for, "ivy@example.com")
    stolen = sign_in(api, "ivy@example.com")
    rotated = api.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]}).json()
    past_the_refresh_retry_window()
    assert_error(api.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]}), 401)  # the thief
    assert_error(api.get("/me", headers=bearer(rotated)), 401)  # the whole session died
    service.set_staff("ivy@example.com", True)  # what `make staff` runs
    tokens = sign_in(api, "ivy@example.com")
    assert api.post("/auth/sign-out", headers=bearer(tokens)).status_code == 204

    events = api.get(
        f"/admin/users/{find_user_by_email('ivy@example.com').id}/security-events",
        headers=bearer(sign_in(api, "ivy@example.com")),
    )
    types = [event["type"] for event in events.json()["events"]]
    assert types[:5] == ["sign_in", "signed_out", "sign_in", "staff_granted", "refresh_token_reused"]
