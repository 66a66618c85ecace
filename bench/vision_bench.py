"""Vision: what each model and the worker cost per image, as ratios within the same run.

    python -m bench.vision_bench [--images 100]

- per-image inference, p50/p99, for each model with one onnxruntime thread and with two
  (the ratio is the second core's worth), on real photos from scikit-image;
- the worker's whole time per image: S3 read, decode and checks, inference, the DynamoDB write
  (the real handler on a real SQS event against moto), against inference alone;
- the model load time (a fresh process importing the engine: both sessions), against a bare
  onnxruntime import in a fresh process;
- the ONNX files' sizes.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import ROOT, http_event, invoke, load, local_aws, percentile, signed_in_user

VISION_MODELS = ROOT / "functions" / "vision" / "worker" / "assisti_vision_worker" / "models"


def _photos() -> list[Any]:
    from PIL import Image
    from skimage import data

    return [
        Image.fromarray(getattr(data, name)()).convert("RGB")
        for name in ("chelsea", "astronaut", "coffee", "rocket", "hubble_deep_field", "cat")
    ]


def spread(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 0.5) * 1000:7.1f} ms  p99 {percentile(samples, 0.99) * 1000:7.1f} ms"


def _timed(classify: Any, images: list[Any], rounds: int) -> list[float]:
    classify(images[0])
    samples = []
    for index in range(rounds):
        started = time.perf_counter()
        classify(images[index % len(images)])
        samples.append(time.perf_counter() - started)
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
    import os

    from local.stack import LOCAL_MODEL_DIRS

    os.environ.update(LOCAL_MODEL_DIRS)
    from assisti_vision_worker import engine  # the models load here, as in a container

    photos = _photos()
    print(f"vision, n={args.images} per measurement (photos from scikit-image)")
    inference_two: dict[str, list[float]] = {}
    for name, loader in (("animals", engine.load_animals), ("road signs", engine.load_road_signs)):
        one, two = loader(threads=1), loader(threads=2)
        single = _timed(one.top_k, photos, args.images)
        double = _timed(two.top_k, photos, args.images)
        inference_two[name] = double
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

    worker_times = _worker_times(photos, max(10, args.images // 5))
    for name, samples in worker_times.items():
        inference = percentile(inference_two[name], 0.5)
        print(
            f"  worker, whole image ({name}): {spread(samples)} = "
            f"{percentile(samples, 0.5) / inference:.1f}x inference alone (p50)"
        )
    for path in sorted(
        [*VISION_MODELS.glob("*.onnx"), *Path(LOCAL_MODEL_DIRS["ASSISTI_VISION_MODEL_DIR"]).glob("*.onnx")]
    ):
        print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB")
    return 0


def _worker_times(photos: list[Any], rounds: int) -> dict[str, list[float]]:
    """The real worker handler on real SQS events: S3 read, checks, inference, the DynamoDB write."""
    import httpx

    from local.functions import LambdaContext, call_handler
    from local.pump import QueuePump

    times: dict[str, list[float]] = {"animals": [], "road signs": []}
    with local_aws("bench-vision", {"ASSISTI_VISION_THREADS": "2"}) as (template, _env):
        auth, api, worker = (
            load(template, "AuthFunction"),
            load(template, "VisionApiFunction"),
            load(template, "VisionWorkerFunction"),
        )
        source = next(f for f in template.functions() if f.logical_id == "VisionWorkerFunction").queues[0]
        headers = {"authorization": f"Bearer {signed_in_user(auth, 'vision-bench@example.com')['access_token']}"}
        measured: list[float] = []

        def timed_invoke(event: dict[str, Any]) -> Any:
            started = time.perf_counter()
            result = call_handler(worker, event, LambdaContext("vision"))
            if any("Records" in json.loads(record["body"]) for record in event["Records"]):
                measured.append(time.perf_counter() - started)
            return result

        pump = QueuePump(source, timed_invoke, _env["AWS_ENDPOINT_URL"], retry_delay=0)
        for name, path in (("animals", "/vision/animals"), ("road signs", "/vision/road-signs")):
            for index in range(rounds):
                created = json.loads(invoke(api, http_event("POST", path, {"title": "bench"}, headers))["body"])
                buffer = io.BytesIO()
                photos[index % len(photos)].save(buffer, format="JPEG", quality=90)
                upload = created["upload"]
                httpx.post(
                    upload["url"], data=upload["fields"], files={"file": ("p.jpg", buffer.getvalue(), "image/jpeg")}
                )
                measured.clear()
                while not measured:
                    pump.poll_once(wait_seconds=0)
                times[name].append(measured[0])
    return times


if __name__ == "__main__":
    sys.exit(main())
