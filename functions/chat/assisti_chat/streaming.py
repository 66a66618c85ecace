"""Server-Sent Events for a message being answered: `message`, `delta`…, then `done` or `error`.

The answer is produced on its own thread, which runs to the end whatever the client does: a client that
disconnects mid-stream does not lose the answer, which is stored (or stored failed, with what arrived)
and settled against the quota either way. The response only relays what that thread has produced, as
it is produced. Behind the Lambda Web Adapter (the streaming function URL) each event reaches the client
at once; through the HTTP API (Mangum) the same events arrive in one buffered body."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from assisti_common.errors import error_body
from assisti_common.observability import logger

if TYPE_CHECKING:
    from assisti_chat.service import AnswerStream
    from assisti_common.db.models import MessageModel

EVENT_STREAM = "text/event-stream"
EVENTS_DOC = (
    "With `Accept: text/event-stream`: Server-Sent Events. `message` (the stored message, pending), `delta` "
    '(`{"text": …}`, many), then `done` (the final message) or `error` (the common error body; the message '
    "is left failed and retryable, with the part that arrived as its answer)."
)
STREAM_RESPONSE = {"content": {EVENT_STREAM: {"schema": {"type": "string"}}}, "description": EVENTS_DOC}


def wants_events(request: Request) -> bool:
    return EVENT_STREAM in request.headers.get("accept", "")


def event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def stream_answer(
    answer: AnswerStream, to_json: Callable[[MessageModel], dict[str, Any]], status_code: int
) -> StreamingResponse:
    from assisti_chat.llm_client import LLMFailure

    def produce(put: Callable[[str | None], None]) -> None:
        try:
            put(event("message", to_json(answer.message)))
            for piece in answer.pieces:
                put(event("delta", {"text": piece}))
            put(event("done", to_json(answer.message)))
        except LLMFailure as failure:
            put(event("error", error_body(failure.code, failure.message, {"message": to_json(answer.message)})))
        except Exception as exc:  # the stream is already open: say so in it, and log the cause
            logger.exception("answer stream failed", extra={"error_type": type(exc).__name__})
            put(event("error", error_body("internal_error", "Something went wrong on our side. Try again.")))
        finally:
            put(None)

    async def relay() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[str | None] = asyncio.Queue()

        def put(item: str | None) -> None:
            # Handed to the event loop's thread: one wake-up per event, no thread hop per read. Once the
            # loop is gone (the client left, the server stopped), events go nowhere; the answer goes on.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(events.put_nowait, item)

        # Not a daemon: a process that stops (uvicorn shutting down) waits for the answer to be stored.
        threading.Thread(target=produce, args=(put,), name="answer-stream", daemon=False).start()
        while (item := await events.get()) is not None:
            yield item

    return StreamingResponse(
        relay(),
        status_code=status_code,
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
