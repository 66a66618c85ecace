"""The whole auth flow over HTTP against the local stack, reading codes from the local mailbox."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx

from local.harness import new_user_environment as clean_environment
from local.template import ROOT
from tests.helpers import PASSWORD, assert_error, bearer, latest_code, register, sign_in


def _email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.com"


def test_health_docs_and_openapi(http: httpx.Client):
    assert http.get("/health").json()["status"] == "ok"
    docs = http.get("/docs")
    assert docs.status_code == 200 and "/_local/swagger/swagger-ui-bundle.js" in docs.text
    assert http.get("/_local/swagger/swagger-ui-bundle.js").status_code == 200
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/auth/sign-up", "/auth/sign-in", "/me", "/admin/users"} <= set(paths)


def test_a_new_user_signs_up_confirms_signs_in_refreshes_and_signs_out(http, messages_for):
    email = _email("ann")
    response = http.post("/auth/sign-up", json={"email": email, "password": PASSWORD, "name": "Ann"})
    assert response.status_code == 201
    mail = messages_for(email)[0]
    assert mail["to"] == [email] and mail["subject"] == "Confirm your Assisti account" and mail["sent_at"]
    code = latest_code(messages_for, email)
    assert (
        http.post("/auth/confirm-sign-up", json={"email": email, "code": code, "password": PASSWORD}).status_code == 200
    )

    tokens = sign_in(http, email)
    me = http.get("/me", headers=bearer(tokens)).json()
    assert me["email"] == email and me["name"] == "Ann" and me["is_verified"] and not me["is_staff"]

    rotated = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    assert http.get("/me", headers=bearer(rotated)).status_code == 200
    assert http.post("/auth/sign-out", headers=bearer(rotated)).status_code == 204
    assert_error(http.get("/me", headers=bearer(rotated)), 401)


def test_passwordless_sign_in_and_account_deletion(http, messages_for):
    email = _email("bo")
    register(http, messages_for, email)
    challenge = http.post("/auth/sign-in/code", json={"email": email}).json()
    code = latest_code(messages_for, email)
    tokens = http.post("/auth/respond-to-challenge", json={"session": challenge["session"], "code": code}).json()
    assert http.delete("/me", headers=bearer(tokens)).status_code == 204
    assert_error(http.post("/auth/sign-in", json={"email": email, "password": PASSWORD}), 401)


def test_the_mailbox_filters_by_recipient_newest_first(http, messages_for):
    first, second = _email("cy"), _email("dee")
    http.post("/auth/sign-up", json={"email": first, "password": PASSWORD})
    http.post("/auth/sign-up", json={"email": second, "password": PASSWORD})
    assert [m["to"] for m in messages_for(first)] == [[first]]
    everything = http.get("/_local/mailbox").json()["messages"]
    positions = [m["to"][0] for m in everything]
    assert positions.index(second) < positions.index(first)


def test_errors_keep_one_shape_through_the_gateway(http):
    assert_error(
        http.post("/auth/sign-in", content=b"{", headers={"content-type": "application/json"}), 400, "malformed_json"
    )
    assert_error(http.get("/nowhere"), 404, "not_found")
    assert_error(http.get("/me", headers={"Authorization": "Bearer nonsense"}), 401, "not_authenticated")


def test_the_documented_command_makes_a_user_staff_on_the_local_stack(http, messages_for, stack_aws_port):
    email = _email("staff")
    register(http, messages_for, email)
    tokens = sign_in(http, email)
    assert_error(http.get("/admin/users", headers=bearer(tokens)), 403)
    result = subprocess.run(
        [sys.executable, "-m", "tools.manage", "make-staff", email, "--aws-port", str(stack_aws_port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=clean_environment(),
    )
    assert result.returncode == 0, result.stderr
    assert "is_staff=True" in result.stdout
    assert http.get("/admin/users", headers=bearer(tokens)).status_code == 200
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.manage",
            "make-staff",
            "nobody@example.com",
            "--aws-port",
            str(stack_aws_port),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=clean_environment(),
    )
    assert missing.returncode == 1 and "No account" in missing.stderr


def test_devices_security_events_and_two_factor_over_http(http, messages_for):
    email = _email("kim")
    register(http, messages_for, email)
    phone = http.post(
        "/auth/sign-in", json={"email": email, "password": PASSWORD}, headers={"user-agent": "okhttp/4.12.0 (Android)"}
    ).json()
    laptop = sign_in(http, email)

    devices = http.get("/me/sessions", headers=bearer(phone)).json()["sessions"]
    assert len(devices) == 2 and [d["current"] for d in devices] == [False, True]
    assert devices[1]["device"] == "Android app on Android" and devices[1]["ip"] == "127.0.0.1"
    assert http.delete(f"/me/sessions/{devices[0]['id']}", headers=bearer(phone)).status_code == 204
    assert_error(http.get("/me", headers=bearer(laptop)), 401)

    assert http.put("/me/two-factor", json={"enabled": True}, headers=bearer(phone)).status_code == 200
    session = http.post("/auth/sign-in/code", json={"email": email}).json()["session"]
    second = http.post(
        "/auth/respond-to-challenge", json={"session": session, "code": latest_code(messages_for, email)}
    )
    assert second.json()["challenge"] == "PASSWORD"
    tokens = http.post("/auth/respond-to-challenge", json={"session": second.json()["session"], "password": PASSWORD})
    assert "access_token" in tokens.json()

    events = http.get("/me/security-events?limit=3", headers=bearer(tokens.json())).json()
    assert [(e["type"], e["method"]) for e in events["events"]] == [
        ("sign_in", "email_code+password"),
        ("code_verified", "sign_in"),
        ("code_sent", "sign_in"),
    ]
    assert events["next_cursor"]
