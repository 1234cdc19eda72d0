"""Streamed `n > 1` through the guarded proxy, seen by the official openai SDK's streaming client: a real sidecar
process on loopback in front of the scripted upstream, which streams the choices interleaved as OpenAI does."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from guardrails.guard import LLMResponse, OpenAIChatClient
from service.proxy_stream_choices import StreamedUpstream
from tests.guard.fake_openai import Choices, FakeOpenAI, Good, Raw, Sse, Status, serve
from tests.service.conftest import KEYS
from tests.service.server import Server, running_server, stop
from tests.service.test_hold import DOSE, decide, hold_server, poll, wait_for
from tests.service.test_hold_modes import SdkStream
from tests.service.test_openai_sdk import ASK, CITY, OUTGUARD, TOOLS

FMT: Any = {"type": "json_schema", "json_schema": {"name": "place", "schema": CITY}}
SAFE = "Ask your pharmacist about the right dose."


def sse_choices(
    choices: list[str | list[tuple[str, str, str]]], usage: tuple[int, int] | None = None, piece: int = 4
) -> Raw:
    """An upstream stream of several choices as OpenAI sends it: a role chunk per index, then the choices' pieces
    interleaved (text, or tool calls: (id, name, arguments) each, arguments in pieces), a finish chunk per index,
    the usage chunk. Served whole: what matters here is how the proxy reads it, not when it arrives."""
    events: list[dict[str, Any]] = [
        {"index": i, "delta": {"role": "assistant", "content": ""}} for i in range(len(choices))
    ]
    lanes: list[list[dict[str, Any]]] = []
    for choice in choices:
        if isinstance(choice, str):
            lanes.append([{"content": choice[i : i + piece]} for i in range(0, len(choice), piece)])
            continue
        lane: list[dict[str, Any]] = []
        for k, (call_id, name, args) in enumerate(choice):
            head = {"index": k, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            lane.append({"tool_calls": [head]})
            lane += [
                {"tool_calls": [{"index": k, "function": {"arguments": args[i : i + piece]}}]}
                for i in range(0, len(args), piece)
            ]
        lanes.append(lane)
    for step in range(max(len(lane) for lane in lanes)):
        events += [{"index": i, "delta": lane[step]} for i, lane in enumerate(lanes) if step < len(lane)]
    for i, choice in enumerate(choices):
        events.append({"index": i, "delta": {}, "finish_reason": "stop" if isinstance(choice, str) else "tool_calls"})
    body = "".join(f"data: {json.dumps({'model': 'fake-model', 'choices': [e]})}\n\n" for e in events)
    if usage is not None:
        p, c = usage
        total = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        body += f"data: {json.dumps({'model': 'fake-model', 'choices': [], 'usage': total})}\n\n"
    return Raw((body + "data: [DONE]\n\n").encode(), content_type="text/event-stream")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def server(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("stream-choices")
    args = ("--upstream-url", fake.url, "--upstream-model", "fake-model", "--policy", "default")
    with running_server(tmp, *args) as srv:
        yield srv


@pytest.fixture
def upstream(fake: FakeOpenAI) -> FakeOpenAI:
    fake.script.clear()
    fake.requests.clear()
    return fake


def _client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEYS["validate"], max_retries=0, timeout=60)


def _by_index(chunks: list[Any]) -> dict[int, str]:
    texts: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
    return texts


def _finishes(chunks: list[Any]) -> dict[int, str]:
    return {c.index: c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason}


def test_a_failing_choice_is_regenerated_alone_and_each_index_gets_the_non_streamed_text(
    server: Server, upstream: FakeOpenAI
) -> None:
    upstream.add(sse_choices(['{"city": "Oslo"}', '{"town": "Paris"}'], usage=(10, 6)), Good('{"city": "Paris"}'))
    chunks = list(
        _client(server).chat.completions.create(
            model="x", messages=ASK, n=2, stream=True, response_format=FMT,
            stream_options={"include_usage": True}, extra_body=OUTGUARD,
        )
    )  # fmt: skip
    streamed, sent = _by_index(chunks), [r["body"] for r in upstream.requests]
    # The same upstream answers, not streamed: the proxy's non-streamed answer is the reference.
    upstream.add(Choices(['{"city": "Oslo"}', '{"town": "Paris"}'], usage=(10, 6)), Good('{"city": "Paris"}'))
    plain = _client(server).chat.completions.create(
        model="x", messages=ASK, n=2, response_format=FMT, extra_body=OUTGUARD
    )
    assert (
        streamed
        == {c.index: c.message.content for c in plain.choices}
        == {0: '{"city": "Oslo"}', 1: '{"city": "Paris"}'}
    )
    assert _finishes(chunks) == {0: "stop", 1: "stop"}
    roles = [(c.choices[0].index, c.choices[0].delta.role) for c in chunks if c.choices and c.choices[0].delta.role]
    assert roles == [(0, "assistant"), (1, "assistant")]  # a role chunk per index, before its text
    assert chunks[0].choices[0].delta.role == "assistant"  # choice 0's at once
    # Asked once, streamed, every field as given; the failing choice alone regenerated, not streamed, without `n`.
    assert sent[0]["stream"] is True and sent[0]["n"] == 2 and sent[0]["response_format"] == FMT
    assert sent[0]["stream_options"] == {"include_usage": True}
    assert not {"n", "stream", "stream_options"} & set(sent[1]) and sent[1]["response_format"] == FMT
    assert len(sent) == 2
    # The usage chunk comes last, summed over every attempt of every choice (16 streamed + 17 regenerated).
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 33
    ends = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [(c.model_extra or {})["outguard"]["attempts"] for c in ends] == [1, 2]  # each choice's own info


def test_tool_calls_are_assembled_checked_and_streamed_per_index(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(
        sse_choices(
            [
                [("a1", "get_weather", '{"city": "Oslo"}')],
                [("b1", "get_weather", '{"city": "Paris",}'), ("b2", "get_weather", '{"city": "Rome"}')],
            ]
        )
    )
    with _client(server).chat.completions.stream(
        model="x", messages=ASK, n=2, tools=TOOLS, extra_body=OUTGUARD
    ) as stream:
        final = stream.get_final_completion()  # the SDK's own assembly of the streamed deltas, per index
    calls = {
        c.index: [(t.id, t.function.name, t.function.arguments) for t in c.message.tool_calls or []]  # type: ignore[union-attr]
        for c in final.choices
    }
    assert calls == {
        0: [("a1", "get_weather", '{"city": "Oslo"}')],
        1: [("b1", "get_weather", '{"city": "Paris"}'), ("b2", "get_weather", '{"city": "Rome"}')],  # repaired
    }
    assert [c.finish_reason for c in final.choices] == ["tool_calls", "tool_calls"]
    assert upstream.requests[0]["body"]["tools"] == TOOLS and len(upstream.requests) == 1


def test_cleared_is_final_for_n_above_one_and_the_answer_says_so(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(sse_choices(["The store opens at nine.", "The store opens at 9am."]))
    raw = _client(server).chat.completions.with_raw_response.create(
        model="x", messages=ASK, n=2, stream=True, extra_body=OUTGUARD, extra_headers={"X-Outguard-Release": "cleared"}
    )
    assert raw.headers["x-outguard-release"] == "final"
    chunks = list(raw.parse())
    assert (chunks[0].model_extra or {})["outguard"] == {"type": "release", "release": "final", "asked": "cleared"}
    assert _by_index(chunks) == {0: "The store opens at nine.", 1: "The store opens at 9am."}


def test_an_upstream_outage_raises_in_the_sdk(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(*[Status(500) for _ in range(8)])
    stream = _client(server).chat.completions.create(model="x", messages=ASK, n=2, stream=True, extra_body=OUTGUARD)
    with pytest.raises(openai.APIError, match="upstream LLM failed"):
        list(stream)


def test_an_upstream_sending_fewer_choices_leaves_no_empty_index(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(sse_choices(["The store opens at nine."]))
    with _client(server).chat.completions.stream(model="x", messages=ASK, n=3, extra_body=OUTGUARD) as stream:
        final = stream.get_final_completion()
    assert [(c.index, c.message.content, c.finish_reason) for c in final.choices] == [
        (0, "The store opens at nine.", "stop")
    ]  # as the plain answer: the choices the upstream sent, each with an end


def test_a_streamed_answer_regenerated_asks_again_without_stream_options(server: Server, upstream: FakeOpenAI) -> None:
    # OpenAI answers 400 to `stream_options` on a request that does not stream: a regeneration must leave it out
    # (n = 1 here: the streamed answer's regeneration is a plain call too).
    upstream.add(Sse(['{"town": ', '"Paris"}'], usage=(9, 4)), Good('{"city": "Paris"}'))
    chunks = list(
        _client(server).chat.completions.create(
            model="x", messages=ASK, stream=True, response_format=FMT,
            stream_options={"include_usage": True}, extra_body=OUTGUARD,
        )
    )  # fmt: skip
    sent = [r["body"] for r in upstream.requests]
    assert sent[0]["stream_options"] == {"include_usage": True} and "stream_options" not in sent[1]
    assert _by_index(chunks)[0].endswith('{"city": "Paris"}')
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 13 + 17


# -- the upstream wrapper on its own ---------------------------------------------------------------------------------


def test_the_first_call_is_streamed_and_demultiplexed_hostile_indices_dropped() -> None:
    events = [{"index": i, "delta": {"content": f"choice {i}"}} for i in (0, 1, 2, 200, -1)]
    events += [{"index": True, "delta": {"content": "a bool"}}, {"index": 1, "delta": {}, "finish_reason": "length"}]
    sse = "".join(f"data: {json.dumps({'model': 'm-1', 'choices': [e]})}\n\n" for e in events) + "data: [DONE]\n\n"
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        if len(sent) == 1:
            return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})
        message = {"role": "assistant", "content": "again"}
        return httpx.Response(200, json={"choices": [{"index": 0, "message": message}]})

    transport = httpx.MockTransport(handler)
    client = OpenAIChatClient("http://up.test/v1", "m", transport=transport, async_transport=transport, max_retries=0)
    wrapped = StreamedUpstream(client, choices=True)
    params = {"n": 2, "stream_options": {"include_usage": True}, "seed": 3}

    async def calls() -> tuple[LLMResponse, LLMResponse]:
        first = await wrapped.acomplete([{"role": "user", "content": "q"}], upstream_params=params)
        again = await wrapped.acomplete([{"role": "user", "content": "q"}], upstream_params={"seed": 3, **params})
        return first, again

    first, again = asyncio.run(calls())
    assert [first.text, *(a.text for a in first.alternatives)] == ["choice 0", "choice 1"]  # index 2 is past n
    assert first.alternatives[0].finish_reason == "length" and first.model == "m-1"
    assert sent[0]["stream"] is True and sent[0]["n"] == 2 and sent[0]["stream_options"] == {"include_usage": True}
    assert "stream" not in sent[1] and "stream_options" not in sent[1] and again.text == "again"


def test_an_llm_without_astream_is_asked_once_plainly_without_stream_options() -> None:
    seen: list[dict[str, Any]] = []

    def llm(messages: list[dict[str, Any]], **params: Any) -> str:
        seen.append(params)
        return "plain"

    value = asyncio.run(StreamedUpstream(llm, choices=True).acomplete([], n=2, stream_options={"include_usage": True}))
    assert value == "plain" and seen == [{"n": 2}]


# -- held: the completion waits as a whole ---------------------------------------------------------------------------


def test_a_held_n2_stream_waits_as_a_whole_and_streams_both_choices_once_approved(
    fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fake.script.clear()
    server = hold_server(tmp_path_factory.mktemp("held-choices"), fake, serve_args=("--stream-keepalive", "0.2"))
    try:
        fake.add(sse_choices([SAFE, DOSE], usage=(9, 12)))
        stream = SdkStream(server, n=2, stream_options={"include_usage": True})
        wait_for(lambda: stream.held_id() is not None)
        held_id = stream.held_id()
        assert held_id is not None
        time.sleep(0.6)  # keep-alive comments only: the SDK skips them, nothing else arrives
        waiting = json.dumps([c.model_dump() for c in stream.chunks])
        assert SAFE not in waiting and "400 mg" not in waiting and not stream.done.is_set()  # no choice is shown
        decide(server, held_id, {"kind": "approve"})
        stream.join()
        assert _by_index(stream.chunks) == {0: SAFE, 1: DOSE} and _finishes(stream.chunks) == {0: "stop", 1: "stop"}
        ends = {c.choices[0].index: c for c in stream.chunks if c.choices and c.choices[0].finish_reason}
        assert (ends[1].model_extra or {})["outguard"]["held"] == {"id": held_id, "outcome": "approve", "edited": False}
        assert (ends[1].model_extra or {})["outguard"]["verdict"] == "review"
        last = stream.chunks[-1]
        assert last.choices == [] and last.usage is not None and last.usage.total_tokens == 21
        released = poll(server, held_id).json()  # the long-poll gets the same decision, as a completion
        assert [c["message"]["content"] for c in released["choices"]] == [SAFE, DOSE]
    finally:
        stop(server)
