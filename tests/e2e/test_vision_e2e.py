"""Vision over HTTP against the local stack: both kinds, through presigned uploads and the worker."""

from __future__ import annotations

import uuid

import httpx
from PIL import Image
from skimage import data as photos

from tests.helpers import bearer, register, sign_in
from tests.images import encode
from tests.integration.test_vision import road_sign_photo


def _round_trip(http, headers, path: str, image: Image.Image) -> dict:
    created = http.post(path, json={"title": "photo", "content_type": "image/png"}, headers=headers)
    assert created.status_code == 201, created.text
    upload = created.json()["upload"]
    stored = httpx.post(upload["url"], data=upload["fields"], files={"file": ("p.png", encode(image), "image/png")})
    assert stored.status_code == 204
    item: dict = http.get(f"{path}/{created.json()['item']['id']}", params={"wait": 20}, headers=headers).json()
    return item


def test_animals_and_road_signs_through_the_local_stack(http, messages_for):
    email = f"vision-{uuid.uuid4().hex[:8]}@example.com"
    register(http, messages_for, email)
    headers = bearer(sign_in(http, email))

    cat = _round_trip(http, headers, "/vision/animals", Image.fromarray(photos.chelsea()))
    assert cat["status"] == "done" and cat["group"] == "cat", cat
    coffee = _round_trip(http, headers, "/vision/animals", Image.fromarray(photos.coffee()))
    assert coffee["label"] == "not_an_animal"
    stop = _round_trip(http, headers, "/vision/road-signs", road_sign_photo(14))
    assert stop["status"] == "done" and stop["label"] == "Stop", stop
    assert [item["label"] for item in http.get("/vision/road-signs", headers=headers).json()["items"]] == ["Stop"]
