"""Chat function: what a message costs besides the model.

    python -m bench.chat_bench [--messages 200]

Against moto and the project's OpenAI-compatible stand-in on loopback (answers at once, so the
round trip is the real SDK and HTTP, not a model), each message a real v2 event to the real handler:
- a fast-path command (`/help`) against an LLM round trip, as a ratio of p50s;
- the function's own overhead per LLM message (handler time minus the LLM call's time), p50/p99;
- the DynamoDB calls per message, counted at PynamoDB's dispatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any

from bench.harness import http_event, invoke, load, local_aws, percentile, signed_in_user


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()

    from local.fake_llm import FakeLLM

    fake = FakeLLM().start()
    llm_env = {
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": "bench",
        "ASSISTI_CHAT_MODEL": "bench-model",
        "ASSISTI_CHAT_DAILY_MESSAGES": "1000000",
        "ASSISTI_CHAT_DAILY_TOKENS": "1000000000",
    }
    try:
        with local_aws("bench-chat", llm_env) as (template, _env):
            auth, chat = load(template, "AuthFunction"), load(template, "ChatFunction")
            headers = {"authorization": f"Bearer {signed_in_user(auth, 'chat-bench@example.com')['access_token']}"}
            created = invoke(chat, http_event("POST", "/categories", {"name": "bench"}, headers))
            path = f"/categories/{json.loads(created['body'])['id']}/messages"
            calls = _count_dynamodb_calls()
            slowest: dict[str, float] = {}

            def send(text: str) -> tuple[float, dict[str, Any], Counter[str], float]:
                calls.clear()
                started = time.perf_counter()
                response = invoke(chat, http_event("POST", path, {"message": text}, headers))
                elapsed = time.perf_counter() - started
                assert response["statusCode"] == 201, response
                operations = Counter(name for name, _ in calls)
                for name, seconds in calls:
                    slowest[name] = max(slowest.get(name, 0.0), seconds)
                return elapsed, json.loads(response["body"]), operations, sum(seconds for _, seconds in calls)

            send("warm up")
            send("/help")
            fast, llm, overhead, dynamodb, own = [], [], [], [], []
            fast_calls: Counter[str] = Counter()
            llm_calls: Counter[str] = Counter()
            for index in range(args.messages):
                elapsed, _, fast_calls, _ = send("/help")
                fast.append(elapsed)
                elapsed, body, llm_calls, in_dynamodb = send(f"question {index}: what is 2 + {index}?")
                assert body["status"] == "answered", body
                llm.append(elapsed)
                overhead.append(elapsed - body["latency_ms"] / 1000)
                dynamodb.append(in_dynamodb)
                own.append(elapsed - body["latency_ms"] / 1000 - in_dynamodb)
    finally:
        fake.stop()

    def ms(samples: list[float], fraction: float) -> float:
        return percentile(samples, fraction) * 1000

    print(f"chat, n={args.messages} each (in-process handler, moto and the LLM stand-in on loopback)")
    print(f"  fast path /help          p50 {ms(fast, 0.5):7.1f} ms  p99 {ms(fast, 0.99):7.1f} ms")
    print(f"  LLM round trip           p50 {ms(llm, 0.5):7.1f} ms  p99 {ms(llm, 0.99):7.1f} ms")
    print(f"  fast path / LLM round trip (p50): {percentile(fast, 0.5) / percentile(llm, 0.5):.2f}x")
    print(
        f"  function overhead per LLM message (total - LLM call): p50 {ms(overhead, 0.5):.1f} ms, "
        f"p99 {ms(overhead, 0.99):.1f} ms"
    )
    print(
        f"    of which DynamoDB calls (moto, in this process): p50 {ms(dynamodb, 0.5):.1f} ms; "
        f"the function's own work: p50 {ms(own, 0.5):.1f} ms, p99 {ms(own, 0.99):.1f} ms"
    )
    print(f"  DynamoDB calls per LLM message: {sum(llm_calls.values())} {dict(sorted(llm_calls.items()))}")
    print(f"  DynamoDB calls per fast-path message: {sum(fast_calls.values())} {dict(sorted(fast_calls.items()))}")
    print(
        "  slowest single call by operation: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in sorted(slowest.items()))
    )
    print(f"  (the LLM message's prompt carries up to ASSISTI_CHAT_HISTORY_TOKENS of history; n={args.messages})")
    return 0


def _count_dynamodb_calls() -> list[tuple[str, float]]:
    """Records every DynamoDB operation PynamoDB dispatches (a measuring hook for this bench only)."""
    from pynamodb.connection.base import Connection

    seen: list[tuple[str, float]] = []
    original = Connection.dispatch

    def counting(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return original(self, operation_name, operation_kwargs)
        finally:
            seen.append((operation_name, time.perf_counter() - started))

    Connection.dispatch = counting  # type: ignore[method-assign]
    return seen


if __name__ == "__main__":
    sys.exit(main())
