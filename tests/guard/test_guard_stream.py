"""Guard.stream: a streamed answer validated on the fly, regenerated or replaced when it fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from guardrails.findings import Verdict
from guardrails.guard import Guard, RunFinished, StreamEvent
from guardrails.guard.openai_client import OpenAIChatClient
from tests.guard.fake_openai import FakeOpenAI, Good, Sse, serve
from tests.guard.helpers import ScriptedLLM, engine

CLEAN = "Our team answers every request within one working day. " * 6


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with serve() as server:
        yield server


def client(fake: FakeOpenAI, name: str = "main") -> OpenAIChatClient:
    return OpenAIChatClient(fake.url, "fake-model", name=name, backoff=0.01)


def split(text: str, n: int = 5) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


def shown_text(events: list[StreamEvent]) -> str:
    text = ""
    for e in events:
        if e.type == "text":
            assert e.offset == len(text)
            text += e.text or ""
        elif e.type == "retract":
            text = text[: e.offset]
    return text


def test_good_stream_passes_through(fake: FakeOpenAI) -> None:
    fake.add(Sse(split(CLEAN + "Mail ann@example.org.")))
    with client(fake) as c:
        events = list(Guard(engine("guard-test"), c).stream("Q?"))
    assert sum(e.type == "text" for e in events) > 2
    assert events[-1].type == "final" and events[-1].source == "repaired"
    assert shown_text(events) == CLEAN + "Mail [email]."
    assert len(fake.requests) == 1


def test_failing_stream_is_retracted_then_regenerated(fake: FakeOpenAI) -> None:
    bad = CLEAN + "Results are guaranteed."  # found at finish, after the usage arrived
    fake.add(Sse(split(bad), usage=(30, 70)), Good("Results vary by client.", usage=(120, 6)))
    seen: list[Any] = []
    with OpenAIChatClient(fake.url, "fake-model", name="main", stream_usage=True) as c:
        events = list(Guard(engine("guard-test"), c, listeners=[seen.append]).stream("Q?"))
    types = [e.type for e in events]
    first_retract = types.index("retract")
    assert "finding" in types[:first_retract]
    assert "guaranteed" not in "".join(e.text or "" for e in events if e.type == "text")
    assert events[-1].type == "final" and events[-1].source == "primary"
    assert events[-1].report is not None and events[-1].report.verdict is Verdict.PASS
    assert shown_text(events) == "Results vary by client."
    # The second request carries feedback on the streamed answer.
    assert "GRT002" in fake.requests[1]["body"]["messages"][-1]["content"]
    assert fake.requests[1]["body"].get("stream") is None
    assert [e for e in seen if isinstance(e, StreamEvent)] == events
    assert sum(e.type == "final" for e in events) == 1
    # Both attempts are accounted for: the streamed one (usage from the stream) and the regeneration.
    run = next(e for e in seen if isinstance(e, RunFinished))
    assert run.attempts == 2 and run.usage.total_tokens == 100 + 126
    assert fake.requests[0]["body"]["stream_options"] == {"include_usage": True}


def test_stream_dropped_midway_falls_back(fake: FakeOpenAI) -> None:
    with serve() as other:
        fake.add(Sse(split(CLEAN * 3), drop_after=100))
        other.add(Good("Backup answer."))
        with client(fake) as a, client(other, name="backup") as b:
            events = list(Guard(engine("guard-test"), a, fallbacks=[b]).stream("Q?"))
    assert any(e.type == "retract" and e.offset == 0 for e in events)
    assert events[-1].source == "fallback"
    assert shown_text(events) == "Backup answer."


def test_stream_usage_is_read_from_the_stream(fake: FakeOpenAI) -> None:
    fake.add(Sse(["a", "b"], usage=(4, 2)))
    with OpenAIChatClient(fake.url, "fake-model", stream_usage=True) as c:
        s = c.stream([{"role": "user", "content": "x"}])
        assert list(s) == ["a", "b"]
    assert s.usage.total_tokens == 6 and s.stats.model == "fake-model"


def test_stream_time_budget_is_passed_to_the_client(fake: FakeOpenAI) -> None:
    import time

    from guardrails.guard import Budget

    # Unbudgeted, this upstream takes ~13.6 s (68 chunks, 0.2 s apart); the 0.3 s budget must end it well before,
    # with slack for a loaded machine.
    fake.add(Sse(split(CLEAN), pause=0.2))
    t0 = time.perf_counter()
    with client(fake) as c:
        events = list(Guard(engine("guard-test"), c, budget=Budget(max_seconds=0.3)).stream("Q?"))
    assert time.perf_counter() - t0 < 5.0
    assert events[-1].source == "last_resort"


def test_llm_without_stream_method_runs_normally() -> None:
    events = list(Guard(engine("guard-test"), ScriptedLLM(["Short answer."])).stream("Q?"))
    assert [e.type for e in events] == ["text", "final"] and events[-1].source == "primary"


def test_astream_over_http(fake: FakeOpenAI) -> None:
    fake.add(Sse(split(CLEAN + "It is risk-free. " + CLEAN)), Good("It carries risk."))

    async def go() -> list[StreamEvent]:
        async with client(fake) as c:
            return [e async for e in Guard(engine("guard-test"), c).astream("Q?")]

    events = asyncio.run(go())
    assert shown_text(events) == "It carries risk." and events[-1].source == "primary"
