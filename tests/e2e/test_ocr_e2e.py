"""OCR over HTTP against the local stack: create, upload through the presigned POST, wait, read."""

from __future__ import annotations

import uuid

import httpx

from tests.helpers import assert_error, bearer, register, sign_in
from tests.images import encode, text_image


def test_ocr_round_trip_through_the_local_stack(http, messages_for):
    email = f"ocr-{uuid.uuid4().hex[:8]}@example.com"
    register(http, messages_for, email)
    headers = bearer(sign_in(http, email))

    created = http.post("/ocr", json={"title": "Shopping list", "content_type": "image/png"}, headers=headers)
    assert created.status_code == 201
    upload = created.json()["upload"]
    stored = httpx.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("list.png", encode(text_image(["Milk and eggs", "Bread 2"])), "image/png")},
    )
    assert stored.status_code == 204, stored.text

    item_id = created.json()["item"]["id"]
    done = http.get(f"/ocr/{item_id}", params={"wait": 20}, headers=headers).json()
    assert done["status"] == "done", done
    assert done["label"] == "Milk and eggs\nBread 2"
    assert httpx.get(done["image_url"]).content[:8] == b"\x89PNG\r\n\x1a\n"
    assert http.get("/ocr", headers=headers).json()["items"][0]["id"] == item_id

    bad = http.post("/ocr", json={"title": "Not an image"}, headers=headers).json()
    httpx.post(bad["upload"]["url"], data=bad["upload"]["fields"], files={"file": ("x.jpg", b"nope", "image/jpeg")})
    failed = http.get(f"/ocr/{bad['item']['id']}", params={"wait": 20}, headers=headers).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "not_an_image"

    assert http.delete(f"/ocr/{item_id}", headers=headers).status_code == 204
    assert_error(http.get(f"/ocr/{item_id}", headers=headers), 404)
