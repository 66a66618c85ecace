"""Vision through the real handlers: the same pipeline as OCR, two more kinds on one worker."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from unittest.mock import ANY
from urllib.parse import unquote_plus

import boto3
import httpx
import pytest
from PIL import Image
from skimage import data as photos

from local.functions import LambdaContext, call_handler, load_handler
from local.pump import QueuePump
from tests.conftest import TEMPLATE
from tests.faults import THROTTLES, WRITES, botocore_answers, dynamodb_operation, header, throttle_response
from tests.helpers import assert_error
from tests.images import encode, jpeg_with_corrupt_exif, sliver
from tests.integration import test_ocr as ocr
from tests.integration.containers import run_cold

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


def _received(aws: str, count: int) -> list[dict[str, Any]]:
    """`count` messages from the worker's queue, as a Lambda event source would take them."""
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=aws)
    queue_url = sqs.get_queue_url(QueueName=WORKER.queues[0].queue_name)["QueueUrl"]
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(messages) < count:
        assert time.monotonic() < deadline, f"{len(messages)} of {count} messages arrived"
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
        messages += batch.get("Messages", [])
    return messages


def _handle(vision_handler: Any, message: dict[str, Any]) -> None:
    from local.pump import sqs_event

    answer = call_handler(vision_handler, sqs_event([message], WORKER.queues[0].queue_arn), LambdaContext("v"))
    assert answer == {"batchItemFailures": []}


def _requests(record: list[str], answer: Any = None) -> Any:
    """A botocore answerer (tests.faults.botocore_answers) that records each request the worker makes
    (not the SDK's retries of it) as its DynamoDB operation or S3 method, and lets `answer` answer it."""

    def recording(request: Any) -> Any:
        operation = dynamodb_operation(request)
        first_try = header(request, "amz-sdk-request").startswith("attempt=1;")
        if first_try and operation is not None:
            record.append(operation)
        elif first_try and any(part in request.url for part in ("/uploads/", "?delete")):
            record.append(f"S3 {request.method}{' delete' if '?delete' in request.url else ''}")
        return answer(request) if answer is not None else None

    return recording


@pytest.mark.parametrize("duplicated", [False, True], ids=["distinct uploads", "with a duplicate delivery"])
def test_one_batch_settles_each_upload_on_its_own(api, ann, aws, vision_handler, monkeypatch, duplicated):
    """A batch as the queue delivers it: good photos, a corrupt file, maybe a duplicate delivery, and a
    result write DynamoDB throttles through all the SDK's retries. The batch's results are one
    transaction (or one write each, when an item appears twice); the throttled one is written on its
    own, so each record still gets its own outcome, and only the one whose write failed goes back."""
    from local.pump import sqs_event

    cat, coffee = encode(Image.fromarray(photos.chelsea()), "JPEG"), encode(Image.fromarray(photos.coffee()), "JPEG")
    good = [_upload(api, ann, "/vision/animals", cat if index % 2 else coffee) for index in range(5)]
    corrupt = _upload(api, ann, "/vision/animals", b"\xff\xd8\xff\xe0 a truncated JPEG")
    unlucky = _upload(api, ann, "/vision/animals", cat)
    messages = _received(aws, 7)
    first = next(message for message in messages if good[0] in message["Body"])
    duplicate = [{**first, "MessageId": "duplicate-of-the-first"}] if duplicated else []

    def throttling_unlucky_result(request: Any) -> Any:  # its claim goes through; its result does not
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        if dynamodb_operation(request) in WRITES and unlucky in body and '"done"' in body:
            return throttle_response(request, THROTTLES[0])
        return None

    made: list[str] = []
    with botocore_answers(monkeypatch, _requests(made, throttling_unlucky_result)):
        event = sqs_event([*messages, *duplicate], WORKER.queues[0].queue_arn)
        response = call_handler(vision_handler, event, LambdaContext("vision"))

    unlucky_message = next(message["MessageId"] for message in messages if unlucky in message["Body"])
    assert response == {"batchItemFailures": [{"itemIdentifier": unlucky_message}]}
    items = {item: api.get(f"/vision/animals/{item}", headers=ann).json() for item in [*good, corrupt, unlucky]}
    assert all(items[item_id]["status"] == "done" for item_id in good), items
    assert [items[item_id]["group"] for item_id in good] == [None, "cat", None, "cat", None]
    assert items[corrupt]["status"] == "failed" and items[corrupt]["error"]["code"] == "corrupt_image"
    assert items[unlucky]["status"] == "processing"  # claimed, not written: the retry will finish it
    transactions = made.count("TransactWriteItems")
    assert transactions == (0 if duplicated else 2), made  # the claims; the results (then each alone)


def test_a_batch_claims_together_writes_its_results_together_and_deletes_in_one_request(
    api, ann, aws, vision_handler, monkeypatch
):
    """Each request costs the worker a few ms of CPU, more than a road sign's inference: a batch of 8
    makes one claim transaction, one result transaction and one delete, besides each image's read (no
    copy: the item names the version read). One item is deleted before the batch runs: the claim
    transaction drops it and claims the rest, and nothing is left of it."""
    from local.pump import sqs_event

    cat = encode(Image.fromarray(photos.chelsea()), "JPEG")
    uploaded = [_upload(api, ann, "/vision/animals", cat) for _ in range(8)]
    messages = _received(aws, 8)
    assert api.delete(f"/vision/animals/{uploaded[3]}", headers=ann).status_code == 204
    made: list[str] = []
    with botocore_answers(monkeypatch, _requests(made)):
        response = call_handler(vision_handler, sqs_event(messages, WORKER.queues[0].queue_arn), LambdaContext("v"))

    assert response == {"batchItemFailures": []}
    assert sorted(made) == sorted(
        ["TransactWriteItems"] * 2  # the claims: refused with the deleted item, then made without it
        + ["S3 GET"] * 8  # each upload read (the deleted item's, gone, while its claim was made)
        + ["TransactWriteItems"]  # the results
        + ["GetItem"]  # the deleted item, read: does it wait for this delivery's upload?
        + ["S3 POST delete"]  # what nothing waits for, at once: here nothing (the deleted item's is gone)
    ), made
    for item_id in [*uploaded[:3], *uploaded[4:]]:
        assert api.get(f"/vision/animals/{item_id}", headers=ann).json()["status"] == "done"
    assert sorted(key.split("/")[0] for key in ocr.stored(aws)) == ["uploads"] * 7  # each version labelled


LARGEST_ACCEPTED = (7300, 5470)  # 39.9 MP: ASSISTI_MAX_IMAGE_PIXELS is 40 M


def _largest_png(seed: int) -> bytes:
    """A PNG with alpha at the pixel limit, a screenshot's kind of file: 160 MB once decoded, 2.4 MB as
    a file (well inside the upload limit)."""
    from PIL import ImageDraw

    width, height = LARGEST_ACCEPTED
    image = Image.new("RGBA", LARGEST_ACCEPTED, (seed * 60 % 256, 120, 200, 255))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 97):
        draw.line([(x, 0), (width - x, height)], fill=(x % 256, seed * 40 % 256, 90, 200), width=3)
    return encode(image, "PNG", compress_level=1)


def test_a_batch_of_the_largest_images_accepted_is_labelled_within_the_workers_memory(api, ann, aws):
    """A batch of eight 40 MP PNGs with alpha, in a cold container (a fresh process started with the
    template's environment): every item done, with a peak RSS under 60% of the memory the template
    gives the worker. Measured at 495-511 MB; 950 MB when decoded images were held at full size while
    they waited for the model, 2,332 MB when every upload of the batch was decoded at once, and
    1,246-1,269 MB with four uploads read ahead and decoded at once, at full size."""
    from local.pump import sqs_event

    payloads = [_largest_png(seed) for seed in range(2)]
    uploaded = [_upload(api, ann, "/vision/animals", payloads[index % 2]) for index in range(8)]
    event = sqs_event(_received(aws, 8), WORKER.queues[0].queue_arn)

    answer, peak_mb = run_cold(WORKER, event)

    assert answer == {"batchItemFailures": []}
    for item_id in uploaded:
        assert api.get(f"/vision/animals/{item_id}", headers=ann).json()["status"] == "done"
    assert peak_mb < 0.6 * WORKER.memory_mb, f"peak {peak_mb:.0f} MB of {WORKER.memory_mb} MB"
    print(f"8 x 40 MP PNG: peak RSS {peak_mb:.0f} MB of the worker's {WORKER.memory_mb} MB")


def _after_the_read(monkeypatch: pytest.MonkeyPatch, meanwhile: Any) -> None:
    """The worker has read the upload; `meanwhile` happens before it goes on."""
    from assisti_common.image_jobs import storage

    read_object = storage.read_object

    def read_then_meanwhile(*args: Any) -> Any:
        read = read_object(*args)
        meanwhile()
        return read

    monkeypatch.setattr(storage, "read_object", read_then_meanwhile)


def test_the_image_is_served_typed_as_its_bytes_are_not_as_the_upload_declared(api, ann, aws, pump):
    """An app may declare one image type and send another (a PNG screenshot sent as image/jpeg): the
    image the item links to is served with the type of its bytes."""
    for declared, sent, expected in [("image/jpeg", "JPEG", "image/jpeg"), ("image/jpeg", "PNG", "image/png")]:
        created = api.post("/vision/animals", json={"title": "photo", "content_type": declared}, headers=ann).json()
        upload = created["upload"]
        payload = encode(Image.fromarray(photos.chelsea()), sent)
        assert httpx.post(upload["url"], data=upload["fields"], files={"file": ("p", payload, declared)}).is_success
        drain = [pump.poll_once(wait_seconds=0) for _ in range(3)]
        assert sum(drain) >= 1
        done = api.get(f"/vision/animals/{created['item']['id']}", headers=ann).json()
        assert done["status"] == "done", done
        served = httpx.get(done["image_url"])
        assert served.content == payload and served.headers["content-type"] == expected, (sent, served.headers)


def test_an_event_that_names_no_version_is_labelled_from_the_version_read(api, ann, aws, vision_handler):
    """S3 names the object's version in every event of a versioned bucket (not for an object written
    before the bucket was versioned); should one not, the item names the version the worker read."""

    png = encode(Image.fromarray(photos.chelsea()), "PNG")
    item_id = _upload(api, ann, "/vision/animals", png)  # declared image/jpeg
    (message,) = [message for message in _received(aws, 1) if item_id in message["Body"]]
    body = json.loads(message["Body"])
    del body["Records"][0]["s3"]["object"]["versionId"]
    _handle(vision_handler, {**message, "Body": json.dumps(body)})
    done = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert done["status"] == "done" and done["group"] == "cat"
    served = httpx.get(done["image_url"])
    assert served.content == png and served.headers["content-type"] == "image/png"
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"]


def test_a_redelivery_after_the_item_is_done_leaves_its_image_as_it_was(api, ann, aws, vision_handler):
    """SQS may deliver a message again after its item is done, and the POST may be used again with the
    same bytes (here put again). Neither changes the item, nor the version its link serves, typed as its
    bytes are; the new version's own event deletes it."""
    from assisti_common.settings import get_settings

    png = encode(Image.fromarray(photos.chelsea()), "PNG")
    item_id = _upload(api, ann, "/vision/animals", png)  # declared image/jpeg
    (message,) = [message for message in _received(aws, 1) if item_id in message["Body"]]
    _handle(vision_handler, message)
    done = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert done["status"] == "done" and httpx.get(done["image_url"]).headers["content-type"] == "image/png"

    upload_key = unquote_plus(json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"])
    s3 = boto3.client("s3", endpoint_url=aws)
    s3.put_object(Bucket=get_settings().uploads_bucket, Key=upload_key, Body=png, ContentType="image/jpeg")
    _handle(vision_handler, message)  # delivered again
    (put_again,) = _received(aws, 1)
    _handle(vision_handler, put_again)
    again = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert again == {**done, "image_url": again["image_url"]}
    served = httpx.get(again["image_url"])
    assert served.content == png and served.headers["content-type"] == "image/png"
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"]  # the version put again: deleted


def test_an_upload_gone_before_its_event_is_handled_fails_its_item(api, ann, aws, vision_handler):
    """The upload is deleted behind the worker's back (by hand, or a fault): the item fails with
    `image_missing`, not left `processing`."""
    from assisti_common.settings import get_settings

    item_id = _upload(api, ann, "/vision/animals", encode(Image.fromarray(photos.chelsea()), "JPEG"))
    (message,) = [message for message in _received(aws, 1) if item_id in message["Body"]]
    announced = json.loads(message["Body"])["Records"][0]["s3"]["object"]
    boto3.client("s3", endpoint_url=aws).delete_object(
        Bucket=get_settings().uploads_bucket, Key=unquote_plus(announced["key"]), VersionId=announced["versionId"]
    )
    _handle(vision_handler, message)
    failed = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "image_missing"
    assert ocr.stored(aws) == []


def _replaced_upload(api, ann, aws) -> tuple[str, Any, Any, Any]:
    """An item whose presigned POST is used twice, a cat then a coffee: its id, the two files, a
    `post` of a file through that POST, and `message_of` a file (its event, told apart by ETag)."""
    cat, coffee = (encode(Image.fromarray(scene), "JPEG") for scene in (photos.chelsea(), photos.coffee()))
    created = api.post("/vision/animals", json={"title": "photo"}, headers=ann).json()
    upload = created["upload"]

    def post(payload: bytes) -> None:
        stored = httpx.post(upload["url"], data=upload["fields"], files={"file": ("p.jpg", payload, "image/jpeg")})
        assert stored.status_code == 204

    received: list[dict[str, Any]] = []  # taken from the queue: each stays invisible there meanwhile

    def message_of(payload: bytes) -> dict[str, Any]:
        etag = hashlib.md5(payload, usedforsecurity=False).hexdigest()  # a single-part upload's ETag
        while not any(etag in message["Body"] for message in received):
            received.extend(_received(aws, 1))
        (message,) = [message for message in received if etag in message["Body"]]
        return message

    return created["item"]["id"], (cat, coffee), post, message_of


def test_an_upload_replaced_before_its_event_is_handled_is_labelled_as_it_is_now(api, ann, aws, vision_handler):
    """The POST used again before the first upload's event is handled: that delivery reads the upload as
    it is now, labels that version, and deletes its own. The new version's own event then finds the
    item done, naming it."""
    item_id, (cat, coffee), post, message_of = _replaced_upload(api, ann, aws)
    post(cat)
    post(coffee)
    _handle(vision_handler, message_of(cat))
    done = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert done["status"] == "done" and done["label"] == "not_an_animal"  # the coffee
    assert httpx.get(done["image_url"]).content == coffee
    _handle(vision_handler, message_of(coffee))
    assert api.get(f"/vision/animals/{item_id}", headers=ann).json() == {**done, "image_url": ANY}
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"]


def test_an_upload_replaced_after_it_was_read_is_labelled_as_read_and_the_new_one_is_deleted(
    api, ann, aws, vision_handler, monkeypatch
):
    """The POST used again while the worker looks at the first upload. The item names the version the
    worker read, which its link serves whatever the key holds now; the new version's own event finds
    the item done and deletes it, as for a POST used again after the item is done."""
    item_id, (cat, coffee), post, message_of = _replaced_upload(api, ann, aws)
    post(cat)
    _after_the_read(monkeypatch, lambda: post(coffee))
    _handle(vision_handler, message_of(cat))
    done = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert done["status"] == "done" and done["group"] == "cat"
    assert httpx.get(done["image_url"]).content == cat
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"] * 2  # the cat, and the coffee

    monkeypatch.undo()
    _handle(vision_handler, message_of(coffee))
    assert api.get(f"/vision/animals/{item_id}", headers=ann).json() == {**done, "image_url": ANY}
    assert httpx.get(done["image_url"]).content == cat
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"]  # the coffee is deleted


def test_a_stale_event_that_takes_the_claim_over_labels_the_upload_as_it_is_now(api, ann, aws, vision_handler):
    """The new upload's delivery claims the item; while its model runs, the first upload's (stale)
    event is handled and takes the claim over, so the new delivery's write is refused. The stale
    delivery reads the upload as it is now and labels that version: no item is left `processing`, and
    no version the item does not name is left."""
    import assisti_vision_worker.handler as vision
    from assisti_common.image_jobs.kinds import Kind

    item_id, (cat, coffee), post, message_of = _replaced_upload(api, ann, aws)
    post(cat)
    post(coffee)
    stale, model = message_of(cat), vision.worker.processors[Kind.ANIMALS]

    def model_while_the_stale_event_is_handled(image: Image.Image) -> Any:
        vision.worker.processors[Kind.ANIMALS] = model
        _handle(vision_handler, stale)
        return model(image)

    vision.worker.processors[Kind.ANIMALS] = model_while_the_stale_event_is_handled
    try:
        _handle(vision_handler, message_of(coffee))
    finally:
        vision.worker.processors[Kind.ANIMALS] = model
    done = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert done["status"] == "done" and done["label"] == "not_an_animal"  # the coffee
    assert httpx.get(done["image_url"]).content == coffee
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"]


def test_a_stale_event_that_takes_the_claim_over_from_a_rejected_upload_fails_the_item(
    api, ann, aws, vision_handler, monkeypatch
):
    """The POST used again with a file that is not an image. The new object's delivery rejects it;
    while it writes the failure, the first object's (stale) event is handled, takes the claim over,
    reads the same file and rejects it too. Its failing write is made, so the item fails instead of
    staying `processing`, and each delivery deletes its own version."""
    from assisti_common.db import image_items

    item_id, (cat, _), post, message_of = _replaced_upload(api, ann, aws)
    not_an_image = b"this is not an image"
    post(cat)
    post(not_an_image)
    stale, finishing_failed = message_of(cat), image_items.finishing_failed

    def failing_while_the_stale_event_is_handled(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(image_items, "finishing_failed", finishing_failed)
        _handle(vision_handler, stale)
        return finishing_failed(*args, **kwargs)

    monkeypatch.setattr(image_items, "finishing_failed", failing_while_the_stale_event_is_handled)
    _handle(vision_handler, message_of(not_an_image))
    failed = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "not_an_image"
    assert ocr.stored(aws) == []


def test_a_delivery_that_lost_its_claim_to_one_that_read_an_older_upload_leaves_the_item_to_it(
    api, ann, aws, vision_handler, monkeypatch
):
    """The first upload's delivery has read it (a cat) when the POST is used again (a coffee). The
    coffee's delivery claims the item; then the cat's claim lands and takes it over, and labels the cat
    it read, the version its link serves. The coffee's delivery finds its write refused and the item
    done without its version: it deletes that version and is acknowledged. (Before the bucket was
    versioned, the cat's delivery could keep no copy of the cat, wrote nothing, and the item stayed
    `processing` unless the coffee's delivery was tried again.)"""

    import assisti_vision_worker.handler as vision
    from assisti_common.image_jobs import storage
    from assisti_common.image_jobs.kinds import Kind
    from assisti_common.settings import get_settings
    from local.pump import sqs_event

    item_id, (cat, coffee), post, message_of = _replaced_upload(api, ann, aws)
    post(cat)
    stale = message_of(cat)
    upload_key = unquote_plus(json.loads(stale["Body"])["Records"][0]["s3"]["object"]["key"])
    # The cat's delivery reads the upload before the POST is used again (its claim is still on its way).
    read_before = storage.read_object(get_settings().uploads_bucket, upload_key, 50_000_000)
    post(coffee)
    fresh, model = message_of(coffee), vision.worker.processors[Kind.ANIMALS]

    def model_while_the_stale_delivery_takes_the_claim_over(image: Image.Image) -> Any:
        vision.worker.processors[Kind.ANIMALS] = model
        with monkeypatch.context() as patch:
            patch.setattr(storage, "read_object", lambda *args: read_before)
            _handle(vision_handler, stale)  # claims the item, labels the cat it read
        return model(image)

    vision.worker.processors[Kind.ANIMALS] = model_while_the_stale_delivery_takes_the_claim_over
    try:
        answer = call_handler(vision_handler, sqs_event([fresh], WORKER.queues[0].queue_arn), LambdaContext("v"))
    finally:
        vision.worker.processors[Kind.ANIMALS] = model
    assert answer == {"batchItemFailures": []}
    done = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert done["status"] == "done" and done["group"] == "cat"
    assert httpx.get(done["image_url"]).content == cat
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"]  # the cat; the coffee is deleted


def test_a_delivery_whose_item_a_newer_upload_took_over_deletes_its_own_version(api, ann, aws, vision_handler):
    """The first upload's delivery has read it (a cat) when the POST is used again (a coffee), and the
    coffee's delivery takes the item over and labels the coffee while the cat's model runs. The cat's
    write is refused; the item names the coffee, so the cat's delivery deletes the cat's version and is
    acknowledged: the label and the link name the coffee, and nothing else is kept."""
    import assisti_vision_worker.handler as vision
    from assisti_common.image_jobs.kinds import Kind

    item_id, (cat, coffee), post, message_of = _replaced_upload(api, ann, aws)
    post(cat)
    first, model = message_of(cat), vision.worker.processors[Kind.ANIMALS]

    def model_while_a_newer_upload_is_labelled(image: Image.Image) -> Any:
        vision.worker.processors[Kind.ANIMALS] = model
        post(coffee)
        _handle(vision_handler, message_of(coffee))  # takes the item over, labels the coffee
        return model(image)

    vision.worker.processors[Kind.ANIMALS] = model_while_a_newer_upload_is_labelled
    try:
        _handle(vision_handler, first)  # read the cat; its write is refused
    finally:
        vision.worker.processors[Kind.ANIMALS] = model
    done = api.get(f"/vision/animals/{item_id}", headers=ann).json()
    assert done["status"] == "done" and done["label"] == "not_an_animal"  # the coffee
    assert httpx.get(done["image_url"]).content == coffee
    assert [key.split("/")[0] for key in ocr.stored(aws)] == ["uploads"]  # the coffee; the cat is deleted


def test_an_item_deleted_after_its_upload_was_read_leaves_nothing_and_is_no_failure(
    api, ann, aws, vision_handler, monkeypatch
):
    """The user deletes the item (and with it the upload) while the worker holds the image: there is
    nothing to write and nothing to retry, and nothing is left in S3."""
    from local.pump import sqs_event

    item_id = _upload(api, ann, "/vision/animals", encode(Image.fromarray(photos.chelsea()), "JPEG"))
    (message,) = [message for message in _received(aws, 1) if item_id in message["Body"]]
    _after_the_read(monkeypatch, lambda: api.delete(f"/vision/animals/{item_id}", headers=ann))
    answer = call_handler(vision_handler, sqs_event([message], WORKER.queues[0].queue_arn), LambdaContext("vision"))
    assert answer == {"batchItemFailures": []}
    assert api.get(f"/vision/animals/{item_id}", headers=ann).status_code == 404
    assert ocr.stored(aws) == []
