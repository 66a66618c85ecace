"""Streamed chat answers: what streaming through the stack adds to the model's own stream.

    python -m bench.stream_bench [--runs 15] [--tokens-per-second 50]

Starts the local stack as `make dev` does (its own process; the streaming function served by uvicorn
behind the gateway, as the Lambda Web Adapter serves it), with the OpenAI-compatible stand-in writing at
a fixed token rate. Each run, in the same minute:
- the stand-in streamed directly with the openai SDK: its own time to the first token, and to the end;
- the same message streamed through the stack (`Accept: text/event-stream`): time to the first `delta`
  event, and to `done`;
- the same message not streamed (JSON): time to the answer.
Reported: the first `delta` minus the stand-in's own first token (goal: within 50 ms), the streamed total
against the JSON request's, and the overhead per chunk. Medians over the runs; absolute times are noisy
on a shared machine, the differences within one run are what count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from openai import OpenAI

from local.harness import newest_code, stack_process

PASSWORD = "bench password 123"  # noqa: S105 - a throwaway local user
GOAL_MS = 50


@contextmanager
def local_stack(tokens_per_second: float) -> Iterator[str]:
    settings = {
        "LOCAL_LLM_TOKENS_PER_SECOND": str(tokens_per_second),
        "ASSISTI_CHAT_DAILY_MESSAGES": "100000",
        "ASSISTI_CHAT_DAILY_TOKENS": "100000000",
    }
    with stack_process(settings) as stack:
        yield stack.url


def signed_in(http: httpx.Client) -> dict[str, str]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    http.post("/auth/sign-up", json={"email": email, "password": PASSWORD}).raise_for_status()
    code = newest_code(mail["text"] for mail in http.get("/_local/mailbox", params={"to": email}).json()["messages"])
    http.post("/auth/confirm-sign-up", json={"email": email, "code": code, "password": PASSWORD}).raise_for_status()
    tokens = http.post("/auth/sign-in", json={"email": email, "password": PASSWORD}).json()
    return {"authorization": f"Bearer {tokens['access_token']}"}


def direct(llm: OpenAI, text: str) -> tuple[float, float, float, int]:
    """The stand-in's own stream: seconds to its first token, its last, its end; its content chunks."""
    started, first, last, chunks = time.perf_counter(), 0.0, 0.0, 0
    stream = llm.chat.completions.create(
        model="bench",
        messages=[{"role": "user", "content": text}],
        max_tokens=800,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            chunks += 1
            last = time.perf_counter() - started
            first = first or last
    return first, last, time.perf_counter() - started, chunks


def through_the_stack(
    http: httpx.Client, path: str, headers: dict[str, str], text: str
) -> tuple[float, float, float, int]:
    """Seconds to the first `delta` event, the last, and `done`; the deltas."""
    started, first, last, deltas = time.perf_counter(), 0.0, 0.0, 0
    with http.stream(
        "POST", path, json={"message": text}, headers={**headers, "accept": "text/event-stream"}
    ) as response:
        for line in response.iter_lines():
            if line == "event: delta":
                deltas += 1
                last = time.perf_counter() - started
                first = first or last
    return first, last, time.perf_counter() - started, deltas


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    args = parser.parse_args()

    with local_stack(args.tokens_per_second) as url, httpx.Client(base_url=url, timeout=120) as http:
        llm_url = http.post("/_local/llm", json={}).json()["base_url"]
        llm = OpenAI(base_url=llm_url, api_key="bench", max_retries=0)
        headers = signed_in(http)
        first_gap, chunk_overhead, stream_totals, json_totals, chunk_counts = [], [], [], [], []
        for run in range(args.runs + 1):
            text = f"Benchmark message {run}"
            # A new chat each run: the same history (none) every time, so the runs compare.
            category = http.post("/categories", json={"name": f"Bench {run}"}, headers=headers).json()["id"]
            path = f"/categories/{category}/messages"
            own_first, own_last, _, own_chunks = direct(llm, text)
            first, last, total, deltas = through_the_stack(http, path, headers, text)
            started = time.perf_counter()
            http.post(path, json={"message": text}, headers=headers).raise_for_status()
            json_total = time.perf_counter() - started
            if run == 0:
                continue  # the first request pays for imports and connections
            first_gap.append((first - own_first) * 1000)
            # Between the first and the last piece: what relaying each piece costs beyond the model's pace.
            relayed = (last - first) / max(deltas - 1, 1) - (own_last - own_first) / max(own_chunks - 1, 1)
            chunk_overhead.append(relayed * 1000)
            stream_totals.append(total)
            json_totals.append(json_total)
            chunk_counts.append(deltas)
    gap = statistics.median(first_gap)
    report = {
        "tokens_per_second": args.tokens_per_second,
        "runs": args.runs,
        "chunks_per_answer_p50": statistics.median(chunk_counts),
        "first_delta_minus_stand_in_first_token_ms_p50": round(gap, 1),
        "first_delta_goal_ms": GOAL_MS,
        "first_delta_goal_met": gap <= GOAL_MS,
        "streamed_total_over_json_total_p50": round(
            statistics.median(s / j for s, j in zip(stream_totals, json_totals, strict=True)), 3
        ),
        "overhead_per_chunk_ms_p50": round(statistics.median(chunk_overhead), 2),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
