"""Guard: every path from first answer to last resort, token accounting, feedback size, events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import Engine
from guardrails.findings import Verdict
from guardrails.guard import (
    DEFAULT_LAST_RESORT,
    AttemptFinished,
    AttemptStarted,
    Budget,
    CheckTimed,
    Guard,
    LLMError,
    LLMResponse,
    RunFinished,
    Usage,
)
from tests.guard.helpers import ScriptedLLM, engine

GOOD = "Returns vary with the market."
BAD = "Returns are guaranteed to double."
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def eng() -> Any:
    return engine("guard-test")


def test_first_answer_good(eng: Any) -> None:
    llm = ScriptedLLM([GOOD])
    result = Guard(eng, llm).run("How do returns behave?")
    assert result.source == "primary"
    assert result.output == GOOD
    assert result.report.verdict is Verdict.PASS
    assert [a.verdict for a in result.attempts] == [Verdict.PASS]
    assert result.provider == "scripted"
    assert llm.calls[0]["messages"] == [{"role": "user", "content": "How do returns behave?"}]
    assert llm.calls[0]["params"] == {}  # the first attempt sends the caller's parameters as given


def test_repaired_without_another_call(eng: Any) -> None:
    llm = ScriptedLLM(["Write to ann@example.org for details."])
    result = Guard(eng, llm).run("Contact?")
    assert result.source == "repaired"
    assert result.output == "Write to [email] for details."
    assert result.report.verdict is Verdict.REPAIRED
    assert len(llm.calls) == 1


def test_regenerated_and_passing_on_attempt_two(eng: Any) -> None:
    llm = ScriptedLLM([BAD, GOOD])
    result = Guard(eng, llm).run([{"role": "system", "content": "Be careful."}, {"role": "user", "content": "Q?"}])
    assert result.source == "primary"
    assert result.output == GOOD
    assert [a.verdict for a in result.attempts] == [Verdict.REGENERATE, Verdict.PASS]
    second = llm.calls[1]["messages"]
    # The caller's messages, then the previous answer and one feedback message: nothing else.
    assert second[:2] == [{"role": "system", "content": "Be careful."}, {"role": "user", "content": "Q?"}]
    assert second[2] == {"role": "assistant", "content": BAD}
    feedback = second[3]["content"]
    assert second[3]["role"] == "user" and len(second) == 4
    assert "GRT002" in feedback and "forbidden-word" in feedback
    assert "guaranteed" in feedback  # the offending span, named
    assert "Do not promise outcomes" in feedback  # the rule's instruction: what must change
    assert "line 1, column 13" in feedback


def test_regeneration_carries_schema_excerpt_and_pointer() -> None:
    eng = engine("guard-schema")
    llm = ScriptedLLM(['{"name": "Ann", "age": "old"}', '{"name": "Ann", "age": 41}'])
    result = Guard(eng, llm).run("Give a person as JSON")
    assert result.output == '{"name": "Ann", "age": 41}'
    feedback = llm.calls[1]["messages"][-1]["content"]
    assert "field /age" in feedback
    assert "JSON Schema" in feedback and '"required":["name","age"]' in feedback
    assert '"old"' in feedback


def test_bundled_json_policy_regenerates_against_the_context_schema() -> None:
    schema = json.loads((ROOT / "fixtures" / "json" / "person.schema.json").read_text())
    bad = (ROOT / "fixtures" / "json" / "outputs" / "person_invalid.txt").read_text()
    good = '{"name": "Ana", "age": 31}'
    llm = ScriptedLLM([bad, good])
    result = Guard(Engine.from_policy("json"), llm).run("Give a person as JSON", context={"schema": schema})
    assert result.source == "primary" and result.output == good
    assert [a.verdict for a in result.attempts] == [Verdict.REGENERATE, Verdict.PASS]
    feedback = llm.calls[1]["messages"][-1]["content"]
    assert feedback.count("[JSON030 schema-violation]") == 2
    assert "field /age" in feedback and "field /nickname" in feedback
    # The schema came from the Context, not the policy: it is the one the feedback quotes.
    assert "The answer must be JSON valid against this JSON Schema:" in feedback
    assert '"required":["name","age"]' in feedback and '"title":"Person"' in feedback


def test_html_regeneration_feedback_quotes_the_template_and_names_the_missing_slot() -> None:
    html = ROOT / "fixtures" / "html" / "support-answer"
    bad = (html / "strays-missing-summary.html").read_text()
    good = (html / "follows-reset-password.html").read_text()
    llm = ScriptedLLM([bad, good])
    result = Guard(Engine.from_policy("html"), llm).run("How do I export?", context={"template": "support-answer"})
    assert result.output == good and [a.verdict for a in result.attempts] == [Verdict.REGENERATE, Verdict.PASS]
    feedback = llm.calls[1]["messages"][-1]["content"]
    assert "[HTML008 missing-section]" in feedback and "required section 'summary' is empty" in feedback
    assert "Fill the section marked data-slot='summary'" in feedback
    excerpt = feedback.split("The answer must fit this HTML template:\n", 1)[1]
    assert excerpt.startswith('<section class="support-answer">')
    assert '<div class="summary" data-slot="summary"></div>' in excerpt
    assert "  summary: required, tags: a br code em p strong, at most 800 characters" in excerpt


def test_feedback_prompt_stays_the_same_size_across_attempts(eng: Any) -> None:
    llm = ScriptedLLM([BAD] * 5)
    result = Guard(eng, llm, budget=Budget(max_attempts=5)).run("Q?")
    sizes = [sum(len(m["content"]) for m in call["messages"]) for call in llm.calls]
    counts = [len(call["messages"]) for call in llm.calls]
    assert sizes[1] > sizes[0]
    assert sizes[1:] == [sizes[1]] * 4  # replaced, never appended
    assert counts[1:] == [3] * 4
    assert [a.feedback_chars for a in result.attempts][1:] == [result.attempts[1].feedback_chars] * 4
    assert [a.prompt_chars for a in result.attempts] == sizes


def test_feedback_is_bounded_however_many_problems(eng: Any) -> None:
    small = " ".join(["guaranteed"] * 3) + "."
    huge = " ".join(["guaranteed"] * 500) + "."
    a = ScriptedLLM([small, GOOD])
    b = ScriptedLLM([huge, GOOD])
    Guard(eng, a).run("Q?")
    Guard(eng, b).run("Q?")
    fa, fb = a.calls[1]["messages"][-1]["content"], b.calls[1]["messages"][-1]["content"]
    assert "(and 92 more problems" in fb  # max_matches=100 per rule, 8 listed
    assert len(fa) < len(fb) < 3 * len(fa) and len(fb) < 3000 and len(b.calls[1]["messages"][-2]["content"]) <= 4000


def test_budget_exhausted_then_fallback_then_last_resort(eng: Any) -> None:
    primary = ScriptedLLM([BAD, BAD], name="primary")
    fallback = ScriptedLLM([BAD, "Also guaranteed."], name="backup")
    events: list[Any] = []
    guard = Guard(eng, primary, fallbacks=[fallback], budget=Budget(max_attempts=2), listeners=[events.append])
    result = guard.run("Q?")
    assert result.source == "last_resort"
    assert result.output == DEFAULT_LAST_RESORT
    assert result.provider is None and result.degraded
    assert [(a.provider, a.verdict) for a in result.attempts] == [
        ("primary", Verdict.REGENERATE),
        ("primary", Verdict.REGENERATE),
        ("backup", Verdict.REGENERATE),
        ("backup", Verdict.REGENERATE),
    ]
    # The fallback starts from the caller's messages, not the primary's feedback.
    assert fallback.calls[0]["messages"] == [{"role": "user", "content": "Q?"}]
    assert isinstance(events[-1], RunFinished) and events[-1].source == "last_resort"
    assert sum(isinstance(e, AttemptStarted) for e in events) == 4
    assert sum(isinstance(e, AttemptFinished) for e in events) == 4
    assert any(isinstance(e, CheckTimed) for e in events)


def test_fallback_answer_is_used_when_primary_fails(eng: Any) -> None:
    primary = ScriptedLLM([LLMError("HTTP 500: boom", status=500, retryable=True)], name="primary")
    fallback = ScriptedLLM([GOOD], name="backup")
    result = Guard(eng, primary, fallbacks=[fallback]).run("Q?")
    assert result.source == "fallback" and result.provider == "backup" and result.output == GOOD
    assert result.attempts[0].error is not None and "HTTP 500" in result.attempts[0].error
    assert result.attempts[0].verdict is None
    assert len(primary.calls) == 1  # a failing provider is abandoned, not hammered


def test_provider_exceptions_become_a_degraded_answer_not_an_error(eng: Any) -> None:
    broken = ScriptedLLM([TimeoutError("read timed out"), RuntimeError("never reached")], name="a")

    def b(messages: list[dict[str, str]], **params: Any) -> Any:
        return 42

    result = Guard(eng, broken, fallbacks=[b], last_resort="Please retry later.").run("Q?")
    assert result.source == "last_resort" and result.output == "Please retry later."
    assert [a.error.split(":")[0] for a in result.attempts if a.error] == ["TimeoutError", "TypeError"]
    assert "provider b failed" in (result.reason or "")


def test_last_resort_callable_sees_attempts(eng: Any) -> None:
    seen: list[int] = []

    def last(messages: list[dict[str, str]], attempts: list[Any]) -> str:
        seen.append(len(attempts))
        return f"No answer for {messages[-1]['content']!r}."

    result = Guard(eng, ScriptedLLM([BAD]), budget=Budget(max_attempts=1), last_resort=last).run("Q?")
    assert result.output == "No answer for 'Q?'." and seen == [1]


def test_blocked_output_is_regenerated_with_feedback(eng: Any) -> None:
    llm = ScriptedLLM(["Use sk-abcdefghijklmnop1234 to log in.", GOOD])
    result = Guard(eng, llm).run("Q?")
    assert [a.verdict for a in result.attempts] == [Verdict.BLOCK, Verdict.PASS]
    assert "GRT003" in llm.calls[1]["messages"][-1]["content"]


def test_token_accounting_is_the_sum_over_attempts(eng: Any) -> None:
    replies = [
        LLMResponse(text=BAD, usage=Usage(prompt_tokens=11, completion_tokens=7, total_tokens=18)),
        LLMResponse(text=BAD, usage=Usage(prompt_tokens=40, completion_tokens=9, total_tokens=49)),
        LLMResponse(text=GOOD, usage=Usage(prompt_tokens=42, completion_tokens=3, total_tokens=45)),
    ]
    result = Guard(eng, ScriptedLLM(replies)).run("Q?")
    assert result.usage == Usage(prompt_tokens=93, completion_tokens=19, total_tokens=112)
    assert result.usage == sum((a.usage for a in result.attempts), Usage())


def test_token_budget_stops_regeneration(eng: Any) -> None:
    primary = ScriptedLLM([BAD, BAD, BAD], tokens=(60, 40))
    fallback = ScriptedLLM([GOOD], name="backup")
    result = Guard(eng, primary, fallbacks=[fallback], budget=Budget(max_attempts=3, max_tokens=150)).run("Q?")
    # 100 tokens, then 200 >= 150: no further call to anyone.
    assert len(primary.calls) == 2 and not fallback.calls
    assert result.source == "last_resort" and "token budget" in (result.reason or "")
    assert result.usage.total_tokens == 200


def test_time_budget_stops_regeneration(eng: Any) -> None:
    import time

    def slow(messages: list[dict[str, str]], **params: Any) -> str:
        time.sleep(0.06)
        return BAD

    result = Guard(eng, slow, budget=Budget(max_attempts=10, max_seconds=0.1)).run("Q?")
    assert result.source == "last_resort" and "time budget" in (result.reason or "")
    assert 1 <= len(result.attempts) <= 2


def test_first_attempts_send_the_callers_params_and_regenerations_the_guards_temperature(eng: Any) -> None:
    llm = ScriptedLLM([BAD, GOOD, BAD, GOOD])
    Guard(eng, llm, temperature=0.7).run("Q?", max_tokens=20, temperature=1.2)
    Guard(eng, llm, temperature=None).run("Q?", temperature=0.2)
    assert llm.calls[0]["params"] == {"temperature": 1.2, "max_tokens": 20}  # as given, never forced
    assert llm.calls[1]["params"] == {"temperature": 0.7, "max_tokens": 20}  # the regeneration's
    assert llm.calls[2]["params"] == llm.calls[3]["params"] == {"temperature": 0.2}  # None: the caller's again


def test_regenerations_use_the_policys_temperature_by_default(eng: Any) -> None:
    llm = ScriptedLLM([BAD, GOOD])
    Guard(eng, llm).run("Q?")
    assert llm.calls[0]["params"] == {}
    assert llm.calls[1]["params"] == {"temperature": eng.policy.regeneration.temperature}


def test_plain_string_llm_and_unicode(eng: Any) -> None:
    result = Guard(eng, lambda messages, **_: "Доходность меняется. 収益は変動します.").run("Доходность?")
    assert result.source == "primary" and result.usage == Usage()
    assert result.attempts[0].provider == "primary"


def test_context_gets_prompt_and_system_prompt_from_messages(eng: Any) -> None:
    from guardrails.guard.guard import _context_for

    ctx = _context_for(None, [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert ctx.prompt == "U" and ctx.system_prompt == "S"
    given = _context_for({"prompt": "P"}, [{"role": "user", "content": "U"}])
    assert given.prompt == "P"


@pytest.mark.parametrize("bad", [[], [{"role": "user"}], [{"role": "user", "content": 3}], ["hi"]])
def test_malformed_messages_are_rejected_clearly(eng: Any, bad: Any) -> None:
    with pytest.raises(ValueError, match="messages"):
        Guard(eng, ScriptedLLM([])).run(bad)


def test_constructor_errors_name_the_problem(eng: Any) -> None:
    with pytest.raises(TypeError, match="llm must be callable"):
        Guard(eng, "not a model")
    with pytest.raises(TypeError, match=r"fallbacks\[0\]"):
        Guard(eng, ScriptedLLM([]), fallbacks=[None])
    with pytest.raises(ValueError, match="max_attempts"):
        Budget(max_attempts=0)


def test_listener_failure_does_not_break_the_run(eng: Any, caplog: pytest.LogCaptureFixture) -> None:
    def bad_listener(event: Any) -> None:
        raise RuntimeError("metrics down")

    result = Guard(eng, ScriptedLLM([GOOD]), listeners=[bad_listener]).run("Q?")
    assert result.output == GOOD
    assert "metrics down" in caplog.text


def test_budget_defaults_come_from_the_policy(eng: Any) -> None:
    guard = Guard(eng, ScriptedLLM([]))
    assert guard.budget == Budget(max_attempts=3, max_tokens=None, max_seconds=None)


def test_result_is_json_serialisable(eng: Any) -> None:
    result = Guard(eng, ScriptedLLM([BAD, GOOD])).run("Q?")
    data = json.loads(result.model_dump_json())
    assert data["source"] == "primary" and len(data["attempts"]) == 2


# -- async ------------------------------------------------------------------------------------------


def test_arun_with_async_llm_regenerates(eng: Any) -> None:
    calls: list[list[dict[str, str]]] = []

    async def llm(messages: list[dict[str, str]], **params: Any) -> LLMResponse:
        calls.append(messages)
        await asyncio.sleep(0)
        text = BAD if len(calls) == 1 else GOOD
        return LLMResponse(text=text, usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2))

    result = asyncio.run(Guard(eng, llm).arun("Q?"))
    assert result.output == GOOD and result.usage.total_tokens == 4 and len(calls) == 2


def test_arun_runs_sync_llm_in_thread_and_same_decisions_as_run(eng: Any) -> None:
    a = asyncio.run(Guard(eng, ScriptedLLM([BAD, BAD]), budget=Budget(max_attempts=2)).arun("Q?"))
    b = Guard(eng, ScriptedLLM([BAD, BAD]), budget=Budget(max_attempts=2)).run("Q?")
    assert (a.source, a.output, [x.verdict for x in a.attempts]) == (
        b.source,
        b.output,
        [x.verdict for x in b.attempts],
    )


def test_arun_time_budget_cancels_a_hanging_call(eng: Any) -> None:
    async def hang(messages: list[dict[str, str]], **params: Any) -> str:
        await asyncio.sleep(30)
        return GOOD

    result = asyncio.run(Guard(eng, hang, budget=Budget(max_seconds=0.05)).arun("Q?"))
    assert result.source == "last_resort"
    assert "time budget" in (result.attempts[0].error or "")


def test_run_refuses_async_llm_cleanly(eng: Any) -> None:
    async def llm(messages: list[dict[str, str]], **params: Any) -> str:
        return GOOD

    result = Guard(eng, llm).run("Q?")
    assert result.source == "last_resort" and "Guard.arun" in (result.attempts[0].error or "")


_REPLIES = {
    "good": lambda i: LLMResponse(text=GOOD, usage=Usage(prompt_tokens=i, completion_tokens=1, total_tokens=i + 1)),
    "bad": lambda i: LLMResponse(text=BAD, usage=Usage(prompt_tokens=i, completion_tokens=2, total_tokens=i + 2)),
    "pii": lambda i: LLMResponse(
        text="Mail a@b.io.", usage=Usage(prompt_tokens=i, completion_tokens=3, total_tokens=i + 3)
    ),
    "error": lambda i: LLMError(f"boom {i}"),
}


@settings(max_examples=80, deadline=None)
@given(
    script=st.lists(st.lists(st.sampled_from(sorted(_REPLIES)), min_size=1, max_size=4), min_size=1, max_size=3),
    attempts=st.integers(min_value=1, max_value=4),
)
def test_property_accounting_and_sources(script: list[list[str]], attempts: int) -> None:
    eng = engine("guard-test")
    llms = [
        ScriptedLLM([_REPLIES[k](10 * p + i) for i, k in enumerate(kinds)] + [GOOD] * 4, name=f"p{p}")
        for p, kinds in enumerate(script)
    ]
    result = Guard(eng, llms[0], fallbacks=llms[1:], budget=Budget(max_attempts=attempts)).run("Q?")
    assert result.usage == sum((a.usage for a in result.attempts), Usage())
    assert len(result.attempts) <= attempts * len(llms)
    accepted = [a for a in result.attempts if a.verdict in (Verdict.PASS, Verdict.REPAIRED)]
    if result.source == "last_resort":
        assert not accepted and result.output == DEFAULT_LAST_RESORT
    else:
        assert accepted == [result.attempts[-1]]
        assert result.provider == result.attempts[-1].provider
        assert result.source == (
            "repaired"
            if accepted[0].verdict is Verdict.REPAIRED
            else "primary"
            if result.provider == "p0"
            else "fallback"
        )
    # Every provider was called exactly as often as its attempts say.
    for llm in llms:
        assert len(llm.calls) == sum(a.provider == llm.name for a in result.attempts)
