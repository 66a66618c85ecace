"""The profile, passwords, deleting the account, and staff tools."""

from __future__ import annotations

from assisti_common.db.models import AuthCodeModel, SessionModel, UserHandleModel, UserModel
from assisti_common.db.users import find_user_by_email, set_flags
from tests.helpers import PASSWORD, assert_error, bearer, latest_code, register, sign_in


def _staff(api, messages_for, email="staff@example.com") -> dict:
    register(api, messages_for, email)
    set_flags(find_user_by_email(email), is_staff=True)  # what `make staff` does
    return sign_in(api, email)


def test_profile_update_and_username_uniqueness(api, messages_for):
    register(api, messages_for, "ann@example.com", name="Ann")
    register(api, messages_for, "bo@example.com")
    ann, bo = sign_in(api, "ann@example.com"), sign_in(api, "bo@example.com")
    updated = api.patch("/me", json={"username": "Ann.Lee", "bio": "hi", "name": "Ann Lee"}, headers=bearer(ann))
    assert updated.status_code == 200
    assert updated.json()["username"] == "Ann.Lee" and updated.json()["profile"]["bio"] == "hi"
    assert_error(api.patch("/me", json={"username": "ann.lee"}, headers=bearer(bo)), 409, "username_taken")
    # The old username is free again once Ann moves on.
    old = api.get("/me", headers=bearer(bo)).json()["username"]
    assert api.patch("/me", json={"username": "annie"}, headers=bearer(ann)).status_code == 200
    assert api.patch("/me", json={"username": "Ann.Lee"}, headers=bearer(bo)).status_code == 200
    assert UserHandleModel.count(f"username:{old}") == 0
    assert_error(api.patch("/me", json={"username": "no spaces allowed"}, headers=bearer(bo)), 422)


def test_change_password_needs_the_current_one_and_signs_out_other_devices(api, messages_for):
    register(api, messages_for, "cy@example.com")
    here, elsewhere = sign_in(api, "cy@example.com"), sign_in(api, "cy@example.com")
    assert_error(
        api.put(
            "/me/password",
            json={"current_password": "wrong one!", "new_password": "a new secret 9"},
            headers=bearer(here),
        ),
        401,
        "invalid_credentials",
    )
    assert (
        api.put(
            "/me/password", json={"current_password": PASSWORD, "new_password": "a new secret 9"}, headers=bearer(here)
        ).status_code
        == 204
    )
    assert api.get("/me", headers=bearer(here)).status_code == 200
    assert_error(api.get("/me", headers=bearer(elsewhere)), 401)
    sign_in(api, "cy@example.com", "a new secret 9")


def test_forgot_password_sets_a_new_one_and_revokes_every_session(api, messages_for):
    register(api, messages_for, "dee@example.com")
    old_session = sign_in(api, "dee@example.com")
    assert api.post("/auth/forgot-password", json={"email": "dee@example.com"}).status_code == 200
    code = latest_code(messages_for, "dee@example.com")
    assert_error(
        api.post(
            "/auth/confirm-forgot-password", json={"email": "dee@example.com", "code": code, "new_password": "short"}
        ),
        422,
    )
    assert (
        api.post(
            "/auth/confirm-forgot-password",
            json={"email": "dee@example.com", "code": code, "new_password": "brand new pass 7"},
        ).status_code
        == 200
    )
    assert_error(api.get("/me", headers=bearer(old_session)), 401)
    assert_error(api.post("/auth/sign-in", json={"email": "dee@example.com", "password": PASSWORD}), 401)
    sign_in(api, "dee@example.com", "brand new pass 7")
    assert "password of your Assisti account was just reset" in messages_for("dee@example.com")[0]["text"]


def test_forgot_password_for_an_unknown_email_looks_the_same_and_sends_nothing(api, messages_for):
    known_user = "eve@example.com"
    register(api, messages_for, known_user)
    known = api.post("/auth/forgot-password", json={"email": known_user})
    unknown = api.post("/auth/forgot-password", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.json()["message"] == unknown.json()["message"]
    assert messages_for("ghost@example.com") == []
    assert_error(
        api.post(
            "/auth/confirm-forgot-password",
            json={"email": "ghost@example.com", "code": "123456", "new_password": "whatever pass 1"},
        ),
        400,
        "invalid_code",
    )


def test_deleting_the_account_removes_everything_the_user_owns(api, messages_for):
    register(api, messages_for, "fay@example.com")
    tokens = sign_in(api, "fay@example.com")
    user_id = find_user_by_email("fay@example.com").id  # type: ignore[union-attr]
    assert api.delete("/me", headers=bearer(tokens)).status_code == 204
    assert_error(api.get("/me", headers=bearer(tokens)), 401)
    assert UserModel.count(user_id) == 0 and SessionModel.count(user_id) == 0
    assert [h.handle for h in UserHandleModel.scan() if h.user_id == user_id] == []
    assert list(AuthCodeModel.scan()) == []
    register(api, messages_for, "fay@example.com")  # the address is free again


def test_staff_list_users_with_pagination_and_tamper_proof_cursors(api, messages_for):
    staff = _staff(api, messages_for)
    for index in range(3):
        register(api, messages_for, f"user{index}@example.com")
    first = api.get("/admin/users?limit=2", headers=bearer(staff))
    assert first.status_code == 200 and len(first.json()["users"]) == 2
    assert first.json()["users"][0]["email"] == "user2@example.com"  # newest first
    second = api.get("/admin/users", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=bearer(staff))
    emails = [u["email"] for u in first.json()["users"] + second.json()["users"]]
    assert sorted(emails) == sorted(["staff@example.com", *[f"user{i}@example.com" for i in range(3)]])
    cursor = first.json()["next_cursor"]
    assert_error(
        api.get(
            "/admin/users", params={"cursor": cursor[:-1] + ("A" if cursor[-1] != "A" else "B")}, headers=bearer(staff)
        ),
        400,
        "invalid_cursor",
    )
    assert_error(api.get("/admin/users", params={"cursor": "!!"}, headers=bearer(staff)), 400, "invalid_cursor")


def test_only_staff_reach_admin_routes(api, messages_for):
    register(api, messages_for, "gus@example.com")
    plain = sign_in(api, "gus@example.com")
    assert_error(api.get("/admin/users", headers=bearer(plain)), 403, "forbidden")
    target = find_user_by_email("gus@example.com").id  # type: ignore[union-attr]
    assert_error(api.patch(f"/admin/users/{target}", json={"is_active": False}, headers=bearer(plain)), 403)


def test_a_deactivated_user_cannot_sign_in_and_their_tokens_stop_working(api, messages_for):
    staff = _staff(api, messages_for)
    register(api, messages_for, "hal@example.com")
    hal = sign_in(api, "hal@example.com")
    hal_id = find_user_by_email("hal@example.com").id  # type: ignore[union-attr]
    response = api.patch(f"/admin/users/{hal_id}", json={"is_active": False}, headers=bearer(staff))
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert_error(api.get("/me", headers=bearer(hal)), 401)
    assert_error(api.post("/auth/refresh", json={"refresh_token": hal["refresh_token"]}), 401)
    assert_error(
        api.post("/auth/sign-in", json={"email": "hal@example.com", "password": PASSWORD}), 403, "user_disabled"
    )
    session = api.post("/auth/sign-in/code", json={"email": "hal@example.com"}).json()["session"]
    assert messages_for("hal@example.com")[0]["subject"] != "Your Assisti sign-in code"
    assert api.post("/auth/respond-to-challenge", json={"session": session, "code": "000000"}).status_code == 400
    # Reactivated, they can sign in again.
    api.patch(f"/admin/users/{hal_id}", json={"is_active": True}, headers=bearer(staff))
    sign_in(api, "hal@example.com")


def test_admin_errors(api, messages_for):
    staff = _staff(api, messages_for)
    me = api.get("/me", headers=bearer(staff)).json()["id"]
    assert_error(api.patch(f"/admin/users/{me}", json={"is_active": False}, headers=bearer(staff)), 409)
    assert_error(api.patch("/admin/users/not-a-user", json={"is_active": False}, headers=bearer(staff)), 404)
    assert_error(api.get("/admin/users?limit=1000", headers=bearer(staff)), 422)
