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
import statistics
import sys
from typing import Any

from bench.harness import PASSWORD, cold_start, http_event, load, local_aws, percentile, signed_in_user, warm


def cold_starts(handler: str, event: dict[str, Any], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        seconds, status = cold_start(handler, event, env)
        assert 200 <= status < 500, status
        times.append(seconds)
    return times


def row(name: str, samples: list[float], base: list[float]) -> str:
    p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
    b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
    return (
        f"{name:<28} p50 {p50 * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms   "
        f"ratio vs hello-world: p50 {p50 / b50:6.1f}x  p99 {p99 / b99:6.1f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--warm-requests", type=int, default=200)
    args = parser.parse_args()

    # The enumeration floor (a fixed minimum answer time) would hide the function's own cost.
    with local_aws("bench", {"ASSISTI_ENUMERATION_FLOOR_MS": "0"}) as (template, env):
        auth = next(function for function in template.functions() if function.logical_id == "AuthFunction")
        refresh_event = http_event("POST", "/auth/refresh", {"refresh_token": "rt1.u.s.secret"})
        hello_event = http_event("GET", "/hello")
        cold_auth = cold_starts(auth.handler, refresh_event, env, args.cold_runs)
        cold_hello = cold_starts("bench.hello_app.handler", hello_event, env, args.cold_runs)

        auth_handler = load(template, "AuthFunction")
        from local.functions import load_handler

        hello_handler = load_handler("bench.hello_app.handler")
        tokens = signed_in_user(auth_handler, "bench@example.com")
        sign_in_event = http_event("POST", "/auth/sign-in", {"email": "bench@example.com", "password": PASSWORD})
        me_event = http_event("GET", "/me", headers={"authorization": f"Bearer {tokens['access_token']}"})
        hello_warm = warm(hello_handler, hello_event, args.warm_requests)
        me_warm = warm(auth_handler, me_event, args.warm_requests)
        sign_in_warm = warm(auth_handler, sign_in_event, max(20, args.warm_requests // 4))

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


if __name__ == "__main__":
    sys.exit(main())
