"""Idempotency-Key on the creating POSTs: a mobile client that repeats a request after a dropped
connection gets the first response back, and nothing is created or charged twice."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import assert_error


def _key() -> str:
    return str(uuid.uuid4())


def _with_key(headers, key):
    return {**headers, "Idempotency-Key": key}


def test_a_repeated_category_create_returns_the_first_category(api, ann):
    key = _key()
    first = api.post("/categories", json={"name": "Trips"}, headers=_with_key(ann, key))
    again = api.post("/categories", json={"name": "Trips"}, headers=_with_key(ann, key))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert [c["id"] for c in api.get("/categories", headers=ann).json()["categories"]] == [first.json()["id"]]


def test_the_same_key_with_another_body_or_route_is_a_422(api, ann):
    key = _key()
    assert api.post("/categories", json={"name": "Trips"}, headers=_with_key(ann, key)).status_code == 201
    assert_error(
        api.post("/categories", json={"name": "Work"}, headers=_with_key(ann, key)), 422, "idempotency_key_reused"
    )
    assert_error(api.post("/ocr", json={"title": "Trips"}, headers=_with_key(ann, key)), 422, "idempotency_key_reused")
    assert len(api.get("/categories", headers=ann).json()["categories"]) == 1


def test_a_repeated_message_is_answered_and_charged_once(api, ann):
    category = api.post("/categories", json={"name": "Chat"}, headers=ann).json()["id"]
    key = _key()
    first = api.post(f"/categories/{category}/messages", json={"message": "Hello"}, headers=_with_key(ann, key))
    again = api.post(f"/categories/{category}/messages", json={"message": "Hello"}, headers=_with_key(ann, key))
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.json()["answer"] == first.json()["answer"]
    assert len(api.get(f"/categories/{category}/messages", headers=ann).json()["messages"]) == 1
    assert api.get("/me/usage", headers=ann).json()["messages"]["used"] == 1


@pytest.mark.parametrize("path", ["/ocr", "/vision/animals", "/vision/road-signs"])
def test_a_repeated_image_item_create_returns_the_first_item_and_upload(api, ann, path):
    key = _key()
    first = api.post(path, json={"title": "Sign"}, headers=_with_key(ann, key))
    again = api.post(path, json={"title": "Sign"}, headers=_with_key(ann, key))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(api.get(path, headers=ann).json()["items"]) == 1


def test_keys_belong_to_their_user(api, ann, bo):
    key = _key()
    mine = api.post("/categories", json={"name": "Trips"}, headers=_with_key(ann, key))
    theirs = api.post("/categories", json={"name": "Other"}, headers=_with_key(bo, key))
    assert mine.status_code == theirs.status_code == 201 and mine.json()["id"] != theirs.json()["id"]


def test_a_failed_first_request_stores_nothing_and_can_be_repeated(api, ann):
    key = _key()
    tutor = {"name": "French", "assistant": "language_tutor"}
    assert_error(api.post("/categories", json=tutor, headers=_with_key(ann, key)), 422)  # no language yet
    # Had the failure been stored, the corrected body would be a reused key (422); it creates instead.
    fixed = api.post("/categories", json={**tutor, "language": "French"}, headers=_with_key(ann, key))
    assert fixed.status_code == 201 and fixed.json()["language"] == "French"


def test_two_taps_at_once_create_one_category(api, ann):
    key = _key()
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(
            pool.map(lambda _: api.post("/categories", json={"name": "Tap"}, headers=_with_key(ann, key)), range(2))
        )
    created = [r for r in responses if r.status_code == 201]
    assert created and all(r.status_code in (201, 409) for r in responses)
    for response in responses:
        if response.status_code == 409:
            assert assert_error(response, 409, "request_in_progress") and response.headers["Retry-After"] == "1"
    assert len({r.json()["id"] for r in created}) == 1
    assert len(api.get("/categories", headers=ann).json()["categories"]) == 1


def test_a_malformed_key_is_a_422(api, ann):
    assert_error(api.post("/categories", json={"name": "x"}, headers=_with_key(ann, "k" * 256)), 422)
