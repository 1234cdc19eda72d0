"""OpenAIChatClient against a real HTTP server on loopback with scripted replies."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from guardrails.findings import Verdict
from guardrails.guard import Budget, Guard, LLMBudgetError, LLMError, StreamValidator, Usage
from guardrails.guard.openai_client import OpenAIChatClient
from tests.guard.fake_openai import Drop, FakeOpenAI, Good, Raw, Slow, Sse, Status, serve
from tests.guard.helpers import engine

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with serve() as server:
        yield server


def client(fake: FakeOpenAI, **kwargs: Any) -> OpenAIChatClient:
    kwargs.setdefault("backoff", 0.01)
    return OpenAIChatClient(fake.url, "fake-model", **kwargs)


def test_good_reply_and_wire_format(fake: FakeOpenAI) -> None:
    fake.add(Good("Hello there.", usage=(7, 3)))
    with client(fake, api_key="sk-test", name="local") as c:
        resp = c.complete(MESSAGES, temperature=0.0, max_tokens=50)
    assert resp.text == "Hello there." and resp.provider == "local" and resp.model == "fake-model"
    assert resp.usage == Usage(prompt_tokens=7, completion_tokens=3, total_tokens=10)
    req = fake.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer sk-test"
    assert req["body"] == {"model": "fake-model", "messages": MESSAGES, "temperature": 0.0, "max_tokens": 50}


def test_client_is_callable_like_an_llm(fake: FakeOpenAI) -> None:
    fake.add(Good("ok."))
    with client(fake) as c:
        assert c(MESSAGES).text == "ok."


def test_malformed_json_is_not_retried(fake: FakeOpenAI) -> None:
    fake.add(Raw(b'{"choices": [ {"message": '), Good("never"))
    with client(fake) as c, pytest.raises(LLMError, match="malformed JSON") as info:
        c.complete(MESSAGES)
    assert not info.value.retryable and len(fake.requests) == 1


def test_response_without_choices_is_an_error(fake: FakeOpenAI) -> None:
    fake.add(Raw(b'{"object": "chat.completion", "choices": []}'))
    with client(fake) as c, pytest.raises(LLMError, match=r"choices\[0\]"):
        c.complete(MESSAGES)


def test_500s_are_retried_with_backoff_then_succeed(fake: FakeOpenAI) -> None:
    fake.add(Status(500), Status(503), Good("third time."))
    with client(fake, max_retries=2) as c:
        assert c.complete(MESSAGES).text == "third time."
    assert len(fake.requests) == 3


def test_500s_beyond_retries_raise(fake: FakeOpenAI) -> None:
    fake.add(Status(500), Status(502), Status(500), Good("too late"))
    with client(fake, max_retries=2) as c, pytest.raises(LLMError, match=r"HTTP 500$") as info:
        c.complete(MESSAGES)
    assert info.value.status == 500 and info.value.retryable and len(fake.requests) == 3
    # What the provider said is kept apart from the message, which logs carry.
    assert info.value.detail == "scripted failure"


def test_429_honours_retry_after(fake: FakeOpenAI) -> None:
    fake.add(Status(429, headers={"retry-after": "0.2"}), Good("ok."))
    t0 = time.perf_counter()
    with client(fake, backoff=0.0) as c:
        assert c.complete(MESSAGES).text == "ok."
    assert time.perf_counter() - t0 >= 0.2


def test_400_is_not_retried_and_names_the_error(fake: FakeOpenAI) -> None:
    fake.add(Status(400, {"error": {"message": "unknown parameter 'foo'"}}), Good("never"))
    with client(fake) as c, pytest.raises(LLMError, match=r"HTTP 400$") as info:
        c.complete(MESSAGES, foo=1)
    assert not info.value.retryable and len(fake.requests) == 1
    assert info.value.detail == "unknown parameter 'foo'"


def test_slow_provider_times_out_after_retries(fake: FakeOpenAI) -> None:
    fake.add(Slow(3.0, Good("late")), Slow(3.0, Good("late")))
    t0 = time.perf_counter()
    with client(fake, timeout=0.15, max_retries=1) as c, pytest.raises(LLMError, match="timed out"):
        c.complete(MESSAGES)
    # Far below one full 3 s reply: both attempts were cut by the timeout (margin for a loaded machine).
    assert time.perf_counter() - t0 < 2.5
    assert len(fake.requests) == 2


def test_dropped_connection_is_retried(fake: FakeOpenAI) -> None:
    fake.add(Drop(), Good("after the drop."))
    with client(fake) as c:
        assert c.complete(MESSAGES).text == "after the drop."


def test_connection_refused_is_an_llm_error() -> None:
    with serve() as gone:
        url = gone.url
    with OpenAIChatClient(url, "m", max_retries=1, backoff=0.01) as c, pytest.raises(LLMError, match="connection"):
        c.complete(MESSAGES)


def test_constructor_validates_settings() -> None:
    with pytest.raises(ValueError, match="base_url"):
        OpenAIChatClient("localhost:8000", "m")
    with pytest.raises(ValueError, match="timeout"):
        OpenAIChatClient("http://127.0.0.1:1", "m", timeout=0)


# -- streaming --------------------------------------------------------------------------------------


def test_sse_stream_yields_deltas(fake: FakeOpenAI) -> None:
    fake.add(Sse(["Hel", "lo ", "wörld", "."]))
    with client(fake) as c:
        assert list(c.stream(MESSAGES)) == ["Hel", "lo ", "wörld", "."]
    assert fake.requests[0]["body"]["stream"] is True


def test_dropped_stream_after_text_is_an_error_not_a_restart(fake: FakeOpenAI) -> None:
    fake.add(Sse(["one ", "two ", "three"], drop_after=2), Sse(["should not be used"]))
    got: list[str] = []
    with client(fake) as c, pytest.raises(LLMError, match="stream"):
        got.extend(c.stream(MESSAGES))
    assert got == ["one ", "two "] and len(fake.requests) == 1


def test_stream_without_done_is_an_error(fake: FakeOpenAI) -> None:
    fake.add(Sse(["a", "b"], done=False))
    with client(fake, max_retries=0) as c, pytest.raises(LLMError, match=r"before \[DONE\]"):
        list(c.stream(MESSAGES))


def test_stream_failing_before_first_chunk_is_retried(fake: FakeOpenAI) -> None:
    fake.add(Status(500), Sse(["fine."]))
    with client(fake) as c:
        assert list(c.stream(MESSAGES)) == ["fine."]


def test_streamed_pii_is_redacted_before_release(fake: FakeOpenAI) -> None:
    text = "Our team replies within a day. " * 10 + "Mail ann@example.org today. " + "Thanks for asking. " * 12
    fake.add(Sse([text[i : i + 6] for i in range(0, len(text), 6)]))
    validator = StreamValidator(engine("guard-test"))
    shown = []
    with client(fake) as c:
        for delta in c.stream(MESSAGES):
            shown += [e.text or "" for e in validator.feed(delta) if e.type == "text"]
    final = validator.finish()
    shown += [e.text or "" for e in final if e.type == "text"]
    assert "ann@example.org" not in "".join(shown)
    assert "".join(shown) == text.replace("ann@example.org", "[email]")


# -- async ------------------------------------------------------------------------------------------


def test_async_complete_and_stream(fake: FakeOpenAI) -> None:
    fake.add(Status(502), Good("async ok."), Sse(["x", "y"]))

    async def go() -> tuple[str, list[str]]:
        async with client(fake) as c:
            resp = await c.acomplete(MESSAGES)
            deltas = [d async for d in c.astream(MESSAGES)]
        return resp.text, deltas

    assert asyncio.run(go()) == ("async ok.", ["x", "y"])


def test_async_dropped_stream(fake: FakeOpenAI) -> None:
    fake.add(Sse(["a", "b", "c"], drop_after=1))

    async def go() -> list[str]:
        got: list[str] = []
        async with client(fake) as c:
            with pytest.raises(LLMError, match="stream"):
                async for d in c.astream(MESSAGES):
                    got.append(d)
        return got

    assert asyncio.run(go()) == ["a"]


# -- with a Guard -----------------------------------------------------------------------------------


def test_guard_regenerates_over_http(fake: FakeOpenAI) -> None:
    fake.add(Good("Profits are guaranteed."), Good("Profits vary."))
    with client(fake) as c:
        result = Guard(engine("guard-test"), c).run("Q?")
    assert result.output == "Profits vary." and result.provider == "fake-model"
    assert result.usage.total_tokens == 34
    assert fake.requests[1]["body"]["temperature"] == 0.0
    assert "GRT002" in fake.requests[1]["body"]["messages"][-1]["content"]


def test_guard_falls_back_on_provider_timeout_and_500s(fake: FakeOpenAI) -> None:
    with serve() as other:
        fake.add(Slow(1.0, Good("late")))
        other.add(Status(500), Status(500), Good("from the backup."))
        with client(fake, timeout=0.1, max_retries=0, name="main") as a, client(other, name="backup") as b:
            result = Guard(engine("guard-test"), a, fallbacks=[b]).run("Q?")
    assert result.source == "fallback" and result.output == "from the backup."
    assert [x.provider for x in result.attempts] == ["main", "backup"]
    assert "timed out" in (result.attempts[0].error or "")
    assert result.attempts[1].verdict is Verdict.PASS


def test_guard_time_budget_caps_the_http_call(fake: FakeOpenAI) -> None:
    fake.add(Slow(2.0, Good("late")))
    t0 = time.perf_counter()
    with client(fake, timeout=30) as c:
        result = Guard(engine("guard-test"), c, budget=Budget(max_seconds=0.3)).run("Q?")
    assert time.perf_counter() - t0 < 1.5
    assert result.source == "last_resort"


def test_guard_arun_over_http(fake: FakeOpenAI) -> None:
    fake.add(Good("Returns are risk-free."), Good("Returns vary."))

    async def go() -> Any:
        async with client(fake) as c:
            return await Guard(engine("guard-test"), c).arun("Q?")

    result = asyncio.run(go())
    assert result.output == "Returns vary." and len(result.attempts) == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"choices": [{"message": {"content": null, "tool_calls": []}}]}', ""),
        (b'{"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "image"}, '
         b'{"type": "text", "text": "b"}]}}]}', "ab"),
        ('{"choices": [{"message": {"content": "Grüße, 世界"}}], "usage": {"prompt_tokens": -1}}'.encode(),
         "Grüße, 世界"),
    ],
)  # fmt: skip
def test_content_shapes_and_bad_usage(fake: FakeOpenAI, body: bytes, expected: str) -> None:
    fake.add(Raw(body))
    with client(fake) as c:
        resp = c.complete(MESSAGES)
    assert resp.text == expected and resp.usage == Usage()


def test_huge_reply_is_read(fake: FakeOpenAI) -> None:
    fake.add(Good("x" * 2_000_000))
    with client(fake) as c:
        assert len(c.complete(MESSAGES).text) == 2_000_000


def test_non_object_content_is_an_error(fake: FakeOpenAI) -> None:
    fake.add(Raw(b'{"choices": [{"message": {"content": 42}}]}'))
    with client(fake) as c, pytest.raises(LLMError, match="content is int"):
        c.complete(MESSAGES)


def test_an_answer_over_the_byte_cap_is_a_budget_error_plain_and_streamed(fake: FakeOpenAI) -> None:
    fake.add(Good("x" * 300_000), Sse(["y" * 1000] * 300))
    with client(fake, max_body_bytes=100_000) as c:
        with pytest.raises(LLMBudgetError, match="100000-byte cap"):
            c.complete(MESSAGES)
        with pytest.raises(LLMBudgetError, match="100000-byte cap"):
            list(c.stream(MESSAGES))
    assert len(fake.requests) == 2  # a budget error is not retried


def test_stream_events_split_anywhere_and_any_line_ending_parse_alike() -> None:
    from guardrails.guard.openai_client import _Reader

    wire = (
        'data: {"choices": [{"delta": {"content": "Grüße"}}]}\r\n\r\n'
        ": a comment\r\r"
        'data: {"choices": [{"delta": {"content": " 世界"}}]}\n\n'
        "data: [DONE]\n\n"
    ).encode()
    for size in (1, 2, 3, 7, len(wire)):
        reader = _Reader("t", 10_000, None)
        events: list[str] = []
        for i in range(0, len(wire), size):
            events += reader.events(wire[i : i + size])
        events += reader.finish()
        assert [json.loads(e)["choices"][0]["delta"]["content"] for e in events] == ["Grüße", " 世界"], size
        assert reader.done


def test_a_stream_of_empty_deltas_ends_at_the_time_budget(fake: FakeOpenAI) -> None:
    # Sync path: no asyncio timeout around it, the client's own deadline check on every chunk must hold.
    fake.add(Sse([""] * 400, pause=0.01))
    t0 = time.monotonic()
    with client(fake) as c, pytest.raises(LLMBudgetError, match="time budget"):
        list(c.stream(MESSAGES, timeout=0.5))
    assert time.monotonic() - t0 < 3.0  # the upstream would have taken 4 s and more


def test_provider_text_in_a_bad_stream_event_is_detail_not_message(fake: FakeOpenAI) -> None:
    fake.add(Raw(b'data: {"error": "jane.roe@example.com is not allowed"}\n\ndata: [DONE]\n\n', "text/event-stream"))
    with client(fake) as c, pytest.raises(LLMError) as info:
        list(c.stream(MESSAGES))
    assert "jane.roe" not in str(info.value) and "jane.roe" in (info.value.detail or "")


def test_guard_keeps_what_the_provider_said_in_the_attempt_and_logs_it_only_when_asked(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"error": {"message": "jane.roe@example.com may not be sent"}}
    for log_content in (False, True):
        caplog.clear()
        fake.add(Status(400, body))
        with client(fake) as c:
            result = Guard(engine("guard-test"), c, log_content=log_content).run("Q?")
        assert result.source == "last_resort"
        assert result.attempts[0].error == "LLMError: fake-model: HTTP 400"
        assert result.attempts[0].error_detail == "jane.roe@example.com may not be sent"
        assert ("jane.roe" in caplog.text) is log_content
        assert "HTTP 400" in caplog.text
