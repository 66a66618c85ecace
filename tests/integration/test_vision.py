"""Vision through the real handlers: the same pipeline as OCR, two more kinds on one worker."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
import pytest
from PIL import Image
from skimage import data as photos

from local.functions import LambdaContext, call_handler, load_handler
from local.pump import QueuePump
from tests.conftest import TEMPLATE
from tests.helpers import assert_error
from tests.images import encode, jpeg_with_corrupt_exif, sliver

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
        # It starts like a GIF: a format we refuse, told without parsing the file.
        assert failed["status"] == "failed" and failed["error"]["code"] == "unsupported_format"


@pytest.mark.parametrize("path", ["/vision/animals", "/vision/road-signs"])
@pytest.mark.parametrize(
    ("data", "code"),
    [(jpeg_with_corrupt_exif(), "corrupt_image"), (sliver(1, 40_000), "extreme_aspect_ratio")],
    ids=["corrupt-exif", "1x40000"],
)
def test_a_malformed_image_fails_on_its_first_try(api, ann, aws, vision_handler, path, data, code):
    """EXIF Pillow cannot apply, or a sliver no classifier can look at: the first try fails the item."""
    item_id = _upload(api, ann, path, data)
    tries: list[Any] = []

    def invoke(event: dict[str, Any]) -> Any:
        tries.extend(record for record in event["Records"] if item_id in record["body"])
        return call_handler(vision_handler, event, LambdaContext("vision"))

    pump = QueuePump(WORKER.queues[0], invoke, aws, retry_delay=0)
    while pump.poll_once(wait_seconds=0):
        pass
    failed = api.get(f"{path}/{item_id}", headers=ann).json()
    assert len(tries) == 1
    assert failed["status"] == "failed" and failed["error"]["code"] == code


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


def _upload(api, headers, path: str, payload: bytes) -> str:
    created = api.post(path, json={"title": "batch"}, headers=headers).json()
    upload = created["upload"]
    stored = httpx.post(upload["url"], data=upload["fields"], files={"file": ("p.jpg", payload, "image/jpeg")})
    assert stored.status_code == 204
    return str(created["item"]["id"])


def test_one_batch_settles_each_upload_on_its_own(api, ann, aws, vision_handler, monkeypatch):
    """A batch of 8 as the queue delivers it: good photos, a corrupt file, a duplicate delivery and a
    result write that fails. The claims, reads and writes overlap the model; each record still gets
    its own outcome, and only the one whose write failed goes back to the queue."""
    from assisti_common.db import image_items
    from local.pump import sqs_event

    cat, coffee = encode(Image.fromarray(photos.chelsea()), "JPEG"), encode(Image.fromarray(photos.coffee()), "JPEG")
    good = [_upload(api, ann, "/vision/animals", cat if index % 2 else coffee) for index in range(5)]
    corrupt = _upload(api, ann, "/vision/animals", b"\xff\xd8\xff\xe0 a truncated JPEG")
    unlucky = _upload(api, ann, "/vision/animals", cat)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=aws)
    queue_url = sqs.get_queue_url(QueueName=WORKER.queues[0].queue_name)["QueueUrl"]
    messages: list[dict[str, Any]] = []
    while len(messages) < 7:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
        messages += batch.get("Messages", [])
    duplicate = {**messages[0], "MessageId": "duplicate-of-the-first"}  # SQS delivers at least once
    finish_done = image_items.finish_done

    def failing_for_unlucky(item, *args, **kwargs):
        if item.item_id == unlucky:
            raise RuntimeError("DynamoDB went away")
        return finish_done(item, *args, **kwargs)

    monkeypatch.setattr(image_items, "finish_done", failing_for_unlucky)
    event = sqs_event([*messages, duplicate], WORKER.queues[0].queue_arn)

    response = call_handler(vision_handler, event, LambdaContext("vision"))

    unlucky_message = next(message["MessageId"] for message in messages if unlucky in message["Body"])
    assert response == {"batchItemFailures": [{"itemIdentifier": unlucky_message}]}
    items = {item: api.get(f"/vision/animals/{item}", headers=ann).json() for item in [*good, corrupt, unlucky]}
    assert all(items[item_id]["status"] == "done" for item_id in good), items
    assert [items[item_id]["group"] for item_id in good] == [None, "cat", None, "cat", None]
    assert items[corrupt]["status"] == "failed" and items[corrupt]["error"]["code"] == "corrupt_image"
    assert items[unlucky]["status"] == "processing"  # claimed, not written: the retry will finish it
