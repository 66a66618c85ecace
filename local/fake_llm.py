"""A small OpenAI-compatible server for when no LLM is configured, and for the tests.

It speaks the real Chat Completions protocol (`POST /v1/chat/completions`, `GET /v1/models`), so
the real `openai` SDK is exercised end to end. Its answers are deterministic and say plainly that
no model is configured; for the summarizer it gives a real extractive summary. Like a real model it
stops at `max_tokens` (finish_reason "length"). Tests script failures:
`server.script("slow", "429", "429:20", "500", "malformed", "empty", "huge", "delay:0.5", "drop")` queues
what the next requests get ("429:20" asks for Retry-After: 20; "drop" closes the connection halfway
through the body; "huge" is a ~500 KB answer from an endpoint that ignores `max_tokens`; "delay:0.5"
answers after half a second).

With `"stream": true` it streams the same answer as server-sent events in the real chunk protocol
(HTTP/1.1 chunked transfer encoding, flushed per event): a role chunk, one content chunk per token
(4 characters), a chunk with the finish reason, a usage chunk if `stream_options.include_usage`, then
`data: [DONE]`. `tokens_per_second` (constructor argument and attribute; None = at once) paces the
content chunks, the first one 1/rate after the role chunk; `first_token_at` records when each stream's
first content chunk was written (`time.monotonic()`). For streamed requests the script also knows:
"stall:2" (after 3 content chunks, pause 2 s, then go on), "drop:2" (after 2 content chunks, close the
connection mid-body: no finish chunk, no [DONE]), "fail:2" (after 2 content chunks, a mid-stream
`data: {"error": ...}` event, then the end of the body) and "nousage" (no usage chunk even when asked).
"slow", "delay:S", "429" and "500" act before the stream as they do unstreamed; "empty" streams no
content chunks; "huge" streams its text in 4,000-character chunks; "malformed" sends the role chunk
and then a truncated JSON event.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "assisti-local-no-model"
WORD = re.compile(r"[A-Za-z']+")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STOP_WORDS = "a an and are as at be by for from has have in is it its of on or that the this to was were will with"
STOP_WORDS = frozenset(_STOP_WORDS.split())


def extractive_summary(text: str, sentences_wanted: int = 3) -> str:
    """The highest-scoring sentences (by the text's own word frequencies), in their original order."""
    sentences = [s.strip() for s in SENTENCE.split(text.strip()) if s.strip()]
    if len(sentences) <= sentences_wanted:
        return " ".join(sentences)
    frequencies = Counter(w.lower() for w in WORD.findall(text) if w.lower() not in STOP_WORDS)

    def score(sentence: str) -> float:
        words = [w.lower() for w in WORD.findall(sentence) if w.lower() not in STOP_WORDS]
        return sum(frequencies[w] for w in words) / math.sqrt(len(words) or 1)

    best = sorted(range(len(sentences)), key=lambda i: (-score(sentences[i]), i))[:sentences_wanted]
    return " ".join(sentences[i] for i in sorted(best))


def answer_for(messages: list[dict[str, Any]]) -> str:
    system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
    user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    history = sum(1 for m in messages if m.get("role") == "assistant")
    if "summarizer" in system:
        return f"Summary (extractive, made locally without a language model): {extractive_summary(user)}"
    return (
        f"No language model is configured, so this local stack answers deterministically. "
        f'You said: "{user[:200]}" ({len(user)} characters; {history} earlier exchanges in the prompt). '
        "Set OPENAI_BASE_URL, OPENAI_API_KEY and ASSISTI_CHAT_MODEL to use a real model."
    )


HUGE_ANSWER_BYTES = 500_000  # of UTF-8, mostly two-byte characters: a cut can fall inside one
HUGE_CHUNK_CHARACTERS = 4_000  # "huge" streams in big pieces, not one chunk per token
STALL_AFTER_CHUNKS = 3  # "stall:S" pauses after this many content chunks


def token_count(text: str) -> int:
    return math.ceil(len(text) / 4)


def within_max_tokens(text: str, max_tokens: Any) -> tuple[str, str]:
    """The answer cut where a model would stop for `max_tokens`, and its finish reason."""
    if isinstance(max_tokens, int) and token_count(text) > max_tokens:
        return text[: max_tokens * 4], "length"
    return text, "stop"


def pieces(text: str, size: int = 4) -> Iterator[str]:
    """The text in consecutive pieces of `size` characters (a token is 4): what a stream sends."""
    for start in range(0, len(text), size):
        yield text[start : start + size]


class FakeLLM:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        slow_seconds: float = 5.0,
        tokens_per_second: float | None = None,
    ) -> None:
        self.slow_seconds = slow_seconds
        # Paces streamed content chunks (read before each one, so a test may change it); None = at once.
        self.tokens_per_second = tokens_per_second
        # time.monotonic() when each stream's first content chunk was written (streams with none add nothing).
        self.first_token_at: list[float] = []
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-llm", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, *behaviours: str) -> None:
        """Queues what the next requests get: ok, slow, delay:SECONDS, 429, 429:RETRY_AFTER, 500, malformed,
        empty, huge, drop (the connection closed halfway through the body); and for streamed requests
        also stall:SECONDS (pause after 3 content chunks), drop:N
        (close the connection after N content chunks), fail:N (an error event after N content chunks) and
        nousage (no usage chunk even when asked)."""
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.first_token_at.clear()

    def _next(self, body: dict[str, Any]) -> str:
        with self._lock:
            self.requests.append(body)
            return self._script.popleft() if self._script else "ok"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any, raw: bytes | None = None, retry_after: str = "0") -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after", retry_after)
                self.end_headers()
                self.wfile.write(data)

            def _drop_mid_body(self) -> None:
                """Headers promising a body, half of it, then the connection closed (a dropped link)."""
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "4096")
                self.end_headers()
                self.wfile.write(b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "mess')
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "local"}]})
                else:
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                    return
                behaviour, _, argument = fake._next(body).partition(":")
                if behaviour == "slow":
                    time.sleep(fake.slow_seconds)
                elif behaviour == "delay":
                    time.sleep(float(argument))
                elif behaviour == "429":
                    error = {"error": {"message": "rate limited", "type": "rate_limit_error"}}
                    self._send(429, error, retry_after=argument or "0")
                    return
                elif behaviour == "500":
                    self._send(500, {"error": {"message": "boom", "type": "server_error"}})
                    return
                elif behaviour == "malformed" and body.get("stream") is not True:
                    self._send(200, None, raw=b'{"id": "x", "choices": [{"message": ')
                    return
                elif behaviour == "drop" and body.get("stream") is not True:
                    self._drop_mid_body()
                    return
                messages = body.get("messages") or []
                if behaviour == "huge":
                    text, finish = "é " * (HUGE_ANSWER_BYTES // 3), "stop"
                else:
                    text, finish = within_max_tokens(
                        "" if behaviour == "empty" else answer_for(messages), body.get("max_tokens")
                    )
                prompt_tokens = sum(token_count(str(m.get("content", ""))) for m in messages)
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": token_count(text),
                    "total_tokens": prompt_tokens + token_count(text),
                }
                if body.get("stream") is True:
                    self._stream(body, behaviour, argument, text, finish, usage)
                    return
                rate = fake.tokens_per_second
                if rate:  # a model writes the whole answer before a non-streamed reply: the same time
                    time.sleep(token_count(text) / rate)
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-local-{len(fake.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": str(body.get("model") or MODEL),
                        "choices": [
                            {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}
                        ],
                        "usage": usage,
                    },
                )

            def _write_chunk(self, data: bytes) -> None:
                """One piece of the chunked body, flushed so the client sees it now."""
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(
                self,
                body: dict[str, Any],
                behaviour: str,
                argument: str,
                text: str,
                finish: str,
                usage: dict[str, int],
            ) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                header = {
                    "id": f"chatcmpl-local-{len(fake.requests)}",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": str(body.get("model") or MODEL),
                }

                def event(payload: Any) -> None:
                    self._write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

                def chunk(delta: dict[str, str], finish_reason: str | None = None) -> None:
                    event({**header, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

                try:
                    chunk({"role": "assistant", "content": ""})
                    if behaviour == "malformed":
                        self._write_chunk(b'data: {"id": "x", "choices": [{"delta": \n\n')
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    contents = list(pieces(text, HUGE_CHUNK_CHARACTERS if behaviour == "huge" else 4))
                    if behaviour in ("drop", "fail"):
                        contents = contents[: int(argument)]
                    # A stall comes after the third content chunk, or after the last if there are fewer.
                    stall_after = min(STALL_AFTER_CHUNKS, len(contents)) if behaviour == "stall" else -1
                    for sent, piece in enumerate(contents):
                        if sent == stall_after:
                            time.sleep(float(argument))
                        rate = fake.tokens_per_second
                        if rate:
                            time.sleep(1 / rate)
                        chunk({"content": piece})
                        if sent == 0:
                            fake.first_token_at.append(time.monotonic())
                    if len(contents) == stall_after:
                        time.sleep(float(argument))
                    if behaviour == "drop":
                        # Mid-body, without the chunked terminator: the client sees the peer go away.
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if behaviour == "fail":
                        event({"error": {"message": "boom", "type": "server_error"}})
                    else:
                        chunk({}, finish)
                        options = body.get("stream_options")
                        if behaviour != "nousage" and isinstance(options, dict) and options.get("include_usage"):
                            event({**header, "choices": [], "usage": usage})
                        self._write_chunk(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:  # the client went away mid-stream
                    self.close_connection = True

        return Handler


if __name__ == "__main__":
    import os

    rate = os.environ.get("FAKE_LLM_TOKENS_PER_SECOND")
    server = FakeLLM(
        port=int(os.environ.get("FAKE_LLM_PORT", "8089")), tokens_per_second=float(rate) if rate else None
    ).start()
    print(f"fake OpenAI-compatible server on {server.base_url}", flush=True)
    threading.Event().wait()
