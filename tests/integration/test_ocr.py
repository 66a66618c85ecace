"""OCR through the real handlers: presigned upload to moto's S3, its notification on SQS, the worker
invoked with the real SQS event, and the item read back through the API."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import ANY

import boto3
import httpx
import pytest

from assisti_common.db import image_items
from assisti_common.db.models import ImageItemModel
from assisti_common.image_jobs.kinds import Kind, OcrResult
from assisti_common.image_jobs.worker import ImageJobWorker, JobResult
from assisti_common.settings import get_settings
from local.functions import LambdaContext, call_handler, load_handler
from local.pump import QueuePump, sqs_event
from tests.conftest import TEMPLATE
from tests.helpers import assert_error
from tests.images import encode, jpeg_with_corrupt_exif, png_header_only, sliver, text_image, truncated

WORKER = next(function for function in TEMPLATE.functions() if function.logical_id == "OcrWorkerFunction")
DEAD_LETTERS = next(function for function in TEMPLATE.functions() if function.logical_id == "OcrDeadLetterFunction")


@pytest.fixture(scope="session")
def ocr_handler(moto_server):
    return load_handler(WORKER.handler)


@pytest.fixture(scope="session")
def dead_letter_handler(moto_server):
    return load_handler(DEAD_LETTERS.handler)


def _pump(aws: str, function: Any, handler: Any) -> QueuePump:
    return QueuePump(
        function.queues[0], lambda event: call_handler(handler, event, LambdaContext("ocr")), aws, retry_delay=0
    )


@pytest.fixture
def pump(aws, ocr_handler) -> QueuePump:
    return _pump(aws, WORKER, ocr_handler)


def create(api, headers, title="Receipt", content_type="image/png") -> dict[str, Any]:
    response = api.post("/ocr", json={"title": title, "content_type": content_type}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def upload(created: dict[str, Any], data: bytes, content_type: str = "image/png") -> httpx.Response:
    """What the app does: a multipart POST straight to S3 with the presigned fields."""
    upload = created["upload"]
    return httpx.post(upload["url"], data=upload["fields"], files={"file": ("photo", data, content_type)})


def drain(pump: QueuePump, rounds: int = 5) -> None:
    for _ in range(rounds):
        if pump.poll_once(wait_seconds=0) == 0:
            return


def item(api, headers, item_id: str) -> dict[str, Any]:
    response = api.get(f"/ocr/{item_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def stored(aws: str) -> list[str]:
    """The key of every version (and delete marker) in the uploads bucket, which is versioned: a key
    once for each version of it that is kept."""
    listed = boto3.client("s3", endpoint_url=aws).list_object_versions(Bucket=get_settings().uploads_bucket)
    markers = [f"{entry['Key']} (delete marker)" for entry in listed.get("DeleteMarkers", [])]
    return sorted([*(entry["Key"] for entry in listed.get("Versions", [])), *markers])


# --- the upload policy ---------------------------------------------------------------------------


def test_the_presigned_upload_binds_key_size_and_type(api, ann):
    created = create(api, ann, content_type="image/webp")
    assert created["item"]["status"] == "awaiting_upload" and created["item"]["image_url"] is None
    fields = created["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    owner = api.get("/me", headers=ann).json()["id"]
    assert {"key": f"uploads/ocr/{owner}/{created['item']['id']}"} in conditions
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
    assert {"Content-Type": "image/webp"} in conditions and fields["Content-Type"] == "image/webp"
    assert created["upload"]["max_bytes"] == 10 * 1024 * 1024
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert expires <= datetime.now(UTC) + timedelta(minutes=5)  # a window for one upload, not for many
    assert_error(api.post("/ocr", json={"title": "x", "content_type": "image/gif"}, headers=ann), 422)
    assert_error(api.post("/ocr", json={"title": ""}, headers=ann), 422)


# --- the happy path ------------------------------------------------------------------------------


def test_an_uploaded_image_becomes_a_label(api, ann, pump):
    created = create(api, ann)
    assert upload(created, encode(text_image(["Hello Assisti", "Total 42"]))).status_code == 204
    drain(pump)
    done = item(api, ann, created["item"]["id"])
    assert done["status"] == "done" and done["error"] is None
    assert done["label"] == "Hello Assisti\nTotal 42"
    assert [line["text"] for line in done["lines"]] == ["Hello Assisti", "Total 42"]
    assert all(0 < line["confidence"] <= 1 and len(line["box"]) == 4 for line in done["lines"])
    assert 0 < done["confidence"] <= 1
    assert httpx.get(done["image_url"]).status_code == 200


def test_an_image_without_text_gives_an_empty_label(api, ann, pump):
    created = create(api, ann)
    upload(created, encode(text_image([""], size=40)))
    drain(pump)
    done = item(api, ann, created["item"]["id"])
    assert done["status"] == "done" and done["label"] == "" and done["lines"] == []


def test_exif_orientation_is_applied(api, ann, pump):
    created = create(api, ann, content_type="image/jpeg")
    sideways = text_image(["ROTATED 90"]).rotate(-90, expand=True)  # stored turned clockwise
    exif = sideways.getexif()
    exif[0x0112] = 8  # Orientation: "turn 90 degrees counter-clockwise to view"
    upload(created, encode(sideways, "JPEG", exif=exif, quality=95), "image/jpeg")
    drain(pump)
    assert item(api, ann, created["item"]["id"])["label"] == "ROTATED 90"


def test_wait_long_polls_until_done(api, ann, pump):
    import threading

    created = create(api, ann)
    upload(created, encode(text_image(["Polling"])))
    timer = threading.Timer(0.5, drain, args=(pump,))
    timer.start()
    waited = api.get(f"/ocr/{created['item']['id']}", params={"wait": 20}, headers=ann).json()
    timer.join()
    assert waited["status"] == "done" and waited["label"] == "Polling"
    assert_error(api.get(f"/ocr/{created['item']['id']}", params={"wait": 21}, headers=ann), 422)


# --- bad images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"this is not an image at all", "not_an_image"),
        (b"%PDF-1.4 pretending to be a png", "not_an_image"),
        (truncated(encode(text_image(["cut off"]), "PNG")), "corrupt_image"),
        (png_header_only(30_000, 30_000), "too_many_pixels"),
        (encode(text_image(["gif"]), "GIF"), "unsupported_format"),
        (b"", "empty_upload"),
    ],
    ids=["garbage", "pdf", "truncated", "decompression-bomb", "gif", "empty"],
)
def test_bad_images_fail_with_a_clear_error_and_are_not_retried(api, ann, pump, data, code):
    created = create(api, ann)
    upload(created, data)
    drain(pump)
    failed = item(api, ann, created["item"]["id"])
    assert failed["status"] == "failed" and failed["label"] is None
    assert failed["error"]["code"] == code and failed["error"]["message"]
    assert pump.poll_once(wait_seconds=0) == 0  # consumed: permanent errors are not retried


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (jpeg_with_corrupt_exif(), "image/jpeg", "corrupt_image"),
        (sliver(1, 40_000), "image/png", "extreme_aspect_ratio"),
    ],
    ids=["corrupt-exif", "1x40000"],
)
def test_a_malformed_image_fails_on_its_first_try(api, ann, aws, ocr_handler, data, content_type, code):
    """EXIF Pillow cannot apply (struct.error) and a shape OpenCV cannot resize are in the file: retrying
    cannot help, so the first try fails the item and the message is settled."""
    created = create(api, ann, content_type=content_type)
    item_id = created["item"]["id"]
    tries: list[Any] = []

    def invoke(event: dict[str, Any]) -> Any:
        tries.extend(record for record in event["Records"] if item_id in record["body"])
        return call_handler(ocr_handler, event, LambdaContext("ocr"))

    upload(created, data, content_type)
    drain(QueuePump(WORKER.queues[0], invoke, aws, retry_delay=0))
    failed = item(api, ann, item_id)
    assert len(tries) == 1
    assert failed["status"] == "failed" and failed["error"]["code"] == code and failed["error"]["message"]


def test_an_oversized_upload_fails_even_if_s3_accepted_it(api, ann, pump, aws):
    import boto3

    from assisti_common.settings import get_settings

    created = create(api, ann)
    key = json.loads(base64.b64decode(created["upload"]["fields"]["policy"]))["conditions"]
    object_key = next(condition["key"] for condition in key if isinstance(condition, dict) and "key" in condition)
    boto3.client("s3", endpoint_url=aws).put_object(  # moto does not enforce the POST policy's size range
        Bucket=get_settings().uploads_bucket, Key=object_key, Body=b"\xff" * (10 * 1024 * 1024 + 1)
    )
    drain(pump)
    assert item(api, ann, created["item"]["id"])["error"]["code"] == "too_large"


# --- the state machine ---------------------------------------------------------------------------


def test_a_duplicate_event_never_writes_the_label_twice(api, ann, pump, ocr_handler):
    created = create(api, ann)
    upload(created, encode(text_image(["Once"])))
    event = sqs_event([_upload_message(pump)], pump.source.queue_arn)
    first = call_handler(ocr_handler, event, LambdaContext("ocr"))
    done = item(api, ann, created["item"]["id"])
    second = call_handler(ocr_handler, event, LambdaContext("ocr"))  # S3 and SQS deliver at least once
    assert first == second == {"batchItemFailures": []}
    again = item(api, ann, created["item"]["id"])
    assert again["label"] == "Once" and again["updated_at"] == done["updated_at"]


def _upload_message(pump: QueuePump) -> dict[str, Any]:
    """The next upload notification (S3 also sends a test event when notifications are set up)."""
    for _ in range(5):
        for message in pump.sqs.receive_message(QueueUrl=pump.queue_url, AttributeNames=["All"]).get("Messages", []):
            if "Records" in json.loads(message["Body"]):
                return message
            pump.sqs.delete_message(QueueUrl=pump.queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("no upload notification arrived")


def test_an_event_for_a_deleted_item_is_a_no_op(api, ann, pump):
    created = create(api, ann)
    upload(created, encode(text_image(["Gone"])))
    assert api.delete(f"/ocr/{created['item']['id']}", headers=ann).status_code == 204
    drain(pump)
    assert list(ImageItemModel.scan()) == []
    assert_error(api.get(f"/ocr/{created['item']['id']}", headers=ann), 404)


def test_a_worker_crash_is_retried_then_fails_the_item_and_dead_letters(api, ann, aws, dead_letter_handler):
    attempts: list[int] = []

    def crashing(image: Any) -> JobResult:
        attempts.append(1)
        raise RuntimeError("the model crashed")

    crashing_worker = ImageJobWorker({Kind.OCR: crashing})
    pump = QueuePump(
        WORKER.queues[0], lambda event: crashing_worker.lambda_handler(event, LambdaContext("ocr")), aws, retry_delay=0
    )
    created = create(api, ann)
    upload(created, encode(text_image(["Crash"])))
    for _ in range(6):
        pump.poll_once(wait_seconds=0)
        if item(api, ann, created["item"]["id"])["status"] == "failed":
            break
    assert len(attempts) == 3  # maxReceiveCount
    failed = item(api, ann, created["item"]["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "processing_failed"
    assert pump.poll_once(wait_seconds=0) == 0  # a fourth receive moves the message to the DLQ instead
    dead = _pump(aws, DEAD_LETTERS, dead_letter_handler)
    assert dead.poll_once(wait_seconds=0) == 1  # there it is; the item is already failed, so a no-op
    assert item(api, ann, created["item"]["id"])["updated_at"] == failed["updated_at"]


def test_the_dead_letter_handler_fails_an_item_left_processing(api, ann, aws, dead_letter_handler):
    """A worker killed on its last try (timeout, out of memory) cannot fail the item itself."""
    created = create(api, ann)
    upload(created, encode(text_image(["Killed"])))
    worker_pump = QueuePump(WORKER.queues[0], lambda event: _claim_then_die(event), aws, retry_delay=0)
    for _ in range(4):
        worker_pump.poll_once(wait_seconds=0)
    assert item(api, ann, created["item"]["id"])["status"] == "processing"
    _pump(aws, DEAD_LETTERS, dead_letter_handler).poll_once(wait_seconds=0)
    failed = item(api, ann, created["item"]["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "processing_failed"
    assert stored(aws) == []  # nothing waits for the upload


def _claim_then_die(event: dict[str, Any]) -> None:
    """A try that claims the item and reads the image, then dies before writing the label."""
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from assisti_common.db import image_items as labels
    from assisti_common.image_jobs import storage
    from assisti_common.image_jobs.events import uploads_in

    for raw in event["Records"]:
        for upload_ in uploads_in(SQSRecord(raw)):
            found = labels.get_item(upload_.key.owner_id, upload_.key.kind, upload_.key.item_id)
            assert found is not None
            labels.claim(found, raw["messageId"])
            storage.read_object(upload_.bucket, str(upload_.key), 50_000_000)
    raise RuntimeError("killed: the invocation died before it could answer")


# --- the rest of the API, and isolation ----------------------------------------------------------


def test_list_rename_delete_and_pagination(api, ann, pump, aws):
    ids = [create(api, ann, title=f"scan {index}")["item"]["id"] for index in range(3)]
    page = api.get("/ocr", params={"limit": 2}, headers=ann).json()
    assert [entry["id"] for entry in page["items"]] == ids[::-1][:2]
    rest = api.get("/ocr", params={"limit": 2, "cursor": page["next_cursor"]}, headers=ann).json()
    assert [entry["id"] for entry in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    renamed = api.patch(f"/ocr/{ids[0]}", json={"title": "Renamed"}, headers=ann).json()
    assert renamed["title"] == "Renamed"
    created = create(api, ann)
    upload(created, encode(text_image(["Delete me"])))
    drain(pump)
    assert api.delete(f"/ocr/{created['item']['id']}", headers=ann).status_code == 204
    import boto3

    from assisti_common.settings import get_settings

    listed = boto3.client("s3", endpoint_url=aws).list_objects_v2(Bucket=get_settings().uploads_bucket)
    assert created["item"]["id"] not in str(listed.get("Contents", []))


def test_another_users_items_answer_404(api, ann, bo, pump):
    created = create(api, ann)
    upload(created, encode(text_image(["Private"])))
    drain(pump)
    item_id = created["item"]["id"]
    for method, path, body in [
        ("GET", f"/ocr/{item_id}", None),
        ("PATCH", f"/ocr/{item_id}", {"title": "x"}),
        ("DELETE", f"/ocr/{item_id}", None),
    ]:
        response = api.request(method, path, json=body, headers=bo)
        assert_error(response, 404)
        assert "Private" not in response.text
    assert api.get("/ocr", headers=bo).json()["items"] == []
    assert item(api, ann, item_id)["label"] == "Private"


def test_an_upload_cannot_land_on_another_users_key(api, ann, bo):
    """The POST policy names the key; S3 refuses a form whose key differs (checked here on the policy,
    since moto does not verify POST policies)."""
    created = create(api, ann)
    policy = json.loads(base64.b64decode(created["upload"]["fields"]["policy"]))
    bo_id = api.get("/me", headers=bo).json()["id"]
    assert all(bo_id not in json.dumps(condition) for condition in policy["conditions"])


def test_deleting_the_account_removes_items_and_uploads(api, ann, pump, aws):
    """Every version of every item's key goes, and any copy kept under images/ before the bucket was
    versioned: nothing is left, not even behind a delete marker."""
    from assisti_common.image_jobs import storage
    from assisti_common.settings import get_settings

    done, waiting = create(api, ann), create(api, ann)
    upload(done, encode(text_image(["Mine"])))
    drain(pump)
    assert item(api, ann, done["item"]["id"])["status"] == "done"
    upload(waiting, encode(text_image(["Not yet read"])))  # its event stays in the queue
    owner = api.get("/me", headers=ann).json()["id"]
    old_copy = f"images/ocr/{owner}/{done['item']['id']}/a-claim-of-before"
    storage.s3().put_object(Bucket=get_settings().uploads_bucket, Key=old_copy, Body=b"kept bytes")
    assert len(stored(aws)) == 3

    assert api.delete("/me", headers=ann).status_code == 204
    assert list(ImageItemModel.scan()) == []
    assert stored(aws) == []


# --- an upload lives only while its item waits for it ----------------------------------------------


def test_an_upload_after_the_item_is_deleted_is_deleted_by_the_worker(api, ann, pump, aws):
    created = create(api, ann)
    assert api.delete(f"/ocr/{created['item']['id']}", headers=ann).status_code == 204
    assert upload(created, encode(text_image(["Too late"]))).status_code == 204  # the POST is still valid
    drain(pump)
    assert stored(aws) == []


def test_an_upload_after_the_account_is_deleted_is_deleted_by_the_worker(api, ann, pump, aws):
    created = create(api, ann)
    assert api.delete("/me", headers=ann).status_code == 204
    assert upload(created, encode(text_image(["Orphan"]))).status_code == 204
    drain(pump)
    assert stored(aws) == []


def test_a_reupload_after_done_is_deleted_and_the_label_and_its_image_stay(api, ann, pump, aws):
    created = create(api, ann)
    first = encode(text_image(["First"]))
    upload(created, first)
    drain(pump)
    done = item(api, ann, created["item"]["id"])
    assert [key.split("/")[0] for key in stored(aws)] == ["uploads"]  # the version the label was read from

    assert upload(created, encode(text_image(["Swapped"]))).status_code == 204  # the same presigned POST
    drain(pump)
    after = item(api, ann, created["item"]["id"])
    assert after["label"] == "First" and after["updated_at"] == done["updated_at"]
    assert httpx.get(after["image_url"]).content == first  # the image the label was read from
    assert [key.split("/")[0] for key in stored(aws)] == ["uploads"]  # the swapped version is deleted


@pytest.mark.parametrize("last_try", [False, True], ids=["an earlier try", "the last try"])
def test_a_delivery_that_lost_the_item_leaves_the_upload_to_the_one_holding_it(
    api, ann, pump, aws, ocr_handler, last_try
):
    """A second delivery of the same upload (S3 and SQS deliver at least once) takes the item over while
    the first is still at work: the first must not delete the version the second is reading. Its write
    refused, the first goes back to the queue, to learn once the item is settled whether the item names
    its version; its next try, once the second is done, finds nothing to do. On its last try it is
    acknowledged instead: failed, it would reach the dead-letter handler, which fails an item still
    `processing`, though the holder may finish it."""
    from assisti_common.image_jobs.settings import get_image_settings

    created = create(api, ann)
    owner, item_id = api.get("/me", headers=ann).json()["id"], created["item"]["id"]
    upload(created, encode(text_image(["Taken over"])))
    message = _upload_message(pump)
    duplicate = {**message, "MessageId": "the-duplicate-delivery"}
    if last_try:
        receives = str(get_image_settings().worker_max_receives)
        message = {**message, "Attributes": {**message["Attributes"], "ApproximateReceiveCount": receives}}

    def overtaken(image: Any) -> JobResult:
        found = image_items.get_item(owner, Kind.OCR, item_id)
        assert found is not None and image_items.claim(found, duplicate["MessageId"])
        return JobResult("stale", None, OcrResult())

    first = ImageJobWorker({Kind.OCR: overtaken}, lookahead=1, settle_as_done=True).lambda_handler  # as OCR's
    answer = first(sqs_event([message], pump.source.queue_arn), LambdaContext("ocr"))
    assert answer == {"batchItemFailures": [] if last_try else [{"itemIdentifier": message["MessageId"]}]}
    assert item(api, ann, item_id)["status"] == "processing"
    assert stored(aws) == [f"uploads/ocr/{owner}/{item_id}"]

    second = call_handler(ocr_handler, sqs_event([duplicate], pump.source.queue_arn), LambdaContext("ocr"))
    assert second == {"batchItemFailures": []}
    done = item(api, ann, item_id)
    assert done["status"] == "done" and done["label"] == "Taken over"
    assert [key.split("/")[0] for key in stored(aws)] == ["uploads"]  # the version the label was read from

    again = call_handler(ocr_handler, sqs_event([message], pump.source.queue_arn), LambdaContext("ocr"))
    assert again == {"batchItemFailures": []}  # the first delivery's next try
    assert item(api, ann, item_id) == {**done, "image_url": ANY}
    assert [key.split("/")[0] for key in stored(aws)] == ["uploads"]
