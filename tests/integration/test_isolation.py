"""Isolation, generated from the route table: every route of template.yaml, so a new route is covered
without anyone remembering to add it (a route this file has no body or owner for fails loudly).

- user B gets 404 for user A's ids on every route that takes one (403 on the staff routes), and A's
  objects are unchanged afterwards;
- no list of B's shows any of A's ids;
- an expired, revoked or other-audience token gets 401 on every authenticated route.
"""

from __future__ import annotations

import json
import re
import time

import jwt
import pytest

from assisti_common.keys import get_keyring
from assisti_common.settings import get_settings
from local.template import ROOT
from tests.conftest import TEMPLATE
from tests.helpers import assert_error, bearer, register, sign_in

ROUTES = sorted({(route.method, route.path) for function in TEMPLATE.functions() for route in function.routes})
OPENAPI = json.loads((ROOT / "openapi.json").read_text())
AUTHENTICATED = [(method, path) for method, path in ROUTES if OPENAPI["paths"][path][method.lower()].get("security")]
WITH_IDS = [(method, path) for method, path in AUTHENTICATED if "{" in path]
LISTS = [
    (method, path)
    for method, path in AUTHENTICATED
    if method == "GET" and "{" not in path and path not in ("/me", "/me/usage", "/admin/users")
]
PARAMETER = re.compile(r"\{(\w+)\}")

# A valid body for each route that takes one: B's request must reach the ownership check, not fail first.
BODIES = {
    ("PATCH", "/admin/users/{user_id}"): {"is_active": False},
    ("POST", "/auth/sign-out"): None,
    ("POST", "/categories"): {"name": "B's"},
    ("PATCH", "/categories/{category_id}"): {"name": "taken over"},
    ("POST", "/categories/{category_id}/messages"): {"message": "written into A's chat"},
    ("POST", "/categories/{category_id}/messages/{message_id}/retry"): None,
    ("DELETE", "/me"): None,
    ("PATCH", "/me"): {"bio": "x"},
    ("PUT", "/me/password"): {"current_password": "whatever 1", "new_password": "a new password 9"},
    ("PUT", "/me/two-factor"): {"enabled": True},
    ("POST", "/ocr"): {"title": "x"},
    ("PATCH", "/ocr/{item_id}"): {"title": "taken over"},
    ("POST", "/vision/animals"): {"title": "x"},
    ("PATCH", "/vision/animals/{item_id}"): {"title": "taken over"},
    ("POST", "/vision/road-signs"): {"title": "x"},
    ("PATCH", "/vision/road-signs/{item_id}"): {"title": "taken over"},
}
ITEM_KINDS = {"/ocr": "ocr", "/vision/animals": "animals", "/vision/road-signs": "road_signs"}


def _body(method: str, path: str):
    if method in ("GET", "DELETE") and (method, path) not in BODIES:
        return None
    if (method, path) not in BODIES:
        pytest.fail(f"{method} {path} is a new route: give it a valid body in BODIES")
    return BODIES[(method, path)]


def _fill(path: str, ids: dict[str, str]) -> str:
    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        if name == "item_id":
            kind = next(kind for prefix, kind in ITEM_KINDS.items() if path.startswith(prefix + "/"))
            return ids[f"item_id:{kind}"]
        if name not in ids:
            pytest.fail(f"{path}: no object of A's for {{{name}}}; add one to the `owned` fixture")
        return ids[name]

    return PARAMETER.sub(value, path)


@pytest.fixture
def owned(api, messages_for):
    """User A and one of everything A can own; user B, signed in."""
    register(api, messages_for, "a@example.com")
    a_tokens = sign_in(api, "a@example.com")
    a = bearer(a_tokens)
    category = api.post("/categories", json={"name": "A's"}, headers=a).json()["id"]
    message = api.post(f"/categories/{category}/messages", json={"message": "A's secret"}, headers=a).json()["id"]
    ids = {
        "category_id": category,
        "message_id": message,
        "user_id": api.get("/me", headers=a).json()["id"],
        "session_id": api.get("/me/sessions", headers=a).json()["sessions"][0]["id"],
    }
    for prefix, kind in ITEM_KINDS.items():
        ids[f"item_id:{kind}"] = api.post(prefix, json={"title": "A's"}, headers=a).json()["item"]["id"]
    register(api, messages_for, "b@example.com")
    return a, bearer(sign_in(api, "b@example.com")), ids


def _snapshot(api, a, ids):
    category = ids["category_id"]
    return {
        "category": api.get(f"/categories/{category}", headers=a).json(),
        "messages": api.get(f"/categories/{category}/messages", headers=a).json(),
        "items": {prefix: api.get(prefix, headers=a).json() for prefix in ITEM_KINDS},
        "me": api.get("/me", headers=a).json(),
        "sessions": [s["id"] for s in api.get("/me/sessions", headers=a).json()["sessions"]],
    }


def test_another_users_ids_are_not_found_on_every_route_and_nothing_of_theirs_changes(api, owned):
    a, b, ids = owned
    before = _snapshot(api, a, ids)
    assert WITH_IDS, "the route table has no route with an id"
    for method, path in WITH_IDS:
        response = api.request(method, _fill(path, ids), json=_body(method, path), headers=b)
        expected = 403 if path.startswith("/admin/") else 404  # B is not staff
        assert response.status_code == expected, f"{method} {path}: {response.text}"
        assert_error(response, expected)
    assert _snapshot(api, a, ids) == before


def test_no_list_of_one_user_shows_another_users_ids(api, owned):
    _, b, ids = owned
    assert LISTS
    for method, path in LISTS:
        response = api.request(method, path, headers=b)
        assert response.status_code == 200, (path, response.text)
        for name, value in ids.items():
            assert value not in response.text, f"{path} shows A's {name}"
    listed = api.get(f"/categories/{ids['category_id']}/messages", headers=b)
    assert_error(listed, 404)


def _token(claims_change: dict, user_and_session: tuple[str, str]) -> str:
    settings, keyring = get_settings(), get_keyring()
    now = int(time.time())
    payload = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": user_and_session[0],
        "sid": user_and_session[1],
        "iat": now,
        "exp": now + 600,
        **claims_change,
    }
    return jwt.encode(payload, keyring.active_signing_key, algorithm="HS256", headers={"kid": keyring.active_kid})


@pytest.mark.parametrize("kind", ["expired", "other_audience", "revoked"])
def test_a_bad_token_is_refused_on_every_authenticated_route(api, owned, kind):
    a, _, ids = owned
    user_and_session = (ids["user_id"], ids["session_id"])
    if kind == "expired":
        token = _token({"iat": int(time.time()) - 2000, "exp": int(time.time()) - 1000}, user_and_session)
    elif kind == "other_audience":
        token = _token({"aud": "some-other-app"}, user_and_session)
    else:
        revoked = sign_in(api, "a@example.com")
        assert api.post("/auth/sign-out", headers=bearer(revoked)).status_code == 204
        token = revoked["access_token"]
    assert len(AUTHENTICATED) > 30
    for method, path in AUTHENTICATED:
        response = api.request(
            method, _fill(path, ids), json=_body(method, path), headers={"authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, f"{method} {path}: {response.text}"
        assert_error(response, 401, "not_authenticated")
    assert api.get("/me", headers=a).status_code == 200  # A's own session is untouched by all this
