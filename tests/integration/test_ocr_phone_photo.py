"""A 12 MP phone photo, the most common OCR upload, read by the real worker handler in a fresh process
(a cold container) within the memory the template gives the OCR worker."""

from __future__ import annotations

import json

from bench.ocr_corpus import SEMIBOLD, phone_photo
from local.pump import QueuePump
from tests.integration.containers import run_cold
from tests.integration.test_ocr import WORKER, create, item, upload

WORKER_MEMORY_MB = WORKER.memory_mb


def test_a_12_megapixel_phone_photo_is_read_within_the_workers_memory(api, ann, aws):
    photo = phone_photo("t", "coffee", ("TABLE 12", "Reserved 19:45"), SEMIBOLD, 190, -2.0, 1)
    assert photo.image.size == (4032, 3024)
    created = create(api, ann, content_type="image/jpeg")
    assert upload(created, photo.jpeg(), "image/jpeg").status_code == 204

    events: list[dict] = []
    pump = QueuePump(WORKER.queues[0], lambda event: events.append(event) or {"batchItemFailures": []}, aws)
    pump.poll_once(wait_seconds=2)
    (event,) = [event for event in events if created["item"]["id"] in json.dumps(event)]
    answer, peak_mb = run_cold(WORKER, event)
    assert answer == {"batchItemFailures": []}
    done = item(api, ann, created["item"]["id"])
    assert done["status"] == "done" and done["label"].splitlines()[0] == "TABLE 12", done
    assert peak_mb < WORKER_MEMORY_MB, f"peak {peak_mb:.0f} MB of {WORKER_MEMORY_MB} MB"
    print(f"12 MP phone photo: peak RSS {peak_mb:.0f} MB of the worker's {WORKER_MEMORY_MB} MB")
