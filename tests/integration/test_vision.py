"""Vision through the real handlers: the same pipeline as OCR, two more kinds on one worker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from PIL import Image
from skimage import data as photos

from local.functions import LambdaContext, call_handler, load_handler
from local.pump import QueuePump
from tests.conftest import TEMPLATE
from tests.helpers import assert_error
from tests.images import encode

WORKER = next(function for function in TEMPLATE.functions() if function.logical_id == "VisionWorkerFunction")


@pytest.fixture(scope="session")
def vision_handler(moto_server):
    return load_handler(WORKER.handler)


@pytest.fixture
def pump(aws, vision_handler) -> QueuePump:
    return QueuePump(
        WORKER.queues[0], lambda event: call_handler(vision_handler, event, LambdaContext("vision")), aws, retry_delay=0
    )


def classify(api, headers, pump: QueuePump, path: str, image: Image.Image) -> dict[str, Any]:
    created = api.post(path, json={"title": "photo", "content_type": "image/jpeg"}, headers=headers)
    assert created.status_code == 201, created.text
    upload = created.json()["upload"]
    stored = httpx.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("photo.jpg", encode(image, "JPEG", quality=92), "image/jpeg")},
    )
    assert stored.status_code == 204
    for _ in range(5):
        if pump.poll_once(wait_seconds=0) == 0:
            break
    response = api.get(f"{path}/{created.json()['item']['id']}", headers=headers)
    assert response.status_code == 200
    return response.json()


def test_a_photo_of_a_cat_is_a_cat(api, ann, pump):
    item = classify(api, ann, pump, "/vision/animals", Image.fromarray(photos.chelsea()))
    assert item["status"] == "done", item
    assert item["group"] == "cat" and item["label"] not in {"unknown", "not_an_animal"}
    assert len(item["predictions"]) == 5 and item["predictions"][0]["label"] == item["label"]
    confidences = [prediction["confidence"] for prediction in item["predictions"]]
    assert confidences == sorted(confidences, reverse=True) and item["confidence"] == confidences[0]


def test_a_photo_without_an_animal_is_not_an_animal(api, ann, pump):
    item = classify(api, ann, pump, "/vision/animals", Image.fromarray(photos.coffee()))
    assert item["status"] == "done" and item["label"] == "not_an_animal" and item["group"] is None
    assert item["predictions"][0]["label"] != "not_an_animal"  # the model's guesses stay visible


def test_a_file_that_is_not_an_image_fails_for_both_kinds(api, ann, pump):
    for path in ("/vision/animals", "/vision/road-signs"):
        created = api.post(path, json={"title": "broken"}, headers=ann).json()
        httpx.post(
            created["upload"]["url"],
            data=created["upload"]["fields"],
            files={"file": ("x.jpg", b"GIF89a not really", "image/jpeg")},
        )
        pump.poll_once(wait_seconds=0)
        failed = api.get(f"{path}/{created['item']['id']}", headers=ann).json()
        assert failed["status"] == "failed" and failed["error"]["code"] in {"not_an_image", "corrupt_image"}


def test_items_are_per_user_and_per_kind(api, ann, bo, pump):
    item = api.post("/vision/animals", json={"title": "mine"}, headers=ann).json()["item"]
    assert_error(api.get(f"/vision/animals/{item['id']}", headers=bo), 404)
    assert_error(api.delete(f"/vision/animals/{item['id']}", headers=bo), 404)
    assert_error(api.get(f"/vision/road-signs/{item['id']}", headers=ann), 404)  # another kind, another list
    assert api.get("/vision/road-signs", headers=ann).json()["items"] == []
    assert [entry["id"] for entry in api.get("/vision/animals", headers=ann).json()["items"]] == [item["id"]]
    renamed = api.patch(f"/vision/animals/{item['id']}", json={"title": "Whiskers"}, headers=ann).json()
    assert renamed["title"] == "Whiskers" and renamed["predictions"] == [] and renamed["group"] is None


def road_sign_photo(gtsrb_id: int, index: int = 0) -> Image.Image:
    """A held-out synthetic photo of one sign (fonts, backgrounds and augmentation training never saw)."""
    from tools.road_signs import augment, signs

    class_index = next(position for position, sign in enumerate(signs.CATALOGUE) if sign.gtsrb_id == gtsrb_id)
    return augment.generate_photo(augment.HELDOUT, class_index, seed=777, index=index, output_size=160)


@pytest.mark.parametrize(
    ("gtsrb_id", "name"), [(14, "Stop"), (13, "Yield"), (1, "Speed limit (30km/h)"), (40, "Roundabout mandatory")]
)
def test_a_road_sign_photo_is_classified(api, ann, pump, gtsrb_id, name):
    item = classify(api, ann, pump, "/vision/road-signs", road_sign_photo(gtsrb_id))
    assert item["status"] == "done" and item["label"] == name, item["predictions"]
    assert "group" not in item and len(item["predictions"]) == 5 and item["confidence"] >= 0.6


def test_a_photo_of_no_sign_is_unknown(api, ann, pump):
    import numpy as np

    noise = Image.fromarray(np.random.default_rng(3).integers(0, 256, size=(96, 96, 3), dtype=np.uint8))
    item = classify(api, ann, pump, "/vision/road-signs", noise)
    assert item["status"] == "done" and item["label"] == "unknown"  # its best guess is far below 0.6
    assert item["confidence"] < 0.6 and item["predictions"][0]["label"] != "unknown"
