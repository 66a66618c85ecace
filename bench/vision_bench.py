"""Vision: what each model and the worker cost per image, as ratios within the same run.

    python -m bench.vision_bench [--images 100]

- per-image inference, p50/p99, for each model with one onnxruntime thread and with two
  (the ratio is the second core's worth), on real photos from scikit-image;
- the worker's whole time per image: S3 read, decode and checks, inference, the DynamoDB writes, the
  deletes (the real handler on real SQS events against moto, one upload per event and 8), for small
  photos and for the same scenes as 12 MP phone JPEGs: wall time (the worker on one core, moto on the
  other), the worker's own CPU against the inference alone and against decoding the file plus the
  inference, where that CPU goes (the model, the S3 read, the decode and checks, the claims,
  the result writes, the deletes, the rest), and moto's CPU;
- the model load time (a fresh process importing the engine: both sessions), against a bare
  onnxruntime import in a fresh process;
- the ONNX files' sizes.
"""

from __future__ import annotations

import argparse
import gc
import io
import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any
from unittest import mock

from bench.harness import ROOT, load, local_aws, percentile
from local.aws_server import LATENCY_PATH

VISION_MODELS = ROOT / "functions" / "vision" / "worker" / "assisti_vision_worker" / "models"
# Round trips as AWS answers them, in seconds per request: S3's median for a small object is "in the
# tens of milliseconds" (AWS's whitepaper "Best Practices Design Patterns: Optimizing Amazon S3
# Performance", timeouts and retries), DynamoDB's a few milliseconds. The low end of each, so the
# figure is the worker's best case.
AWS_LATENCY = {"s3": 0.020, "dynamodb": 0.005}


def _photos() -> list[Any]:
    from PIL import Image
    from skimage import data

    return [
        Image.fromarray(getattr(data, name)()).convert("RGB")
        for name in ("chelsea", "astronaut", "coffee", "rocket", "hubble_deep_field", "cat")
    ]


PHONE_SIZE = (4032, 3024)  # a 12 MP phone photo, as users send them


def _jpegs(photos: list[Any], quality: int = 90) -> list[bytes]:
    """The photos as JPEGs: as they are, they are what an app that resizes before uploading sends."""
    jpegs = []
    for photo in photos:
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=quality)
        jpegs.append(buffer.getvalue())
    return jpegs


def _phone_jpegs(photos: list[Any]) -> list[bytes]:
    """The same photos as a phone saves them: 12 MP, a little soft and noisy, JPEG at quality 88."""
    from PIL import Image

    from bench.ocr_corpus import phone_camera

    resized = [photo.resize(PHONE_SIZE, Image.Resampling.BICUBIC) for photo in photos]
    return _jpegs([phone_camera(photo, seed) for seed, photo in enumerate(resized)], quality=88)


@dataclass(frozen=True)
class _Case:
    """One kind of upload the worker is measured on: its name, the kind it is uploaded as, the model
    whose inference it is compared with, and the files."""

    name: str
    kind: str
    model: str
    files: list[bytes]


def spread(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 0.5) * 1000:7.1f} ms  p99 {percentile(samples, 0.99) * 1000:7.1f} ms"


def _timed(classify: Any, images: list[Any], rounds: int, clock: Any = time.perf_counter) -> list[float]:
    classify(images[0])
    samples = []
    for index in range(rounds):
        started = clock()
        classify(images[index % len(images)])
        samples.append(clock() - started)
    return samples


def _fresh_process_seconds(code: str, env: dict[str, str]) -> float:
    runs = []
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
        )
        runs.append(float(result.stdout.strip().splitlines()[-1]))
    return sorted(runs)[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()

    from local.stack import LOCAL_MODEL_DIRS
    from local.template import LocalTemplate, load_template

    os.environ.update(LOCAL_MODEL_DIRS)
    # The worker's sessions as the template configures them (its onnxruntime threads): they are made
    # when the engine is imported, before `local_aws` sets the rest of the worker's environment.
    worker = next(f for f in LocalTemplate(load_template()).functions() if f.logical_id == "VisionWorkerFunction")
    os.environ["ASSISTI_VISION_THREADS"] = worker.environment["ASSISTI_VISION_THREADS"]
    from assisti_vision_worker import engine  # the models load here, as in a container

    photos = _photos()
    print(f"vision, n={args.images} per measurement (photos from scikit-image)")
    inference_one: dict[str, list[float]] = {}  # as the worker runs it (one thread, as the template sets)
    inference_two: dict[str, list[float]] = {}
    inference_cpu: dict[str, list[float]] = {}  # CPU seconds of this process, one thread
    for name, loader in (("animals", engine.load_animals), ("road signs", engine.load_road_signs)):
        one, two = loader(threads=1), loader(threads=2)
        single = _timed(one.top_k, photos, args.images)
        double = _timed(two.top_k, photos, args.images)
        inference_one[name], inference_two[name] = single, double
        inference_cpu[name] = _timed(one.top_k, photos, args.images, clock=time.process_time)
        print(f"  {name:<11} 1 thread  {spread(single)}")
        print(
            f"  {name:<11} 2 threads {spread(double)}   (2 threads / 1 thread, p50: "
            f"{percentile(double, 0.5) / percentile(single, 0.5):.2f}x)"
        )

    env = dict(os.environ)
    load_time = _fresh_process_seconds(
        "import time; t = time.perf_counter(); import assisti_vision_worker.engine; print(time.perf_counter() - t)",
        env,
    )
    baseline = _fresh_process_seconds(
        "import time; t = time.perf_counter(); import onnxruntime, numpy, PIL.Image; print(time.perf_counter() - t)",
        env,
    )
    print(
        f"  model load (fresh process, import engine = both sessions): {load_time * 1000:.0f} ms; "
        f"a bare onnxruntime+numpy+Pillow import: {baseline * 1000:.0f} ms ({load_time / baseline:.1f}x)"
    )

    rounds = max(3, args.images // 10)
    # One upload per event (a lone user), and the template's BatchSize of 8 (uploads arriving together),
    # of the small photos and of the same photos as 12 MP phone JPEGs (what users really send).
    jpegs, phone = _jpegs(photos), _phone_jpegs(photos)
    print(
        f"  phone photos: {PHONE_SIZE[0]}x{PHONE_SIZE[1]} JPEG, {sum(map(len, phone)) / len(phone) / 1e6:.1f} MB each"
    )
    cases = [
        _Case("animals", "animals", "animals", jpegs),
        _Case("road signs", "road_signs", "road signs", jpegs),
        _Case("animals, 12 MP", "animals", "animals", phone),
    ]
    classifiers = {"animals": engine.ANIMALS, "road signs": engine.ROAD_SIGNS}
    # What any classifier of an uploaded file must do, without the worker's requests: decode the JPEG
    # at the worker's scale, then the inference (CPU, one thread).
    file_cpu = {
        case.name: _file_cpu(case.files, classifiers[case.model], engine.DRAFT_SIDE, args.images) for case in cases
    }
    run = _worker_times(cases, {1: rounds * 4, 8: rounds}, engine)
    layout = (
        "the worker runs on one core (one vCPU), moto in its own process on another"
        if len(_cores()) >= 2
        else "the worker and moto share this machine's cores, so moto's work is in the wall times"
    )
    print(f"  one DynamoDB round trip to the local moto server: {run.round_trip * 1000:.1f} ms (p50); {layout}")
    model_of = {case.name: case.model for case in cases}
    for (name, batch), samples in run.wall.items():
        model_name = model_of[name]
        wall, one_thread, two_threads = (
            percentile(times, 0.5) for times in (samples, inference_one[model_name], inference_two[model_name])
        )
        own, model = percentile(run.cpu[(name, batch)], 0.5), percentile(inference_cpu[model_name], 0.5)
        print(
            f"  worker, whole image ({name}, {batch} per event): wall {spread(samples)} = {wall / one_thread:.1f}x "
            f"inference alone with the worker's one thread, {wall / two_threads:.1f}x with two (p50); the worker's own "
            f"CPU {own * 1000:.1f} ms = {own / model:.2f}x the model's {model * 1000:.1f} ms, "
            f"{own / file_cpu[name]:.2f}x decoding the file and the model ({file_cpu[name] * 1000:.1f} ms); "
            f"moto's CPU {fmean(run.moto_cpu[(name, batch)]) * 1000:.1f} ms (mean: the system counts it in 10 ms ticks)"
        )
        print(f"    where its CPU goes, mean per image: {run.breakdown(name, batch)}")
        at_aws = run.wall_at_aws_latency[(name, batch)]
        print(
            f"    with AWS's round trips (S3 {AWS_LATENCY['s3'] * 1000:.0f} ms, DynamoDB "
            f"{AWS_LATENCY['dynamodb'] * 1000:.0f} ms each): wall {spread(at_aws)} = "
            f"{percentile(at_aws, 0.5) / one_thread:.1f}x inference alone (p50)"
        )
    for path in sorted(
        [*VISION_MODELS.glob("*.onnx"), *Path(LOCAL_MODEL_DIRS["ASSISTI_VISION_MODEL_DIR"]).glob("*.onnx")]
    ):
        print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB")
    return 0


Samples = dict[tuple[str, int], list[float]]

# Where the worker's CPU goes: each stage is the functions that make it, timed by the CPU of the thread
# that runs them (a stage called from inside another, a claim's transaction, counts for the outer one).
# Whatever no stage covers is "the rest": SQS records, hand-offs between threads, logs and metrics.
_STAGES = (
    ("model", "engine", ("ANIMALS.top_k", "ROAD_SIGNS.top_k")),
    ("S3 read", "worker", ("_read",)),
    ("decode and checks", "worker", ("load_image",)),
    ("claims", "image_items", ("claim_together", "claim_by_key")),
    ("result writes", "image_items", ("finishing_done", "finishing_failed", "write_together", "write")),
    ("deletes", "storage", ("delete_objects",)),
)


@dataclass
class _StageClock:
    """The CPU seconds spent in each stage of `_STAGES` since the last `reset`, on every thread."""

    spent: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _inside: threading.local = field(default_factory=threading.local, init=False)

    def timed(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if getattr(self._inside, "stage", None) is not None:
                return function(*args, **kwargs)
            self._inside.stage, started = stage, time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self._inside.stage = None
                with self._lock:
                    self.spent[stage] = self.spent.get(stage, 0.0) + time.thread_time() - started

        return call

    def reset(self) -> dict[str, float]:
        with self._lock:
            spent, self.spent = self.spent, {}
        return spent

    @contextmanager
    def installed(self, modules: dict[str, Any]) -> Iterator[_StageClock]:
        with ExitStack() as patches:
            for stage, module, names in _STAGES:
                for name in names:
                    *path, attribute = name.split(".")
                    owner = modules[module]
                    for step in path:
                        owner = getattr(owner, step)
                    patches.enter_context(
                        mock.patch.object(owner, attribute, self.timed(stage, getattr(owner, attribute)))
                    )
            yield self


@dataclass
class _WorkerRun:
    """Per image, keyed by (case, uploads per event): wall time, the worker's CPU, moto's CPU, the
    worker's CPU in each stage, and the wall time again with AWS's round-trip times; and one DynamoDB
    round trip's time."""

    wall: Samples = field(default_factory=dict)
    cpu: Samples = field(default_factory=dict)
    moto_cpu: Samples = field(default_factory=dict)
    stages: dict[tuple[str, int], list[dict[str, float]]] = field(default_factory=dict)
    wall_at_aws_latency: Samples = field(default_factory=dict)
    round_trip: float = 0.0

    def breakdown(self, name: str, batch: int) -> str:
        """Mean CPU ms per image in each stage, and the rest of the worker's CPU."""
        events = self.stages[(name, batch)]
        images = len(events) * batch
        totals = {stage: sum(event.get(stage, 0.0) for event in events) / images for stage, _, _ in _STAGES}
        rest = fmean(self.cpu[(name, batch)]) - sum(totals.values())
        parts = [f"{stage} {seconds * 1000:.2f}" for stage, seconds in totals.items()]
        return ", ".join([*parts, f"the rest {rest * 1000:.2f} ms"])


def _worker_times(cases: list[_Case], rounds: dict[int, int], engine: Any) -> _WorkerRun:
    """The real worker handler on real SQS events of `batch` uploads each, `rounds[batch]` times (S3
    read, checks, inference, the DynamoDB writes, against moto): each sample is one event's time divided
    by its uploads: wall time, this process's CPU time (the worker's own work: requests made and
    answers parsed, decode, checks, the model), split into stages, and moto's CPU time (the server's
    side of those requests, which AWS does on its own machines: here on a core of its own where the
    machine has two). Also measures one DynamoDB round trip there."""
    import boto3
    import httpx
    import psutil

    from local.functions import LambdaContext, call_handler
    from local.pump import sqs_event

    run = _WorkerRun()
    clock = _StageClock()
    # One HTTP client posts every upload, as an app keeps one. A client per POST made an SSL context
    # each time, left as cyclic garbage: the worker's next collection freed it inside the worker's
    # measured time (about 0.7 ms of its CPU per small image).
    with local_aws("bench-vision", own_process=True) as (template, env), httpx.Client() as browser:
        moto = next(child for child in psutil.Process().children() if "local.aws_server" in child.cmdline())
        # The worker gets one core of its own (one vCPU, as a 1769 MB Lambda has) and moto the other (AWS
        # answers from its own machines): the wall time is the worker's work and its waits, not moto's.
        cores = _cores()
        _pin(psutil.Process(), cores[:1])
        _pin(moto, cores[-1:])
        # The items are made through the data layer the API uses (no sign-in: moto's mailbox is in its
        # own process here); the worker is what is measured.
        from assisti_common.db import image_items
        from assisti_common.image_jobs import items, storage
        from assisti_common.image_jobs import worker as image_worker
        from assisti_common.image_jobs.kinds import Kind
        from assisti_common.principal import Principal

        owner = Principal(str(uuid.uuid4()), "bench-session")
        worker = load(template, "VisionWorkerFunction")
        source = next(f for f in template.functions() if f.logical_id == "VisionWorkerFunction").queues[0]
        sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"])
        queue_url = sqs.get_queue_url(QueueName=source.queue_name)["QueueUrl"]
        modules = {"engine": engine, "worker": image_worker, "image_items": image_items, "storage": storage}

        def one_event(case: _Case, batch: int, round_index: int) -> tuple[float, float, float, dict[str, float]]:
            """Uploads `batch` files, then hands their SQS messages to the worker as one event: per
            image, its wall time, its CPU, moto's CPU, and its CPU in each stage."""
            for index in range(batch):
                upload = items.create(owner, Kind(case.kind), "bench", "image/jpeg").upload
                jpeg = case.files[(round_index * batch + index) % len(case.files)]
                browser.post(upload.url, data=upload.fields, files={"file": ("p.jpg", jpeg, "image/jpeg")})
            messages: list[dict[str, Any]] = []
            while len(messages) < batch:
                received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
                messages += [dict(message) for message in received.get("Messages", [])]
            # Nothing of the benchmark's own (its items, SQS answers, purges) is left for the worker's
            # garbage collections to scan or free: in Lambda nothing runs between invocations. The young
            # generations only: a full collection walks every object and leaves the caches cold (about
            # 2 ms more CPU in a lone image's call).
            gc.collect(1)
            clock.reset()
            started, cpu_started, moto_started = time.perf_counter(), time.process_time(), _cpu(moto)
            # The worker's metrics go to stdout as in Lambda (CloudWatch's embedded format), not into the report.
            with redirect_stdout(io.StringIO()):
                response = call_handler(worker, sqs_event(messages, source.queue_arn), LambdaContext("vision"))
            wall, cpu = (time.perf_counter() - started) / batch, (time.process_time() - cpu_started) / batch
            moto_cpu, stages = (_cpu(moto) - moto_started) / batch, clock.reset()
            assert not response.get("batchItemFailures"), response
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            # The items and their images go again: moto copies a whole table for each transaction (to
            # undo a cancelled one), so a table that kept every item would make each transaction slower
            # than the last, where DynamoDB's time does not grow with the table.
            items.purge_user_items(owner.user_id)
            return wall, cpu, moto_cpu, stages

        measured = list(itertools.product(cases, sorted(rounds)))
        with clock.installed(modules):
            # One event of each size first, not measured: the first transaction makes its DynamoDB client
            # (botocore loads the service's model, about 0.1 s), a cold start's cost, not an image's.
            for batch in sorted(rounds):
                one_event(cases[0], batch, 0)
            for case, batch in measured:
                key = (case.name, batch)
                for round_index in range(rounds[batch]):
                    wall, cpu, moto_cpu, stages = one_event(case, batch, round_index)
                    run.wall.setdefault(key, []).append(wall)
                    run.cpu.setdefault(key, []).append(cpu)
                    run.moto_cpu.setdefault(key, []).append(moto_cpu)
                    run.stages.setdefault(key, []).append(stages)
        # Again with each request waiting as long as AWS takes to answer (moto answers in a millisecond
        # or two): what the round trips the worker cannot overlap cost it in Lambda.
        browser.post(f"{env['AWS_ENDPOINT_URL']}{LATENCY_PATH}", json=AWS_LATENCY).raise_for_status()
        for case, batch in measured:
            for round_index in range(rounds[batch]):
                wall = one_event(case, batch, round_index)[0]
                run.wall_at_aws_latency.setdefault((case.name, batch), []).append(wall)
        browser.post(f"{env['AWS_ENDPOINT_URL']}{LATENCY_PATH}", json={}).raise_for_status()
        run.round_trip = _round_trip_seconds()
    _pin(psutil.Process(), cores)
    return run


def _cores() -> list[int]:
    """The cores this process may use; empty where the system cannot pin threads (not Linux)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []


def _pin(process: Any, cores: list[int]) -> None:
    """Every thread of `process` (and so the threads they start) on `cores` (none: left as they are)."""
    if not cores:
        return
    for thread in process.threads():
        try:
            os.sched_setaffinity(thread.id, cores)
        except ProcessLookupError:  # a thread that ended meanwhile
            continue


def _file_cpu(files: list[bytes], classifier: Any, draft_side: int, rounds: int) -> float:
    """p50 CPU seconds to decode one of `files` at `draft_side` and classify it."""
    from assisti_common.image_jobs.images import load_image

    limits = {"max_bytes": 50_000_000, "max_pixels": 50_000_000}
    samples = _timed(
        lambda data: classifier.top_k(load_image(data, **limits, draft_side=draft_side).image, 5),
        files,
        rounds,
        clock=time.process_time,
    )
    return percentile(samples, 0.5)


def _cpu(process: Any) -> float:
    used = process.cpu_times()
    return float(used.user + used.system)


def _round_trip_seconds(rounds: int = 30) -> float:
    """One DynamoDB read against the local moto server (inside `local_aws`, the worker loaded): what
    each of the worker's round trips costs here."""
    from assisti_common.db import image_items

    samples = []
    for index in range(rounds):
        started = time.perf_counter()
        image_items.get_item(f"00000000-0000-0000-0000-{index:012d}", "animals", "missing")
        samples.append(time.perf_counter() - started)
    return percentile(samples, 0.5)


if __name__ == "__main__":
    sys.exit(main())
