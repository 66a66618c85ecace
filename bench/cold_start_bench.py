"""Cold starts of the HTTP functions against a bare FastAPI+Mangum hello-world, in one run.

    python -m bench.cold_start_bench [--runs 11] [--lambda-build]

Each run is a fresh Python process, timed from its start to the first answer of the function's
handler to an unauthenticated GET (a 401 for the functions, 200 for the hello-world): the imports, the
app and one request, with no AWS call. Each run starts the hello-world and then every function, so a
slow moment of the machine falls on one run's baseline and functions alike: a function's ratio is the
median over runs of its time divided by that run's hello-world.
Without SnapStart (this machine) that is every cold start; with it (AWS), the imports and the warm-up
happen once, before the snapshot.

Two settings, both measured when the Lambda build exists:
- the development environment (Python of the venv, every package of the venv importable);
- `--lambda-build` (after `make deploy-check`): what Lambda runs, Python 3.12 isolated with only the
  function's `sam build` output, its layer and the runtime's boto3 on sys.path. The hello-world runs
  the same way, with the layer's FastAPI and Mangum.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.harness import ROOT, cold_start, http_event

LAMBDA_BUILD = ROOT / ".aws-sam" / "deploy-check"


@dataclass(frozen=True)
class Target:
    handler: str
    path: str
    logical_id: str | None  # its folder in the Lambda build; None for the hello-world


TARGETS = {
    "hello-world": Target("bench.hello_app.handler", "/hello", None),
    "auth": Target("assisti_auth.app.handler", "/me", "AuthFunction"),
    "chat": Target("assisti_chat.app.handler", "/categories", "ChatFunction"),
    "ocr-api": Target("assisti_ocr_api.app.handler", "/ocr", "OcrApiFunction"),
    "vision-api": Target("assisti_vision_api.app.handler", "/vision/animals", "VisionApiFunction"),
}


def lambda_setting(target: Target) -> tuple[str, list[Path]]:
    """The handler and sys.path of `target` as Lambda would run it from `make deploy-check`'s build."""
    build, layer, runtime = (
        LAMBDA_BUILD / "build",
        LAMBDA_BUILD / "build" / "CommonLayer" / "python",
        LAMBDA_BUILD / "runtime",
    )
    if target.logical_id is None:
        return target.handler.removeprefix("bench."), [ROOT / "bench", layer, runtime]
    return target.handler, [build / target.logical_id, layer, runtime]


def measure(runs: int, lambda_build: bool) -> None:
    python = None
    if lambda_build:
        from tools.deploy.check import python312

        python = python312()
    samples: dict[str, list[float]] = {name: [] for name in TARGETS}
    for _ in range(runs):  # interleaved, so that the machine's noise falls on all alike
        for name, target in TARGETS.items():
            handler, path = lambda_setting(target) if lambda_build else (target.handler, None)
            seconds, status = cold_start(handler, http_event("GET", target.path), python=python, lambda_path=path)
            assert status in (200, 401), (handler, status)
            samples[name].append(seconds)
    base = samples["hello-world"]
    setting = "the Lambda build under Python 3.12" if lambda_build else "the development environment"
    print(f"cold start, fresh process to the first answer of an unauthenticated GET, {setting} (median of {runs})")
    for name, values in samples.items():
        ratio = statistics.median(value / baseline for value, baseline in zip(values, base, strict=True))
        print(f"  {name:<11} {statistics.median(values) * 1000:7.0f} ms   {ratio:4.2f}x the hello-world")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--lambda-build", action="store_true", help="only the Lambda build (make deploy-check)")
    args = parser.parse_args()
    if not args.lambda_build:
        measure(args.runs, lambda_build=False)
    if (LAMBDA_BUILD / "build" / "CommonLayer").is_dir():
        measure(args.runs, lambda_build=True)
    elif args.lambda_build:
        print("no Lambda build: run `make deploy-check` first")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
