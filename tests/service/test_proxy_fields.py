"""Every Chat Completions request field and message shape, sent through the official `openai` Python SDK to a real
sidecar (loopback) in front of the scripted upstream: what the upstream received, and what the SDK user got back.
This is the evidence behind the table in docs/openai-proxy.md; the rows test_openai_sdk.py covers are not repeated.

Where the proxy was not yet a drop-in (a field swallowed or a part of the answer lost) the tests say what OpenAI
clients expect; they were strict xfails until the proxy did it (a new gap should be one too, and the page say so).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.guard.fake_openai import FakeOpenAI, Good, Message, Raw, Slow, Sse, Status, serve
from tests.service.conftest import KEYS
from tests.service.server import Server, running_server

DEFAULT: Any = {"outguard": {"policy": "default"}}
FAST: Any = {"outguard": {"policy": "fields-fast"}}  # demo rules, 1 s budget: for the 504
ASK: Any = [{"role": "user", "content": "Weather in Paris?"}]
CARD = "4111 1111 1111 1111"
PDF = "data:application/pdf;base64,JVBERi0="


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def server(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fields")
    (tmp / "rules" / "policies").mkdir(parents=True)
    (tmp / "rules" / "policies" / "fields-fast.yaml").write_text(
        'name: fields-fast\nversion: "1"\nrules: ["pack:demo"]\nregeneration: {max_seconds: 1}\n', encoding="utf-8"
    )
    with running_server(
        tmp,
        *("--upstream-url", fake.url, "--upstream-model", "fake-model"),
        *("--policy", "default", "--policy", "fields-fast", "--rules", str(tmp / "rules")),
    ) as srv:
        yield srv


@pytest.fixture
def upstream(fake: FakeOpenAI) -> FakeOpenAI:
    fake.script.clear()
    fake.requests.clear()
    return fake


def sdk(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEYS["validate"], max_retries=0, timeout=60)


def sent(upstream: FakeOpenAI, i: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = upstream.requests[i]["body"]
    return body


# -- request fields --------------------------------------------------------------------------------


def test_every_optional_request_field_reaches_the_upstream_unchanged(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good("It is sunny in Paris."))
    fields: Any = {
        "top_p": 0.9,
        "max_tokens": 50,
        "max_completion_tokens": 60,
        "stop": ["\n\n", "END"],
        "logprobs": True,
        "top_logprobs": 2,
        "presence_penalty": 0.1,
        "frequency_penalty": -0.2,
        "logit_bias": {"50256": -100},
        "user": "user-42",
        "metadata": {"team": "support"},
        "store": True,
        "service_tier": "flex",
        "modalities": ["text"],
        "prediction": {"type": "content", "content": "It is sunny"},
        "reasoning_effort": "low",
        "temperature": 1.3,
        "seed": 11,
        "verbosity": "low",
        "web_search_options": {},
        "safety_identifier": "hash-42",
        "prompt_cache_key": "support-bot",
        "prompt_cache_retention": "24h",
        "prompt_cache_options": {"mode": "explicit"},
        "moderation": {"policy": {"output": {"mode": "score"}}},
    }
    unknown = {"x_vendor_flag": {"nested": [1, None]}, "guided_json": {"type": "object"}}
    resp = sdk(server).chat.completions.create(model="gpt-x", messages=ASK, **fields, extra_body={**DEFAULT, **unknown})
    assert resp.choices[0].message.content == "It is sunny in Paris."
    # Nothing added, nothing dropped, nothing rewritten but `model`; `outguard` (the proxy's own) never goes on.
    assert sent(upstream) == {"model": "fake-model", "messages": ASK, **fields, **unknown}


@pytest.mark.parametrize("stream", [False, True])
def test_audio_output_is_refused_up_front_naming_the_field(server: Server, upstream: FakeOpenAI, stream: bool) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(server).chat.completions.create(
            model="x", messages=ASK, modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"},
            stream=stream, extra_body=DEFAULT,
        )  # fmt: skip
    error = caught.value.response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (
        "modalities",
        "unsupported_modality",
        "invalid_request_error",
    )
    assert "audio" in error["message"]
    assert upstream.requests == []  # nothing asked, nothing paid


def test_every_role_and_content_part_reaches_the_upstream_unchanged(server: Server, upstream: FakeOpenAI) -> None:
    messages: Any = [
        {"role": "developer", "content": [{"type": "text", "text": "Answer in one line."}]},
        {"role": "system", "content": "Be brief.", "name": "house-rules"},
        {
            "role": "user",
            "name": "ana",
            "content": [
                {"type": "text", "text": "What is in this picture and this clip?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "file", "file": {"filename": "notes.pdf", "file_data": PDF}},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}, {"type": "refusal", "refusal": "No."}]},
        {"role": "assistant", "content": None, "audio": {"id": "audio_abc"}},
        {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": "{}"}},
        {"role": "function", "name": "lookup", "content": "a cat"},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "sunny"}]},
        {"role": "user", "content": "Thanks. And the weather?"},
    ]
    upstream.add(Good("Sunny."))
    resp = sdk(server).chat.completions.create(model="x", messages=messages, extra_body=DEFAULT)
    assert resp.choices[0].message.content == "Sunny."
    assert sent(upstream)["messages"] == messages


def test_a_message_shape_the_api_refuses_is_a_422_before_any_upstream_call(
    server: Server, upstream: FakeOpenAI
) -> None:
    bad: Any = [{"role": "user", "content": {"text": "an object is not a content"}}]
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk(server).chat.completions.create(model="x", messages=bad, extra_body=DEFAULT)
    fields = {d["field"] for d in caught.value.response.json()["error"]["details"]}
    assert any(f.startswith("body.messages.0.content") for f in fields)
    assert upstream.requests == []


def test_tool_choice_forms_are_sent_as_given(server: Server, upstream: FakeOpenAI) -> None:
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    allowed = {
        "type": "allowed_tools",
        "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "function": {"name": "get_weather"}}]},
    }
    choices: Any = ["none", "required", {"type": "function", "function": {"name": "get_weather"}}, allowed]
    for choice in choices:
        upstream.add(Good("Sunny."))
        sdk(server).chat.completions.create(
            model="x", messages=ASK, tools=tools, tool_choice=choice, parallel_tool_calls=False, extra_body=DEFAULT
        )
        body = upstream.requests[-1]["body"]
        assert (body["tool_choice"], body["parallel_tool_calls"], body["tools"]) == (choice, False, tools)


def test_response_format_text_is_sent_and_checks_nothing_json(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good("Paris is sunny."))
    resp = sdk(server).chat.completions.create(
        model="x", messages=ASK, response_format={"type": "text"}, extra_body=DEFAULT
    )
    assert resp.choices[0].message.content == "Paris is sunny."
    assert sent(upstream)["response_format"] == {"type": "text"}
    assert len(upstream.requests) == 1


def test_json_object_regenerates_non_json_resending_the_callers_parameters(
    server: Server, upstream: FakeOpenAI
) -> None:
    upstream.add(Good("Paris, I think."), Good('{"city": "Paris"}'))
    resp = sdk(server).chat.completions.create(
        model="x", messages=ASK, response_format={"type": "json_object"}, temperature=0.7, seed=3, top_p=0.5,
        extra_body=DEFAULT,
    )  # fmt: skip
    assert resp.choices[0].message.content == '{"city": "Paris"}'
    assert (resp.model_extra or {})["outguard"]["attempts"] == 2
    first, retry = sent(upstream, 0), sent(upstream, 1)
    assert {k: first[k] for k in ("temperature", "seed", "top_p")} == {"temperature": 0.7, "seed": 3, "top_p": 0.5}
    # The regeneration: every parameter again, temperature from the policy (`regeneration.temperature`: 0).
    assert {k: retry[k] for k in ("temperature", "seed", "top_p")} == {"temperature": 0.0, "seed": 3, "top_p": 0.5}
    assert retry["response_format"] == {"type": "json_object"}
    assert retry["messages"][: len(ASK)] == ASK and retry["messages"][-1]["role"] == "user"


def test_length_finish_reason_is_the_providers(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Message({"role": "assistant", "content": "It is sunny in"}, finish_reason="length"))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, max_completion_tokens=4, extra_body=DEFAULT)
    assert resp.choices[0].finish_reason == "length"
    assert resp.choices[0].message.content == "It is sunny in"  # a cut answer is checked as it is


def test_stream_options_without_stream_is_passed_on_for_the_upstream_to_judge(
    server: Server, upstream: FakeOpenAI
) -> None:
    upstream.add(Good("Sunny."))
    sdk(server).chat.completions.create(
        model="x", messages=ASK, stream_options={"include_usage": True}, extra_body=DEFAULT
    )
    assert sent(upstream)["stream_options"] == {"include_usage": True}
    assert "stream" not in sent(upstream)  # a plain request sends no `stream` at all


# -- the answer --------------------------------------------------------------------------------------

UPSTREAM_ANSWER = {
    "id": "chatcmpl-upstream",
    "object": "chat.completion",
    "created": 1,
    "model": "fake-model-2025-01-01",
    "system_fingerprint": "fp_123",
    "service_tier": "default",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "It is sunny.", "refusal": None, "annotations": []},
            "logprobs": {"content": [{"token": "It", "logprob": -0.1, "bytes": [73, 116], "top_logprobs": []}]},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 1},
    },
}


def test_the_answer_is_the_proxys_own_completion(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Raw(json.dumps(UPSTREAM_ANSWER).encode()))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, extra_body=DEFAULT)
    assert resp.id.startswith("chatcmpl-og-") and resp.object == "chat.completion"
    assert resp.model == "fake-model"  # the configured upstream model, not the one the caller named
    assert resp.choices[0].message.content == "It is sunny."
    # The upstream's fingerprint, tier and token details come through.
    assert (resp.system_fingerprint, resp.service_tier) == ("fp_123", "default")
    assert resp.usage is not None and resp.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }
    outguard = (resp.model_extra or {})["outguard"]
    assert set(outguard) == {"verdict", "source", "attempts", "review_id", "report"}
    assert (outguard["verdict"], outguard["source"], outguard["attempts"]) == ("pass", "primary", 1)


def test_a_review_answer_without_a_hold_is_delivered_as_content_filter(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Good("Take 400 mg twice a day."))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, extra_body=FAST)
    assert resp.choices[0].finish_reason == "content_filter"
    assert resp.choices[0].message.content == "Take 400 mg twice a day."  # the text still reaches the client
    outguard = (resp.model_extra or {})["outguard"]
    assert outguard["verdict"] == "review" and outguard["review_id"]


def test_all_attempts_failing_is_a_502_upstream_error(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(*[Status(500) for _ in range(3)])  # the proxy's client retries twice: one attempt, three calls
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(server).chat.completions.create(model="x", messages=ASK, extra_body=DEFAULT)
    assert caught.value.status_code == 502
    error = caught.value.response.json()
    assert error["error"]["code"] == "upstream_error" and error["error"]["type"] == "upstream_error"
    assert error["outguard"] == {"source": "error", "verdict": None, "attempts": 1, "review_id": None}


def test_a_run_out_of_time_is_a_504_upstream_timeout(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Slow(5, Good("too late")))
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(server).chat.completions.create(model="x", messages=ASK, extra_body=FAST)
    assert caught.value.status_code == 504
    assert caught.value.response.json()["error"]["code"] == "upstream_timeout"


def test_an_audio_answer_never_reaches_the_client_unchecked(server: Server, upstream: FakeOpenAI) -> None:
    # An upstream that answers with audio unasked (the proxy refuses requests for it): the transcript is not
    # checked, so the audio is not delivered at all; the answer is empty, not a leak.
    audio = {"id": "audio_1", "data": "UklGRg==", "expires_at": 1, "transcript": f"Your card is {CARD}."}
    upstream.add(Message({"role": "assistant", "content": None, "audio": audio}, finish_reason="stop"))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, audio={"voice": "alloy"}, extra_body=DEFAULT)
    assert CARD not in resp.model_dump_json()
    assert resp.choices[0].message.audio is None and resp.choices[0].message.content == ""


# -- what the upstream said besides the text: logprobs, refusals, legacy and custom calls -------------------


def answer(message: dict[str, Any], logprobs: Any = None, details: int = 1, finish: str = "stop") -> Raw:
    """A whole upstream completion, with logprobs and token details."""
    body = {
        **UPSTREAM_ANSWER,
        "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 3,
            "total_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 2 * details, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": details},
        },
    }
    return Raw(json.dumps(body).encode())


def logprobs_of(token: str) -> dict[str, Any]:
    return {"content": [{"token": token, "logprob": -0.5, "bytes": list(token.encode()), "top_logprobs": []}]}


def test_logprobs_come_back(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Raw(json.dumps(UPSTREAM_ANSWER).encode()))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, logprobs=True, extra_body=DEFAULT)
    assert resp.choices[0].logprobs is not None
    assert resp.choices[0].logprobs.model_dump(exclude_none=True) == UPSTREAM_ANSWER["choices"][0]["logprobs"]


def test_logprobs_of_a_regenerated_answer_are_its_own_and_usage_details_are_summed(
    server: Server, upstream: FakeOpenAI
) -> None:
    upstream.add(
        answer({"role": "assistant", "content": "Paris, I think."}, logprobs_of("Paris"), details=1),
        answer({"role": "assistant", "content": '{"city": "Paris"}'}, logprobs_of("{"), details=2),
    )
    resp = sdk(server).chat.completions.create(
        model="x", messages=ASK, response_format={"type": "json_object"}, logprobs=True, extra_body=DEFAULT
    )
    assert resp.choices[0].message.content == '{"city": "Paris"}'
    assert resp.choices[0].logprobs is not None and resp.choices[0].logprobs.content is not None
    assert resp.choices[0].logprobs.content[0].token == "{"  # the delivered attempt's, not the rejected one's
    assert resp.usage is not None
    assert resp.usage.prompt_tokens_details is not None and resp.usage.completion_tokens_details is not None
    assert (resp.usage.prompt_tokens_details.cached_tokens, resp.usage.prompt_tokens_details.audio_tokens) == (6, 0)
    assert resp.usage.completion_tokens_details.reasoning_tokens == 3
    assert resp.usage.total_tokens == 16


def test_logprobs_are_null_after_a_repair(server: Server, upstream: FakeOpenAI) -> None:
    # They describe tokens the client is not shown (the card number the repair masked): none rather than wrong.
    upstream.add(answer({"role": "assistant", "content": f"Your card is {CARD}."}, logprobs_of("Your")))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, logprobs=True, extra_body=DEFAULT)
    assert (resp.model_extra or {})["outguard"]["source"] == "repaired"
    assert CARD not in (resp.choices[0].message.content or "")
    assert resp.choices[0].logprobs is None


def test_a_refusal_comes_back_as_a_refusal(server: Server, upstream: FakeOpenAI) -> None:
    upstream.add(Message({"role": "assistant", "content": None, "refusal": "I can't help."}, finish_reason="stop"))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, extra_body=DEFAULT)
    assert resp.choices[0].message.refusal == "I can't help."
    assert resp.choices[0].message.content is None and resp.choices[0].finish_reason == "stop"
    assert (resp.model_extra or {})["outguard"]["verdict"] == "pass"


def test_a_structured_outputs_refusal_is_delivered_not_regenerated(server: Server, upstream: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    refusal = {"role": "assistant", "content": None, "refusal": "I'm sorry, I cannot help with that request."}
    upstream.add(answer(refusal, {"content": None, "refusal": [{"token": "I", "logprob": -0.1}]}))
    resp = sdk(server).chat.completions.create(
        model="x", messages=ASK, extra_body=DEFAULT,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}},
    )  # fmt: skip
    assert len(upstream.requests) == 1  # one call: a refusal is not a broken JSON answer
    assert resp.choices[0].message.refusal == refusal["refusal"] and resp.choices[0].message.content is None
    assert resp.choices[0].logprobs is not None and resp.choices[0].logprobs.refusal is not None
    outguard = (resp.model_extra or {})["outguard"]
    assert (outguard["verdict"], outguard["attempts"]) == ("pass", 1)
    # The refusal rule saw it, and stood down: the API already says it is a refusal.
    assert [f["status"] for f in outguard["report"]["findings"] if f["code"] == "REF002"] == ["suppressed"]


def test_a_refusal_is_checked_like_any_output(server: Server, upstream: FakeOpenAI) -> None:
    text = f"I can't charge the card {CARD} again."
    upstream.add(Message({"role": "assistant", "content": None, "refusal": text}, finish_reason="stop"))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, extra_body=DEFAULT)
    refusal = resp.choices[0].message.refusal or ""
    assert refusal.startswith("I can't charge the card ") and CARD not in resp.model_dump_json()
    assert (resp.model_extra or {})["outguard"]["verdict"] == "repaired"


LOOKUP: Any = [{"name": "lookup", "parameters": {"type": "object", "required": ["q"], "properties": {"q": {}}}}]


def test_a_legacy_function_call_comes_back(server: Server, upstream: FakeOpenAI) -> None:
    call = {"name": "lookup", "arguments": '{"q": "cat"}'}
    upstream.add(Message({"role": "assistant", "content": None, "function_call": call}, finish_reason="function_call"))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, functions=LOOKUP, extra_body=DEFAULT)
    assert resp.choices[0].finish_reason == "function_call"
    assert resp.choices[0].message.function_call is not None
    assert resp.choices[0].message.function_call.model_dump() == call


def test_a_legacy_function_call_is_checked_against_its_parameters(server: Server, upstream: FakeOpenAI) -> None:
    bad = {"name": "lookup", "arguments": '{"query": "cat"}'}
    good = {"name": "lookup", "arguments": '{"q": "cat"}'}
    upstream.add(
        *[
            Message({"role": "assistant", "content": None, "function_call": c}, finish_reason="function_call")
            for c in (bad, good)
        ]
    )
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, functions=LOOKUP, extra_body=DEFAULT)
    assert resp.choices[0].message.function_call is not None
    assert resp.choices[0].message.function_call.arguments == good["arguments"]
    assert len(upstream.requests) == 2
    feedback = sent(upstream, 1)["messages"][-1]["content"]
    assert "`lookup`" in feedback and sent(upstream, 1)["functions"] == LOOKUP


def test_a_custom_tool_call_comes_back(server: Server, upstream: FakeOpenAI) -> None:
    tools: Any = [{"type": "custom", "custom": {"name": "run_sql", "description": "SQL, as text"}}]
    call = {"id": "c1", "type": "custom", "custom": {"name": "run_sql", "input": "select 1"}}
    upstream.add(*[Message({"role": "assistant", "content": None, "tool_calls": [call]}) for _ in range(3)])
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, tools=tools, extra_body=DEFAULT)
    assert resp.choices[0].finish_reason == "tool_calls"
    assert len(upstream.requests) == 1
    calls = resp.choices[0].message.tool_calls or []
    assert [c.model_dump(exclude_none=True) for c in calls] == [call]


def test_a_custom_tool_input_is_checked_as_text(server: Server, upstream: FakeOpenAI) -> None:
    tools: Any = [{"type": "custom", "custom": {"name": "note", "description": "free text"}}]
    call = {"id": "c1", "type": "custom", "custom": {"name": "note", "input": f"card {CARD} on file"}}
    upstream.add(Message({"role": "assistant", "content": None, "tool_calls": [call]}))
    resp = sdk(server).chat.completions.create(model="x", messages=ASK, tools=tools, extra_body=DEFAULT)
    assert CARD not in resp.model_dump_json()
    (delivered,) = resp.choices[0].message.model_dump()["tool_calls"]
    assert delivered["custom"]["input"].startswith("card ") and delivered["custom"]["input"].endswith(" on file")
    assert (resp.model_extra or {})["outguard"]["source"] == "repaired"


# The attack side (each field alone and all at once, streamed too, changing nothing in outguard's behaviour) is
# tests/security/test_proxy_param_smuggling.py.
@pytest.mark.parametrize("field", ["context", "messages_or_prompt", "timeout"])
def test_unknown_fields_named_like_guard_arguments_pass_through(
    server: Server, upstream: FakeOpenAI, field: str
) -> None:
    upstream.add(Good("Sunny."))
    value: Any = {"context": {"a": 1}, "messages_or_prompt": "hi", "timeout": 0.001}[field]
    sdk(server).chat.completions.create(model="x", messages=ASK, extra_body={**DEFAULT, field: value})
    assert sent(upstream)[field] == value


def test_a_streamed_release_field_passes_through(server: Server, upstream: FakeOpenAI) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEYS['validate']}"}) as c:
        body = {"model": "x", "messages": ASK, "stream": True, "release": "final", **DEFAULT}
        upstream.add(Sse(["Sunny ", "today."]))
        c.post("/v1/chat/completions", json=body, timeout=60).read()
    assert sent(upstream).get("release") == "final"


def sse(deltas: list[dict[str, Any]], finish: str = "stop") -> Raw:
    """A stream as OpenAI sends it: one chunk per delta, then one with the finish reason, then [DONE]."""
    choices = [{"index": 0, "delta": d} for d in deltas] + [{"index": 0, "delta": {}, "finish_reason": finish}]
    events = [{"id": "c", "object": "chat.completion.chunk", "choices": [c]} for c in choices]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return Raw(body.encode(), content_type="text/event-stream")


def refusal_stream(*pieces: str) -> Raw:
    """A streamed structured-outputs refusal: `delta.refusal` pieces, no content."""
    return sse([{"role": "assistant", "content": None, "refusal": ""}, *({"refusal": p} for p in pieces)])


@pytest.mark.parametrize("release", ["final", "cleared"])
def test_a_streamed_refusal_comes_back_as_refusal_deltas(server: Server, upstream: FakeOpenAI, release: str) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    upstream.add(refusal_stream("I'm sorry, ", "I cannot help with that."))
    stream = sdk(server).chat.completions.create(
        model="x", messages=ASK, stream=True, extra_body=DEFAULT, extra_headers={"X-Outguard-Release": release},
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )  # fmt: skip
    chunks = [c for c in stream if c.choices]
    refusal = "".join(c.choices[0].delta.refusal or "" for c in chunks)
    assert refusal == "I'm sorry, I cannot help with that."
    assert not "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(upstream.requests) == 1  # delivered, not regenerated as an empty JSON answer


def test_a_streamed_legacy_function_call_is_assembled_checked_and_sent(server: Server, upstream: FakeOpenAI) -> None:
    pieces = [
        {"function_call": {"name": "lookup", "arguments": ""}},
        *({"function_call": {"arguments": a}} for a in ('{"q"', ': "cat"}')),
    ]
    upstream.add(sse([{"role": "assistant", "content": None}, *pieces], finish="function_call"))
    stream = sdk(server).chat.completions.create(
        model="x", messages=ASK, functions=LOOKUP, stream=True, extra_body=DEFAULT
    )
    chunks = [c for c in stream if c.choices]
    calls = [c.choices[0].delta.function_call for c in chunks if c.choices[0].delta.function_call]
    assert [(fc.name, fc.arguments) for fc in calls] == [("lookup", '{"q": "cat"}')]
    assert chunks[-1].choices[0].finish_reason == "function_call"


def test_a_streamed_custom_tool_call_is_assembled_checked_and_sent(server: Server, upstream: FakeOpenAI) -> None:
    tools: Any = [{"type": "custom", "custom": {"name": "note"}}]
    first = {"index": 0, "id": "c1", "type": "custom", "custom": {"name": "note", "input": "card "}}
    rest = [{"index": 0, "custom": {"input": p}} for p in (CARD[:9], CARD[9:], " noted")]
    upstream.add(
        sse([{"role": "assistant", "content": None}, *({"tool_calls": [d]} for d in [first, *rest])], "tool_calls")
    )
    stream = sdk(server).chat.completions.create(model="x", messages=ASK, tools=tools, stream=True, extra_body=DEFAULT)
    chunks = [c for c in stream if c.choices]
    calls = [call.model_dump() for c in chunks for call in c.choices[0].delta.tool_calls or []]
    assert [(c["id"], c["type"], c["custom"]["name"]) for c in calls] == [("c1", "custom", "note")]
    assert calls[0]["custom"]["input"].startswith("card ") and CARD not in calls[0]["custom"]["input"]
    assert chunks[-1].choices[0].finish_reason == "tool_calls" and len(upstream.requests) == 1
