"""Local AWS keeps DynamoDB's promise that each request is atomic, however many arrive at once (the
quota and counter tests rest on it), and S3's that every upload is stored whole and announced with
its version, however many arrive at once (the image workers rest on it). A benchmark can give a
service AWS's round-trip time."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_plus

import boto3
import httpx

from assisti_common.db import usage
from assisti_common.db.base import transact
from assisti_common.db.models import UsageModel
from assisti_common.settings import get_settings
from local.aws_server import LATENCY_PATH, RESET_PATH

THREADS = 16
EACH = 15
OTHER_USERS = 500  # a table with others' data in it, as every real one has


def test_transactions_cancelled_in_parallel_undo_none_of_the_writes_made_meanwhile(aws):
    # Given a table with one user at their daily limit, and another user's counter
    day = usage.today()
    quota = usage.Quota(messages=1, tokens=1)
    with UsageModel.batch_write() as batch:
        for index in range(OTHER_USERS):
            batch.save(UsageModel(f"other-{index}", day, messages=1))
        batch.save(UsageModel("at-limit", day, messages=1))
    start = threading.Barrier(THREADS)

    def run(thread: int) -> list[bool]:
        start.wait()
        if thread % 2:  # refused, every time: the user is at the limit
            return [transact(lambda tx: usage.count(tx, "at-limit", day, messages=1, quota=quota)) for _ in range(EACH)]
        return [transact(lambda tx: usage.count(tx, "counter", day, messages=1)) for _ in range(EACH)]

    # When half the threads add to the counter while the other half are refused, all at once
    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(run, range(THREADS)))

    # Then every refusal left the table as it found it, and every increment made is still there
    made = sum(sum(outcome) for thread, outcome in enumerate(outcomes) if thread % 2 == 0)
    refused = [written for thread, outcome in enumerate(outcomes) if thread % 2 for written in outcome]
    assert not any(refused)
    assert made == THREADS // 2 * EACH
    assert usage.get_usage("counter", day).messages == made
    assert usage.get_usage("at-limit", day).messages == 1


def test_a_latency_set_for_a_service_delays_its_requests_and_no_other_services(aws):
    from assisti_common.image_jobs import storage
    from assisti_common.settings import get_settings

    def seconds(request: Callable[[], object]) -> float:
        started = time.perf_counter()
        request()
        return time.perf_counter() - started

    def dynamodb() -> None:
        usage.get_usage("nobody", usage.today())

    def s3() -> None:
        storage.s3().list_objects_v2(Bucket=get_settings().uploads_bucket, MaxKeys=1)

    # Given both clients made, and a quarter of a second set for every DynamoDB request
    dynamodb(), s3()
    httpx.post(f"{aws}{LATENCY_PATH}", json={"dynamodb": 0.25}).raise_for_status()
    try:
        # When DynamoDB and S3 are each asked
        waited = {"dynamodb": seconds(dynamodb), "s3": seconds(s3)}
    finally:
        httpx.post(f"{aws}{LATENCY_PATH}", json={}).raise_for_status()

    # Then DynamoDB's answer waited that long and S3's did not; cleared, DynamoDB's no longer does
    assert waited["dynamodb"] >= 0.25
    assert waited["s3"] < 0.25
    assert seconds(dynamodb) < 0.25


def test_a_latency_that_is_not_seconds_is_refused_and_a_reset_clears_the_one_set(aws):
    assert httpx.post(f"{aws}{LATENCY_PATH}", json={"s3": "slow"}).status_code == 400
    httpx.post(f"{aws}{LATENCY_PATH}", json={"dynamodb": 5}).raise_for_status()
    httpx.post(f"{aws}{RESET_PATH}").raise_for_status()

    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=aws)
    started = time.perf_counter()
    dynamodb.list_tables()
    assert time.perf_counter() - started < 5


UPLOADS = 12


def test_uploads_through_one_post_at_once_are_each_stored_and_announced(aws):
    """Two taps at once, or a retry racing the first try: S3 takes every upload through one presigned
    POST, keeps each as a version of the key (the bucket is versioned), and announces each in its own
    event, which names that version. moto 5.2 names none; and unversioned, it frees the object of one
    upload when another replaces it, while it still reads that object's ETag for its event, and answers
    500 without announcing it."""
    from assisti_common.image_jobs import storage
    from tests.conftest import TEMPLATE

    key = storage.ImageKey("animals", str(uuid.uuid4()), str(uuid.uuid4()))
    upload = storage.presigned_upload(key, "image/jpeg")
    bodies = [bytes([index]) * 1_000_000 for index in range(UPLOADS)]  # one ETag each
    start = threading.Barrier(UPLOADS)

    def post(body: bytes) -> int:
        start.wait()
        files = {"file": ("photo.jpg", body, "image/jpeg")}
        return httpx.post(upload.url, data=upload.fields, files=files, timeout=30).status_code

    with ThreadPoolExecutor(UPLOADS) as pool:
        answers = list(pool.map(post, bodies))

    assert answers == [204] * UPLOADS
    worker = next(function for function in TEMPLATE.functions() if function.logical_id == "VisionWorkerFunction")
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=aws)
    queue_url = sqs.get_queue_url(QueueName=worker.queues[0].queue_name)["QueueUrl"]
    announced: dict[str, str] = {}  # version: ETag
    deadline = time.monotonic() + 10
    while len(announced) < UPLOADS and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            records = json.loads(message["Body"]).get("Records", [])  # S3's test event has none
            objects = [record["s3"]["object"] for record in records if _key_of(record) == str(key)]
            announced |= {announced_object["versionId"]: announced_object["eTag"] for announced_object in objects}
    assert sorted(announced.values()) == sorted(hashlib.md5(body, usedforsecurity=False).hexdigest() for body in bodies)
    versions = storage.s3().list_object_versions(Bucket=get_settings().uploads_bucket, Prefix=str(key))["Versions"]
    assert {version["VersionId"]: version["ETag"].strip('"') for version in versions} == announced


READS = 60


def test_a_read_racing_a_replacement_gets_the_old_object_or_the_new_one(aws):
    """A GetObject while the object is replaced gets one whole object, as from S3: in a bucket that is not
    versioned (the uploads bucket is), moto 5.2 frees the replaced object's bytes while the read still
    uses them, and answers 500."""
    from botocore.config import Config

    s3 = boto3.client(
        "s3", region_name="us-east-1", endpoint_url=aws, config=Config(retries={"max_attempts": 1})
    )  # no retry: a 500 is seen
    bucket, key = _unversioned_bucket(), "replaced"
    bodies = [bytes([index]) * 2_000_000 for index in range(4)]
    s3.put_object(Bucket=bucket, Key=key, Body=bodies[0])
    stop = threading.Event()

    def replace(body: bytes) -> None:
        while not stop.is_set():
            s3.put_object(Bucket=bucket, Key=key, Body=body)

    def read() -> list[bytes]:
        return [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for _ in range(READS)]

    with ThreadPoolExecutor(8) as pool:
        writers = [pool.submit(replace, body) for body in bodies]
        reads = [pool.submit(read) for _ in range(4)]
        try:
            seen = [body for future in reads for body in future.result()]
        finally:
            stop.set()
        for writer in writers:
            writer.result()
    assert len(seen) == 4 * READS and all(body in bodies for body in seen)


def _unversioned_bucket() -> str:
    name = f"unversioned-{uuid.uuid4()}"
    boto3.client("s3", region_name="us-east-1", endpoint_url=get_settings().aws_endpoint_url).create_bucket(Bucket=name)
    return name


def _key_of(record: dict[str, Any]) -> str:
    key: str = record["s3"]["object"]["key"]
    return unquote_plus(key)  # S3 URL-encodes the key in its events


def test_a_replaced_object_is_freed_once_nothing_reads_it(aws):
    """Freed late is not never: `make dev` never resets moto, so an object replaced or deleted must go
    (with its buffer, on disk past 5 MB) once no request holds it, not stay until the process ends."""
    import gc
    import weakref

    from moto.s3.models import s3_backends

    from assisti_common.image_jobs import storage

    s3 = storage.s3()
    bucket, key = _unversioned_bucket(), "replaced-often"
    partition, account = s3_backends.bucket_accounts[bucket]
    backend = s3_backends[account][partition]
    replaced = []
    for index in range(20):
        s3.put_object(Bucket=bucket, Key=key, Body=bytes([index]) * 100_000)
        replaced.append(weakref.ref(backend.get_object(bucket, key)))
    s3.delete_object(Bucket=bucket, Key=key)
    gc.collect()
    assert [ref for ref in replaced if ref() is not None] == []
