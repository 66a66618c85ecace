"""What the benchmarks share: real v2 events, percentiles, moto wired from the template, a user."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from local import harness

ROOT = Path(__file__).resolve().parent.parent
http_event = harness.http_event
local_aws = harness.local_aws
# Metrics are disabled locally; Powertools still warns on every flush. Benchmarks only print figures.
warnings.filterwarnings("ignore", message="No application metrics to publish")
PASSWORD = "bench password 123"  # noqa: S105 - a throwaway account in a throwaway moto


# A fresh interpreter timed from its start to the handler's first answer (run from ROOT: the repo
# imports). It imports nothing of its own beyond what Lambda's runtime has loaded by then (json, time,
# importlib): the local stack's helpers would add their imports to every function and to the baseline.
COLD_PROBE = r"""
import json, sys, time
started = time.perf_counter()
import importlib, types
module_name, _, attribute = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module_name), attribute)
context = types.SimpleNamespace(
    function_name="cold", memory_limit_in_mb=1024, aws_request_id="cold-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:cold",
    get_remaining_time_in_millis=lambda: 15000,
)
response = handler(json.loads(sys.argv[2]), context)
print(json.dumps({"seconds": time.perf_counter() - started, "status": response["statusCode"]}))
"""


def cold_start(
    handler: str,
    event: dict[str, Any],
    env: dict[str, str] | None = None,
    python: Path | None = None,
    lambda_path: list[Path] | None = None,
) -> tuple[float, int]:
    """One cold start of `handler` (a template Handler) on `event`: its seconds and the status it answered.
    With `lambda_path`, the interpreter runs isolated (`-I -S`: no site-packages) with only those folders
    on sys.path, as Lambda gives a function its build, its layers and the runtime's boto3."""
    if lambda_path is None:
        command = [str(python or sys.executable), "-c", COLD_PROBE]
    else:
        folders = json.dumps([str(folder) for folder in lambda_path])
        command = [
            str(python or sys.executable),
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path[:0] = {folders}\n{COLD_PROBE}",
        ]
    done = subprocess.run(
        [*command, handler, json.dumps(event)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), int(result["status"])


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def warm(handler: Any, event: dict[str, Any], requests: int) -> list[float]:
    from local.functions import LambdaContext

    handler(event, LambdaContext("warmup"))
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = handler(event, LambdaContext("bench"))
        times.append(time.perf_counter() - started)
        assert response["statusCode"] < 400, response
    return times


def load(template: Any, logical_id: str) -> Any:
    from local.functions import load_handler

    function = next(function for function in template.functions() if function.logical_id == logical_id)
    return load_handler(function.handler)


def invoke(handler: Any, event: dict[str, Any]) -> dict[str, Any]:
    from local.functions import LambdaContext

    response: dict[str, Any] = handler(event, LambdaContext("bench"))
    return response


def signed_in_user(auth_handler: Any, email: str) -> dict[str, Any]:
    """A confirmed user, made through the real sign-up flow with the code read from moto's SES."""
    return harness.signed_in_user(lambda event: invoke(auth_handler, event), email, PASSWORD)
