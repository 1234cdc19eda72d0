"""Structured outputs, tool calls, release modes and streaming LLM objects in the Guard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from guardrails import Engine
from guardrails.findings import Verdict
from guardrails.guard import Guard, LLMResponse, StreamEvent

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "place", "schema": CITY, "strict": True}}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": CITY}}]


@pytest.fixture(scope="module")
def eng() -> Engine:
    return Engine.from_policy("default")


class Replies:
    """An LLM answering from a script of LLMResponses or strings, recording each call."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.calls: list[dict[str, Any]] = []

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> Any:
        self.calls.append({"messages": messages, "params": params})
        return self.replies.pop(0)


def _tool_answer(*arguments: str) -> LLMResponse:
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": "get_weather", "arguments": a}}
        for i, a in enumerate(arguments)
    ]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    return LLMResponse(text="", message=message, finish_reason="tool_calls")


def test_response_format_json_schema_is_the_schema_the_checks_use(eng: Engine) -> None:
    llm = Replies(['{"town": "Paris"}', '{"city": "Paris"}'])
    result = Guard(eng, llm).run("Where?", response_format=RESPONSE_FORMAT)
    assert result.output == '{"city": "Paris"}' and result.source == "primary"
    assert [a.verdict for a in result.attempts] == [Verdict.REGENERATE, Verdict.PASS]
    assert llm.calls[0]["params"] == {"response_format": RESPONSE_FORMAT}  # sent on, as given
    assert "/city" in llm.calls[1]["messages"][-1]["content"]


def test_json_object_means_json(eng: Engine) -> None:
    llm = Replies(["Paris, I think.", '{"city": "Paris"}'])
    result = Guard(eng, llm).run("Where?", response_format={"type": "json_object"})
    assert result.output == '{"city": "Paris"}' and len(result.attempts) == 2


def test_tool_call_arguments_are_repaired_with_safe_fixes(eng: Engine) -> None:
    result = Guard(eng, Replies([_tool_answer('{"city": "Paris",}')])).run("Weather?", tools=TOOLS)
    assert result.source == "repaired" and result.message is not None
    assert result.message["content"] is None
    assert result.message["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert result.message["tool_calls"][0]["id"] == "call_0" and result.finish_reason == "tool_calls"
    assert [c.verdict for c in result.tool_calls] == [Verdict.REPAIRED]


def test_a_bad_tool_call_is_regenerated_with_feedback_naming_tool_call_and_pointer(eng: Engine) -> None:
    llm = Replies([_tool_answer('{"city": "Oslo"}', '{"town": "Paris"}'), _tool_answer('{"city": "Oslo"}')])
    result = Guard(eng, llm).run("Weather?", tools=TOOLS, parallel_tool_calls=True)
    assert [a.verdict for a in result.attempts] == [Verdict.REGENERATE, Verdict.PASS]
    feedback = llm.calls[1]["messages"][-1]["content"]
    assert "Tool call #2 (id call_1) to `get_weather`" in feedback and "/city" in feedback
    assert "call_0" not in feedback  # the good call is not blamed
    # The rejected calls are quoted as text: an assistant message with tool_calls needs tool answers.
    assert "tool_calls" not in llm.calls[1]["messages"][-2]
    assert result.message is not None and len(result.message["tool_calls"]) == 1


def test_a_call_to_a_tool_never_offered_is_regenerated(eng: Engine) -> None:
    rogue = _tool_answer("{}").model_copy()
    assert rogue.message is not None
    rogue.message["tool_calls"][0]["function"]["name"] = "delete_everything"
    llm = Replies([rogue, "It is sunny."])
    result = Guard(eng, llm).run("Weather?", tools=TOOLS)
    assert result.output == "It is sunny." and result.attempts[0].verdict is Verdict.REGENERATE
    assert "no such tool" in llm.calls[1]["messages"][-1]["content"]


class SyncStreamer:
    """A custom LLM object with only a sync `stream()`: what a user writes around a vendor SDK."""

    name = "custom"

    def __init__(self, deltas: list[str]) -> None:
        self.deltas = deltas
        self.params: list[dict[str, Any]] = []

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> str:
        raise AssertionError("a streaming LLM must be streamed")

    def stream(self, messages: list[dict[str, Any]], **params: Any) -> Iterator[str]:
        self.params.append(params)
        yield from self.deltas


def _texts(events: list[StreamEvent]) -> list[str]:
    return [e.text or "" for e in events if e.type == "text"]


def test_release_final_is_the_guards_option_never_a_sampling_parameter(eng: Engine) -> None:
    llm = SyncStreamer(["Returns vary ", "with the market."])
    events = list(Guard(eng, llm).stream("Q?", release="final", top_p=0.5))
    assert llm.params == [{"top_p": 0.5}]
    assert _texts(events) == ["Returns vary with the market."]
    assert events[-1].type == "final" and events[-1].result is not None
    assert events[-1].result.output == "Returns vary with the market."


def test_astream_streams_an_llm_with_only_a_sync_stream(eng: Engine) -> None:
    llm = SyncStreamer(["Returns vary ", "with the market. ", "Past results differ."])

    async def collect() -> list[StreamEvent]:
        return [e async for e in Guard(eng, llm).astream("Q?")]

    events = asyncio.run(collect())
    assert llm.params == [{}]
    assert "".join(_texts(events)) == "Returns vary with the market. Past results differ."
    assert events[-1].source == "primary"


def test_streamed_tool_calls_are_checked_before_release(eng: Engine) -> None:
    class ToolStream:
        name = "tools"

        def __init__(self) -> None:
            self.stats = _Stats()

        def __iter__(self) -> Iterator[str]:
            return iter(())

    class _Stats:
        model = "m"
        finish_reason = "tool_calls"

        def message(self, text: str) -> dict[str, Any]:
            call = {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Oslo",}'},
            }
            return {"role": "assistant", "content": None, "tool_calls": [call]}

    class Streamer:
        def __call__(self, messages: Any, **params: Any) -> str:
            raise AssertionError("streamed")

        def stream(self, messages: Any, **params: Any) -> ToolStream:
            return ToolStream()

    events = list(Guard(eng, Streamer()).stream("Weather?", tools=TOOLS))
    final = events[-1].result
    assert final is not None and final.message is not None
    assert json.loads(final.message["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}
    assert final.message["tool_calls"][0]["function"]["arguments"] == '{"city":"Oslo"}'
