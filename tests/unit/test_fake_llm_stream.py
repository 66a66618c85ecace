"""The local OpenAI-compatible stand-in streams in the real chunk protocol, read by the real `openai` SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from local.fake_llm import FakeLLM

MESSAGES: list[Any] = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Tell me something about streaming, please."},
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh(fake: FakeLLM) -> None:
    fake.reset()
    fake.tokens_per_second = None


@pytest.fixture(scope="module")
def client(fake: FakeLLM) -> OpenAI:
    return OpenAI(base_url=fake.base_url, api_key="x", max_retries=0, timeout=10)


def stream(client: OpenAI, include_usage: bool = True, **options: Any) -> Any:
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
    return client.chat.completions.create(model="m", messages=MESSAGES, stream=True, **extra, **options)


def contents(chunks: list[Any]) -> list[str]:
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


def read_until_error(client: OpenAI) -> tuple[list[str], BaseException]:
    received: list[Any] = []
    with pytest.raises((openai.APIError, httpx.HTTPError)) as raised:
        for chunk in stream(client):
            received.append(chunk)
    return contents(received), raised.value


def test_streamed_text_is_the_unstreamed_answer_in_token_pieces(client: OpenAI) -> None:
    answer = client.chat.completions.create(model="m", messages=MESSAGES)
    chunks = list(stream(client))

    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    pieces = contents(chunks)
    assert "".join(pieces) == answer.choices[0].message.content
    assert all(len(piece) == 4 for piece in pieces[:-1])
    assert len(pieces) == answer.usage.completion_tokens  # type: ignore[union-attr]
    finish = chunks[-2]
    assert finish.choices[0].finish_reason == "stop" and finish.choices[0].delta.content is None
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and answer.usage is not None
    assert chunks[-1].usage.model_dump() == answer.usage.model_dump()
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)


def test_max_tokens_cuts_the_stream_with_finish_reason_length(client: OpenAI) -> None:
    answer = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=5)
    chunks = list(stream(client, max_tokens=5))

    assert "".join(contents(chunks)) == answer.choices[0].message.content
    assert len(contents(chunks)) == 5
    assert chunks[-2].choices[0].finish_reason == "length" == answer.choices[0].finish_reason
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_usage_comes_only_when_asked_for_and_not_with_nousage(client: OpenAI, fake: FakeLLM) -> None:
    unasked = list(stream(client, include_usage=False))
    assert all(c.usage is None for c in unasked) and unasked[-1].choices[0].finish_reason == "stop"

    fake.script("nousage")
    refused = list(stream(client))
    assert all(c.usage is None for c in refused) and refused[-1].choices[0].finish_reason == "stop"
    assert "".join(contents(refused)) == "".join(contents(unasked))


def test_drop_breaks_the_stream_after_exactly_n_content_chunks(client: OpenAI, fake: FakeLLM) -> None:
    fake.script("drop:2")
    received, error = read_until_error(client)

    assert len(received) == 2
    assert isinstance(error, openai.APIConnectionError | httpx.HTTPError)
    assert "".join(contents(list(stream(client)))).startswith("".join(received))  # the next one is whole


def test_fail_raises_api_error_after_n_content_chunks(client: OpenAI, fake: FakeLLM) -> None:
    fake.script("fail:2")
    received, error = read_until_error(client)

    assert len(received) == 2
    assert type(error) is openai.APIError
    assert error.message == "boom"
    assert error.body == {"message": "boom", "type": "server_error"}


def test_stall_pauses_after_three_content_chunks(client: OpenAI, fake: FakeLLM) -> None:
    fake.script("stall:1")
    arrivals: list[float] = []
    pieces: list[str] = []
    started = time.monotonic()
    for chunk in stream(client):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
            pieces.append(chunk.choices[0].delta.content)

    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert gaps.index(max(gaps)) == 2  # between the third content chunk and the fourth
    assert max(gaps) >= 0.9
    assert arrivals[2] - started < 0.9
    assert "".join(pieces) == "".join(contents(list(stream(client))))


def test_token_rate_paces_the_stream(client: OpenAI, fake: FakeLLM) -> None:
    fake.tokens_per_second = 20
    arrivals: list[float] = []
    started = time.monotonic()
    for chunk in stream(client, max_tokens=10):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    elapsed = time.monotonic() - started

    assert len(arrivals) == 10
    assert arrivals == sorted(arrivals) and arrivals[0] < arrivals[-1]
    assert arrivals[0] - started >= 0.04  # the first token is paced too: time to first token is measurable
    assert 0.45 <= elapsed < 3.0  # ten tokens at 20/s is about half a second
    assert len(fake.first_token_at) == 1 and started < fake.first_token_at[0] <= arrivals[0]


def test_first_token_time_is_recorded_per_stream_without_pacing(client: OpenAI, fake: FakeLLM) -> None:
    started = time.monotonic()
    list(stream(client))
    elapsed_unpaced = time.monotonic() - started
    client.chat.completions.create(model="m", messages=MESSAGES)  # not streamed: nothing recorded
    list(stream(client))

    assert len(fake.first_token_at) == 2 and fake.first_token_at[0] < fake.first_token_at[1]
    assert elapsed_unpaced < 1.0


def test_rate_limit_before_the_stream_raises_rate_limit_error(client: OpenAI, fake: FakeLLM) -> None:
    fake.script("429:7")
    with pytest.raises(openai.RateLimitError) as raised:
        stream(client)
    assert raised.value.response.headers["retry-after"] == "7"

    fake.script("500")
    with pytest.raises(openai.InternalServerError):
        stream(client)
    assert fake.first_token_at == []


def test_delay_holds_the_response_then_streams(client: OpenAI, fake: FakeLLM) -> None:
    fake.script("delay:0.3")
    started = time.monotonic()
    chunks = list(stream(client))
    assert time.monotonic() - started >= 0.3
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_empty_streams_no_content(client: OpenAI, fake: FakeLLM) -> None:
    fake.script("empty")
    chunks = list(stream(client))

    assert contents(chunks) == []
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 0
    assert fake.first_token_at == []


def test_huge_streams_in_big_chunks(client: OpenAI, fake: FakeLLM) -> None:
    fake.script("huge")
    chunks = list(stream(client, max_tokens=5))  # ignored, as the unstreamed "huge" ignores it
    pieces = contents(chunks)

    assert len(pieces) < 100 and all(len(piece) == 4_000 for piece in pieces[:-1])
    text = "".join(pieces)
    assert len(text.encode()) >= 400_000 and set(text) == {"é", " "}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == -(-len(text) // 4)


def test_unstreamed_requests_are_unchanged(client: OpenAI, fake: FakeLLM) -> None:
    fake.script("nousage", "empty")  # unknown names answer normally unstreamed, as before
    plain = client.chat.completions.create(model="m", messages=MESSAGES)
    empty = client.chat.completions.create(model="m", messages=MESSAGES)

    assert plain.object == "chat.completion" and plain.usage is not None
    assert plain.choices[0].message.content and empty.choices[0].message.content == ""
    assert fake.first_token_at == []
