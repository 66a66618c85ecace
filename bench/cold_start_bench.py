"""Cold starts of the HTTP functions against a bare FastAPI+Mangum hello-world, in one run.

    python -m bench.cold_start_bench [--runs 7]

Each run is a fresh Python process, timed from its start to the first answer of the function's
handler to an unauthenticated GET (a 401 for the functions, 200 for the hello-world): the imports, the
app and one request, with no AWS call. Reported: medians and each function's ratio to the hello-world.
Without SnapStart (this machine) that is every cold start; with it (AWS), the imports and the warm-up
happen once, before the snapshot.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from bench.harness import cold_start, http_event

TARGETS = {
    "hello-world": ("bench.hello_app.handler", "/hello"),
    "auth": ("assisti_auth.app.handler", "/me"),
    "chat": ("assisti_chat.app.handler", "/categories"),
    "ocr-api": ("assisti_ocr_api.app.handler", "/ocr"),
    "vision-api": ("assisti_vision_api.app.handler", "/vision/animals"),
}


def cold(handler: str, path: str) -> float:
    seconds, status = cold_start(handler, http_event("GET", path))
    assert status in (200, 401), (handler, status)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in TARGETS}
    for _ in range(args.runs):  # interleaved, so that the machine's noise falls on all alike
        for name, (handler, path) in TARGETS.items():
            samples[name].append(cold(handler, path))
    base = statistics.median(samples["hello-world"])
    print(f"cold start, fresh process to the first answer of an unauthenticated GET (median of {args.runs})")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<11} {median * 1000:7.0f} ms   {median / base:4.2f}x the hello-world")
    return 0


if __name__ == "__main__":
    sys.exit(main())
