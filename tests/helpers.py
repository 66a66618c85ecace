"""Small steps the tests share: reading codes from mail, registering and signing in users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.harness import newest_code

PASSWORD = "correct horse battery staple"

MessagesFor = Callable[[str], list[dict[str, Any]]]


def latest_code(messages_for: MessagesFor, email: str) -> str:
    code = newest_code(message["text"] for message in messages_for(email))
    assert code is not None, f"no code was mailed to {email}"
    return code


def register(api: Any, messages_for: MessagesFor, email: str, password: str = PASSWORD, name: str = "") -> None:
    response = api.post("/auth/sign-up", json={"email": email, "password": password, "name": name})
    assert response.status_code == 201, response.text
    code = latest_code(messages_for, email)
    response = api.post("/auth/confirm-sign-up", json={"email": email, "code": code, "password": password})
    assert response.status_code == 200, response.text


def sign_in(api: Any, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = api.post("/auth/sign-in", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    assert "access_token" in tokens, tokens
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


def allow_immediate_resend(email: str, purpose: Any) -> None:
    """Moves the sends of (email, purpose) back past the one-minute limit (a test does not wait a
    minute). In-process tests only: it writes to the auth-codes table directly."""
    from assisti_auth.codes import address_id, code_key
    from assisti_common.db.models import AuthCodeModel
    from assisti_common.keys import get_keyring

    item = AuthCodeModel.get(code_key(purpose, address_id(get_keyring(), email)), consistent_read=True)
    item.sent_at = [sent - 61 for sent in item.sent_at]
    item.save()


def past_the_refresh_retry_window() -> None:
    """Moves every session past the window in which its replaced refresh token counts as a retry (a
    test does not wait for it). In-process tests only: it writes to the sessions table directly."""
    from assisti_common.db.models import SessionModel

    for session in SessionModel.scan():
        if session.retry_until is not None:
            session.update(actions=[SessionModel.retry_until.set(0)])
