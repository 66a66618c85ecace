"""Auth function: cold start and warm latency, as ratios against a FastAPI+Mangum hello-world
measured in the same run (absolute times on a shared machine are noise; ratios are not).

    make bench            # or: python -m bench.auth_bench [--cold-runs 5] [--warm-requests 200]

- Cold start: a fresh Python process, from the first import to the first answered request
  (`POST /auth/refresh` with a well-formed but unknown token: the full import, keyring fetch and
  one DynamoDB read, no password hashing), against the hello-world's `GET /hello`.
- Warm: p50/p99 of `POST /auth/sign-in` (argon2id verify included, by design) and `GET /me`
  against moto, each invoked in-process with a real HTTP API v2 event, against warm `GET /hello`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

COLD_PROBE = r"""
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from local.functions import LambdaContext, load_handler
handler = load_handler(__import__("pathlib").Path(sys.argv[2]), sys.argv[3], "cold")
event = json.loads(sys.argv[4])
response = handler(event, LambdaContext("cold"))
elapsed = time.perf_counter() - started
assert 200 <= response["statusCode"] < 500, response
print(json.dumps({"seconds": elapsed, "status": response["statusCode"]}))
"""


def http_event(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A minimal but real API Gateway HTTP API (payload 2.0) event."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "bench.local", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.local",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": "bench",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "21/Nov/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": json.dumps(body) if body is not None else "",
        "isBase64Encoded": False,
    }


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def cold_start(code_uri: Path, handler: str, event: dict[str, Any], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        result = subprocess.run(  # noqa: S603 - our own interpreter and probe
            [sys.executable, "-c", COLD_PROBE, str(ROOT), str(code_uri), handler, json.dumps(event)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=ROOT,
        )
        times.append(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])
    return times


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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--warm-requests", type=int, default=200)
    args = parser.parse_args()

    import socket

    from moto.server import ThreadedMotoServer

    from local.stack import function_environment
    from local.template import LocalTemplate, load_template

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    template = LocalTemplate(load_template(), stage="bench")
    auth = next(function for function in template.functions() if function.logical_id == "AuthFunction")
    # The enumeration floor (a fixed minimum answer time) would hide the function's own cost.
    env = {
        **os.environ,
        **function_environment(auth.environment, endpoint),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "ASSISTI_ENUMERATION_FLOOR_MS": "0",
    }
    os.environ.update(env)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        from local.provision import provision

        provision(template, endpoint)
        refresh_event = http_event("POST", "/auth/refresh", {"refresh_token": "rt1.u.s.secret"})
        hello_event = http_event("GET", "/hello")
        cold_auth = cold_start(auth.code_uri, auth.handler, refresh_event, env, args.cold_runs)
        cold_hello = cold_start(ROOT / "bench", "hello_app.handler", hello_event, env, args.cold_runs)

        from local.functions import load_handler

        auth_handler = load_handler(auth.code_uri, auth.handler, "bench_auth")
        hello_handler = load_handler(ROOT / "bench", "hello_app.handler", "bench_hello")
        tokens = _signed_in_user(auth_handler)
        sign_in_event = http_event("POST", "/auth/sign-in", {"email": "bench@example.com", "password": PASSWORD})
        me_event = http_event("GET", "/me", headers={"authorization": f"Bearer {tokens['access_token']}"})
        hello_warm = warm(hello_handler, hello_event, args.warm_requests)
        me_warm = warm(auth_handler, me_event, args.warm_requests)
        sign_in_warm = warm(auth_handler, sign_in_event, max(20, args.warm_requests // 4))
    finally:
        server.stop()

    def row(name: str, samples: list[float], base: list[float]) -> str:
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
        return (
            f"{name:<28} p50 {p50 * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms   "
            f"ratio vs hello-world: p50 {p50 / b50:6.1f}x  p99 {p99 / b99:6.1f}x"
        )

    print(f"cold start (n={args.cold_runs}, fresh process, import -> first answered request)")
    print(row("  hello-world GET /hello", cold_hello, cold_hello))
    print(row("  auth POST /auth/refresh", cold_auth, cold_hello))
    print(f"  cold-start ratio (median): {statistics.median(cold_auth) / statistics.median(cold_hello):.2f}x")
    print(f"warm (in-process, real v2 events, DynamoDB = moto on loopback; n={args.warm_requests})")
    print(row("  hello-world GET /hello", hello_warm, hello_warm))
    print(row("  auth GET /me", me_warm, hello_warm))
    print(row("  auth POST /auth/sign-in", sign_in_warm, hello_warm))
    print("  (sign-in is dominated by argon2id by design; deployed, enumeration-sensitive routes also wait")
    print("   for ASSISTI_ENUMERATION_FLOOR_MS, 400 ms by default, which this run sets to 0)")
    return 0


PASSWORD = "bench password 123"  # noqa: S105 - a throwaway account in a throwaway moto


def _signed_in_user(handler: Any) -> dict[str, Any]:
    """Creates a confirmed user through the real sign-up flow, reading the code from moto's SES."""
    import re

    from local.functions import LambdaContext
    from local.mailbox import Mailbox

    handler(
        http_event("POST", "/auth/sign-up", {"email": "bench@example.com", "password": PASSWORD}),
        LambdaContext("bench"),
    )
    code = re.search(r"\b(\d{6})\b", Mailbox().messages("bench@example.com")[0].text)
    assert code is not None
    handler(
        http_event("POST", "/auth/confirm-sign-up", {"email": "bench@example.com", "code": code.group(1)}),
        LambdaContext("bench"),
    )
    response = handler(
        http_event("POST", "/auth/sign-in", {"email": "bench@example.com", "password": PASSWORD}),
        LambdaContext("bench"),
    )
    tokens: dict[str, Any] = json.loads(response["body"])
    return tokens


if __name__ == "__main__":
    sys.exit(main())
