"""A 12 MP phone photo, the most common OCR upload, read by the real worker handler in a fresh process
(a cold container) within the memory the template gives the OCR worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.ocr_corpus import SEMIBOLD, phone_photo
from local.pump import QueuePump
from local.template import ROOT
from tests.conftest import TEMPLATE
from tests.integration.test_ocr import WORKER, create, item, upload

WORKER_MEMORY_MB = int(TEMPLATE.resources["OcrWorkerFunction"]["Properties"]["MemorySize"])

# One Lambda container: the handler imported cold, one SQS event, the peak RSS of the whole process.
CONTAINER = r"""
import json, sys
from importlib import import_module
from local.functions import LambdaContext
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(import_module(module), name)
answer = handler(json.loads(sys.stdin.read()), LambdaContext("ocr-worker", memory_limit_in_mb=int(sys.argv[2])))
# VmHWM, not ru_maxrss: the latter also counts the (large) test process this one was forked from.
status = open("/proc/self/status").read().splitlines()
peak_kb = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
print(json.dumps({"answer": answer, "peak_mb": peak_kb / 1024}))
"""


def test_a_12_megapixel_phone_photo_is_read_within_the_workers_memory(api, ann, aws):
    photo = phone_photo("t", "coffee", ("TABLE 12", "Reserved 19:45"), SEMIBOLD, 190, -2.0, 1)
    assert photo.image.size == (4032, 3024)
    created = create(api, ann, content_type="image/jpeg")
    assert upload(created, photo.jpeg(), "image/jpeg").status_code == 204

    events: list[dict] = []
    pump = QueuePump(WORKER.queues[0], lambda event: events.append(event) or {"batchItemFailures": []}, aws)
    pump.poll_once(wait_seconds=2)
    (event,) = [event for event in events if created["item"]["id"] in json.dumps(event)]
    container = subprocess.run(
        [sys.executable, "-c", CONTAINER, WORKER.handler, str(WORKER_MEMORY_MB)],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "ASSISTI_OCR_THREADS": WORKER.environment.get("ASSISTI_OCR_THREADS", "0")},
        check=False,
        timeout=WORKER.timeout,
    )
    assert container.returncode == 0, container.stderr[-3000:]
    result = json.loads(container.stdout.strip().splitlines()[-1])

    assert result["answer"] == {"batchItemFailures": []}
    done = item(api, ann, created["item"]["id"])
    assert done["status"] == "done" and done["label"].splitlines()[0] == "TABLE 12", done
    assert result["peak_mb"] < WORKER_MEMORY_MB, f"peak {result['peak_mb']:.0f} MB of {WORKER_MEMORY_MB} MB"
    print(f"12 MP phone photo: peak RSS {result['peak_mb']:.0f} MB of the worker's {WORKER_MEMORY_MB} MB")
