"""The official `openai` Python SDK as a real client of the guarded proxy (a sidecar process on loopback) in front
of a scripted upstream: what the user of the SDK sees, and what reaches the upstream."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.guard.fake_openai import Choices, FakeOpenAI, Good, Sse, SseTools, Status, serve, tool_calls
from tests.service.conftest import KEYS
from tests.service.server import Server, start_server, stop

OUTGUARD = {"outguard": {"policy": "default"}}
CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
TOOLS: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": CITY}}]
ASK: Any = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def server(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("sdk")
    srv = start_server(tmp, "--upstream-url", fake.url, "--upstream-model", "fake-model", "--policy", "default")
    try:
        yield srv
    finally:
        stop(srv)


@pytest.fixture
def upstream(fake: FakeOpenAI) -> FakeOpenAI:
    fake.script.clear()
    fake.requests.clear()
    return fake


def _client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEYS["validate"], max_retries=0, timeout=60)


def test_sync_answer_and_parameters_reach_the_upstream_as_given(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good("It is sunny in Paris today.", usage=(10, 7)))
    resp = _client(server).chat.completions.create(
        model="gpt-x", messages=ASK, temperature=0.4, seed=7, extra_body={**OUTGUARD, "logprobs": False}
    )
    assert resp.choices[0].message.content == "It is sunny in Paris today."
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.total_tokens == 17
    assert (resp.model_extra or {})["outguard"]["source"] == "primary"
    sent = upstream.requests[0]["body"]
    assert sent == {"model": "fake-model", "messages": ASK, "temperature": 0.4, "seed": 7, "logprobs": False}


def test_async_client(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good("It is sunny in Paris today."))

    async def ask() -> Any:
        async with openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=KEYS["validate"], max_retries=0) as c:
            return await c.chat.completions.create(model="x", messages=ASK, extra_body=OUTGUARD)

    resp = asyncio.run(ask())
    assert resp.choices[0].message.content == "It is sunny in Paris today."
    assert "temperature" not in upstream.requests[0]["body"]  # never forced on the first attempt


def test_streaming_with_usage_chunk(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Sse(["It is ", "sunny in ", "Paris today."], usage=(9, 4)))
    stream = _client(server).chat.completions.create(
        model="x", messages=ASK, stream=True, stream_options={"include_usage": True}, extra_body=OUTGUARD
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "It is sunny in Paris today."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 13
    assert upstream.requests[0]["body"]["stream_options"] == {"include_usage": True}


def test_tool_call_arguments_are_checked_and_repaired(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(tool_calls(("call_1", "get_weather", '{"city": "Paris",}')))
    resp = _client(server).chat.completions.create(
        model="x", messages=ASK, tools=TOOLS, tool_choice="auto", extra_body=OUTGUARD
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id == "call_1" and call.function.name == "get_weather"  # type: ignore[union-attr]
    assert call.function.arguments == '{"city": "Paris"}'  # type: ignore[union-attr]
    sent = upstream.requests[0]["body"]
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"


def test_parallel_tool_calls_a_bad_one_is_regenerated(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(
        tool_calls(("c1", "get_weather", '{"city": "Oslo"}'), ("c2", "get_weather", '{"town": "Paris"}')),
        tool_calls(("c3", "get_weather", '{"city": "Oslo"}'), ("c4", "get_weather", '{"city": "Paris"}')),
    )
    resp = _client(server).chat.completions.create(
        model="x", messages=ASK, tools=TOOLS, parallel_tool_calls=True, extra_body=OUTGUARD
    )
    calls = resp.choices[0].message.tool_calls or []
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Oslo"}, {"city": "Paris"}]  # type: ignore[union-attr]
    assert upstream.requests[0]["body"]["parallel_tool_calls"] is True
    feedback = upstream.requests[1]["body"]["messages"][-1]["content"]
    assert "Tool call #2 (id c2) to `get_weather`" in feedback and "/city" in feedback


def test_streamed_tool_calls_are_assembled_and_checked(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(SseTools([("c1", "get_weather", '{"city": "Paris",}')]))
    stream = _client(server).chat.completions.create(
        model="x", messages=ASK, tools=TOOLS, stream=True, extra_body=OUTGUARD
    )
    deltas = [c.choices[0].delta for c in stream if c.choices]
    parts = [tc for d in deltas for tc in (d.tool_calls or [])]
    assert [p.function.arguments for p in parts if p.function] == ['{"city": "Paris"}']


class Place(BaseModel):
    city: str


def test_response_format_json_schema_with_parse(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good('{"town": "Paris"}'), Good('{"city": "Paris"}'))
    resp = _client(server).chat.completions.parse(model="x", messages=ASK, response_format=Place, extra_body=OUTGUARD)
    assert resp.choices[0].message.parsed == Place(city="Paris")
    first = upstream.requests[0]["body"]["response_format"]
    assert first["type"] == "json_schema" and first["json_schema"]["name"] == "Place"
    assert "/city" in upstream.requests[1]["body"]["messages"][-1]["content"]


def test_every_message_shape_passes_through(server: Server, upstream: FakeOpenAI) -> None:
    messages: Any = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    upstream.add(Good("It is sunny in Paris."))
    resp = _client(server).chat.completions.create(model="x", messages=messages, tools=TOOLS, extra_body=OUTGUARD)
    assert resp.choices[0].message.content == "It is sunny in Paris."
    assert upstream.requests[0]["body"]["messages"] == messages


def test_an_upstream_outage_is_an_error_the_client_can_tell_apart(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(*[Status(503) for _ in range(3)])
    with pytest.raises(openai.InternalServerError) as caught:
        _client(server).chat.completions.create(model="x", messages=ASK, extra_body=OUTGUARD)
    assert caught.value.status_code == 503
    body: Any = caught.value.body
    assert body["code"] == "upstream_unavailable"
    assert caught.value.response.json()["outguard"]["source"] == "error"


def test_a_streamed_outage_raises_in_the_sdk(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(*[Status(500) for _ in range(3)])
    stream = _client(server).chat.completions.create(model="x", messages=ASK, stream=True, extra_body=OUTGUARD)
    with pytest.raises(openai.APIError, match="upstream LLM failed"):
        list(stream)


def test_n_choices_are_each_guarded(server: Server, upstream: FakeOpenAI) -> None:
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "place", "schema": CITY}}
    upstream.add(Choices(['{"city": "Oslo"}', '{"town": "Paris"}'], usage=(10, 6)), Good('{"city": "Paris"}'))
    resp = _client(server).chat.completions.create(
        model="x", messages=ASK, n=2, response_format=fmt, extra_body=OUTGUARD
    )
    assert [c.message.content for c in resp.choices] == ['{"city": "Oslo"}', '{"city": "Paris"}']
    assert [c.index for c in resp.choices] == [0, 1]
    assert upstream.requests[0]["body"]["n"] == 2
    assert "n" not in upstream.requests[1]["body"]  # the failing choice alone is regenerated
    assert resp.usage is not None and resp.usage.total_tokens == 16 + 17
    sources = [c["source"] for c in (resp.model_extra or {})["outguard"]["choices"]]
    assert sources == ["primary", "primary"]


def test_a_withheld_answer_is_described_never_quoted(server: Server, upstream: FakeOpenAI) -> None:
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "place", "schema": CITY}}
    upstream.add(*[Good('{"town": "Atlantis-7731"}') for _ in range(3)])
    resp = _client(server).chat.completions.create(model="x", messages=ASK, response_format=fmt, extra_body=OUTGUARD)
    assert resp.choices[0].finish_reason == "content_filter"
    outguard = (resp.model_extra or {})["outguard"]
    assert outguard["source"] == "last_resort" and outguard["verdict"] == "regenerate"
    assert "JSON030" in {f["code"] for f in outguard["report"]["findings"]}  # the rejected answer, not the apology
    assert "Atlantis" not in resp.model_dump_json()


NODE_DIR = Path(__file__).parent / "node"
_NODE_READY = shutil.which("node") is not None and (NODE_DIR / "node_modules" / "openai").is_dir()
# Under CI (.ci/run sets CI=true) .ci/setup has installed the SDK: a missing one fails instead of skipping.
needs_node = pytest.mark.skipif(
    not _NODE_READY and os.environ.get("CI") != "true",
    reason="the openai npm SDK: `npm ci` in tests/service/node (.ci/setup does it)",
)


def _node(server: Server, mode: str) -> Any:
    done = subprocess.run(
        ["node", str(NODE_DIR / "client.mjs"), f"{server.url}/v1", KEYS["validate"], mode],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@needs_node
def test_node_sdk_streams(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Sse(["It is ", "sunny in ", "Paris today."], usage=(9, 4)))
    seen = _node(server, "stream")
    assert seen == {
        "text": "It is sunny in Paris today.",
        "finish": "stop",
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }


@needs_node
def test_node_sdk_tool_call(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(tool_calls(("call_1", "get_weather", '{"city": "Paris",}')))
    seen = _node(server, "tools")
    assert seen["finish"] == "tool_calls"
    assert seen["calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert "outguard" not in upstream.requests[0]["body"]


def test_a_user_message_without_content_is_a_clear_422(server: Server, upstream: FakeOpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError, match="only an assistant message may omit it"):
        _client(server).chat.completions.create(model="x", messages=[{"role": "user"}], extra_body=OUTGUARD)  # type: ignore[list-item,typeddict-item]
    assert upstream.requests == []
