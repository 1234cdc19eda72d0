"""What the Guard hands the LLM (the request's fields as one mapping) and what it keeps of the answer besides text:
logprobs, fingerprint, tier, usage details, declared refusals, legacy function calls and custom tool calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from guardrails import Engine
from guardrails.findings import FindingStatus, Verdict
from guardrails.guard import Guard, LLMResponse, OpenAIChatClient, Usage
from tests.guard.fake_openai import FakeOpenAI, Good, Message, Sse, serve
from tests.service.test_proxy_fields import refusal_stream

ASK = [{"role": "user", "content": "Weather in Paris?"}]
CARD = "4111 1111 1111 1111"
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "place", "schema": CITY}}
# Names a Guard run or the upstream client takes as its own.
SMUGGLED: dict[str, Any] = {"timeout": 0.001, "context": {"canaries": ["Sunny"]}, "messages_or_prompt": "x"}


@pytest.fixture(scope="module")
def eng() -> Engine:
    return Engine.from_policy("default")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


@pytest.fixture
def upstream(fake: FakeOpenAI) -> FakeOpenAI:
    fake.script.clear()
    fake.requests.clear()
    return fake


class Replies:
    """A plain callable LLM `(messages, **params)` answering from a script, recording each call's parameters."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.params: list[dict[str, Any]] = []

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> Any:
        self.params.append(params)
        return self.replies.pop(0)


def _message(**message: Any) -> LLMResponse:
    return LLMResponse(text="", message={"role": "assistant", "content": None, **message})


# -- the request's fields -----------------------------------------------------------------------------


def test_upstream_params_reach_the_upstream_whatever_their_names(eng: Engine, upstream: FakeOpenAI) -> None:
    upstream.add(Good("Sunny."), Good("Sunny."))
    client = OpenAIChatClient(upstream.url, "fake-model", max_retries=0)
    guard = Guard(eng, client)

    async def arun() -> None:
        await guard.arun(ASK, upstream_params=SMUGGLED)
        await client.aclose()

    with client:
        result = guard.run(ASK, upstream_params=SMUGGLED)
    asyncio.run(arun())
    assert (result.output, result.report.verdict) == ("Sunny.", Verdict.PASS)  # the canary was not the context's
    for request in upstream.requests:
        assert request["body"] == {"model": "fake-model", "messages": ASK, **SMUGGLED}
    assert len(upstream.requests) == 2


def test_streamed_upstream_params_named_release_and_timeout_reach_the_upstream(
    eng: Engine, upstream: FakeOpenAI
) -> None:
    upstream.add(Sse(["Sunny ", "today."]))
    with OpenAIChatClient(upstream.url, "fake-model", max_retries=0) as client:
        events = list(
            Guard(eng, client).stream(ASK, release="final", upstream_params={"release": "cleared", **SMUGGLED})
        )
    assert [e.text for e in events if e.type == "text"] == ["Sunny today."]  # the Guard's release: final
    body = upstream.requests[0]["body"]
    assert (body["release"], body["timeout"], body["context"], body["stream"]) == (
        "cleared",
        0.001,
        {"canaries": ["Sunny"]},
        True,
    )


def test_a_plain_callable_still_gets_keyword_parameters(eng: Engine) -> None:
    llm = Replies("Sunny.", "Sunny.")
    Guard(eng, llm).run(ASK, temperature=0.3, upstream_params={"seed": 4})
    asyncio.run(Guard(eng, llm).arun(ASK, seed=1, upstream_params={"seed": 4}))
    assert llm.params == [{"temperature": 0.3, "seed": 4}, {"seed": 4}]  # the mapping wins over keywords


# -- the answer besides its text ----------------------------------------------------------------------------


def test_logprobs_fingerprint_and_tier_of_the_delivered_attempt(eng: Engine) -> None:
    first = LLMResponse(text="Paris, I think.", logprobs={"content": [{"token": "Paris"}]}, system_fingerprint="a")
    second = LLMResponse(
        text='{"city": "Paris"}', logprobs={"content": [{"token": "{"}]}, system_fingerprint="b", service_tier="flex"
    )
    result = Guard(eng, Replies(first, second)).run(ASK, response_format=RESPONSE_FORMAT)
    assert result.output == '{"city": "Paris"}' and len(result.attempts) == 2
    assert result.logprobs == {"content": [{"token": "{"}]}
    assert (result.system_fingerprint, result.service_tier) == ("b", "flex")


def test_no_logprobs_after_a_repair(eng: Engine) -> None:
    reply = LLMResponse(text=f"Your card is {CARD}.", logprobs={"content": [{"token": "Your"}]})
    result = Guard(eng, Replies(reply)).run(ASK)
    assert result.source == "repaired" and CARD not in result.output
    assert result.logprobs is None


def test_usage_details_are_summed_over_attempts() -> None:
    a = Usage(prompt_tokens=5, prompt_tokens_details={"cached_tokens": 2}, completion_tokens_details=None)
    b = Usage(prompt_tokens=5, prompt_tokens_details={"cached_tokens": 1, "audio_tokens": 3})
    total = a + b + Usage()
    assert total.prompt_tokens_details == {"cached_tokens": 3, "audio_tokens": 3}
    assert total.model_dump() == {
        "prompt_tokens": 10,
        "completion_tokens": 0,
        "total_tokens": 0,
        "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": 3},
    }
    assert Usage(prompt_tokens=1).model_dump() == {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 0}


def test_annotations_kept_for_the_providers_text_and_unchecked_keys_never_delivered(eng: Engine) -> None:
    note = [{"type": "url_citation", "url_citation": {"start_index": 0, "end_index": 5, "url": "https://x.test"}}]
    message = {"role": "assistant", "content": "Sunny.", "annotations": note, "reasoning_content": CARD}
    result = Guard(eng, Replies(LLMResponse(text="Sunny.", message=message))).run(ASK)
    assert result.message == {"role": "assistant", "content": "Sunny.", "annotations": note}
    repaired = {**message, "content": f"Card {CARD}."}
    result = Guard(eng, Replies(LLMResponse(text=f"Card {CARD}.", message=repaired))).run(ASK)
    assert CARD not in result.output and CARD not in str(result.message)
    assert "annotations" not in (result.message or {})  # their offsets index the text before the repair


def test_an_audio_answer_is_delivered_without_its_unchecked_audio(eng: Engine) -> None:
    reply = _message(audio={"id": "a1", "transcript": f"Your card is {CARD}."})
    result = Guard(eng, Replies(reply)).run(ASK)
    assert result.message is None and result.output == ""


# -- refusals ---------------------------------------------------------------------------------------------


def test_a_declared_refusal_is_delivered_once_as_a_refusal(eng: Engine) -> None:
    llm = Replies(_message(refusal="I'm sorry, but I can't help with that."))
    result = Guard(eng, llm).run(ASK, response_format=RESPONSE_FORMAT)
    assert len(llm.params) == 1 and result.source == "primary"
    assert result.output == "I'm sorry, but I can't help with that."
    assert result.message == {"role": "assistant", "content": None, "refusal": result.output}
    assert result.report.verdict is Verdict.PASS
    ref = [f for f in result.report.findings if f.code == "REF002"]
    assert [f.status for f in ref] == [FindingStatus.SUPPRESSED] and result.report.regeneration is None


def test_a_declared_refusal_is_checked_like_any_output(eng: Engine) -> None:
    result = Guard(eng, Replies(_message(refusal=f"I can't charge {CARD}."))).run(ASK)
    assert result.report.verdict is Verdict.REPAIRED and CARD not in result.output
    assert result.message is not None and result.message["refusal"] == result.output


def test_a_refusal_beside_content_is_not_delivered_unchecked(eng: Engine) -> None:
    reply = LLMResponse(text="Sunny.", message={"role": "assistant", "content": "Sunny.", "refusal": CARD})
    result = Guard(eng, Replies(reply)).run(ASK)
    assert result.output == "Sunny." and CARD not in str(result.message)


# -- legacy function calls and custom tools -------------------------------------------------------------

FUNCTIONS = [{"name": "get_weather", "parameters": CITY}]


def test_a_legacy_function_call_is_kept_and_checked_against_its_parameters(eng: Engine) -> None:
    bad, good = (
        _message(function_call={"name": "get_weather", "arguments": '{"town": "Paris"}'}),
        _message(function_call={"name": "get_weather", "arguments": '{"city": "Paris"}'}),
    )
    llm = Replies(bad, good)
    result = Guard(eng, llm).run(ASK, functions=FUNCTIONS)
    assert len(llm.params) == 2 and result.report.verdict is Verdict.PASS
    assert result.message is not None
    assert result.message["function_call"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert [(c.name, c.verdict) for c in result.tool_calls] == [("get_weather", Verdict.PASS)]


def test_a_custom_tool_call_is_checked_as_text(eng: Engine) -> None:
    tools = [{"type": "custom", "custom": {"name": "note"}}]
    call = {"id": "c1", "type": "custom", "custom": {"name": "note", "input": f"card {CARD} noted"}}
    llm = Replies(_message(tool_calls=[call]))
    result = Guard(eng, llm).run(ASK, tools=tools)
    assert len(llm.params) == 1 and result.source == "repaired"
    assert result.message is not None
    (delivered,) = result.message["tool_calls"]
    assert delivered["custom"]["name"] == "note" and CARD not in delivered["custom"]["input"]


def test_a_call_to_a_custom_tool_never_offered_is_regenerated(eng: Engine) -> None:
    call = {"id": "c1", "type": "custom", "custom": {"name": "rm_rf", "input": "/"}}
    llm = Replies(_message(tool_calls=[call]), "Sunny.")
    result = Guard(eng, llm).run(ASK, tools=[{"type": "custom", "custom": {"name": "note"}}])
    assert len(llm.params) == 2 and result.output == "Sunny."


def test_the_openai_client_reads_what_the_upstream_said_besides_text(upstream: FakeOpenAI) -> None:
    upstream.add(Message({"role": "assistant", "content": None, "refusal": "No."}, finish_reason="stop"))
    with OpenAIChatClient(upstream.url, "fake-model", max_retries=0) as client:
        response = client(ASK)
    assert (response.refusal, response.text, response.function_call) == ("No.", "", None)


def test_a_streamed_refusal_is_no_text_and_arrives_in_the_result(eng: Engine, upstream: FakeOpenAI) -> None:
    with OpenAIChatClient(upstream.url, "fake-model", max_retries=0) as client:
        for release in ("cleared", "final"):
            upstream.add(refusal_stream("I'm sorry, ", "I can't."))
            events = list(Guard(eng, client).stream(ASK, release=release, response_format=RESPONSE_FORMAT))
            assert [e.type for e in events if e.type in ("text", "retract")] == []
            result = events[-1].result
            assert result is not None and result.message is not None
            assert result.message["refusal"] == "I'm sorry, I can't." and result.report.verdict is Verdict.PASS


def test_a_tool_call_answer_carries_no_unchecked_message_keys(eng: Engine) -> None:
    # The message of a tool-call answer used to be copied whole: a vendor's reasoning text or an audio transcript
    # rode along unchecked.
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    reply = _message(tool_calls=[call], reasoning_content=f"card {CARD}", audio={"transcript": CARD})
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": CITY}}]
    result = Guard(eng, Replies(reply)).run(ASK, tools=tools)
    assert result.message == {"role": "assistant", "content": None, "tool_calls": [call]}
