"""StreamValidator: hold-back, redaction before release, retract, JSON cuts, final reconciliation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import Engine
from guardrails.findings import Verdict
from guardrails.guard import CheckTimed, StreamEvent, StreamValidator
from tests.guard.helpers import engine


@pytest.fixture(scope="module")
def eng() -> Any:
    return engine("guard-test")


@pytest.fixture(scope="module")
def eng_final() -> Any:
    return engine("guard-final")


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def run(validator: StreamValidator, parts: list[str]) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    for part in parts:
        events += validator.feed(part)
    return events + validator.finish()


class Consumer:
    """What a client does with the events: append text, honour retracts."""

    def __init__(self) -> None:
        self.text = ""
        self.max_seen = ""
        self.shown: list[str] = []

    def apply(self, event: StreamEvent) -> None:
        if event.type == "text":
            assert event.offset == len(self.text), "text events must continue where the consumer is"
            self.text += event.text or ""
            self.shown.append(event.text or "")
        elif event.type == "retract":
            assert event.offset is not None and event.offset <= len(self.text)
            self.text = self.text[: event.offset]


def consume(events: list[StreamEvent]) -> Consumer:
    c = Consumer()
    for e in events:
        c.apply(e)
    return c


LONG_CLEAN = "The quarterly figures were published on time. " * 12


def test_clean_stream_is_released_before_the_end_and_matches_the_report(eng: Any) -> None:
    for calls in (1, 4, 16):
        v = StreamValidator(eng, scan_calls=calls)
        early: list[StreamEvent] = []
        parts = chunks(LONG_CLEAN, 7)
        for part in parts[:-1]:
            early += v.feed(part)
        assert any(e.type == "text" for e in early), "settled text must be released while the stream runs"
        released_early = "".join(e.text or "" for e in early if e.type == "text")
        # Held back: the hold-back, the chunk not fed, less than `min_release` waiting for a scan, and a scan
        # spread over calls ends within twice `scan_calls` calls.
        spread = (2 * calls - 1) * 7
        assert len(LONG_CLEAN) - len(released_early) <= v.hold_back + 7 + v.min_release + spread
    v = StreamValidator(eng)
    early = [e for part in parts[:-1] for e in v.feed(part)]
    events = early + v.feed(parts[-1]) + v.finish()
    final = events[-1]
    assert final.type == "final" and final.report is not None and final.report.verdict is Verdict.PASS
    assert consume(events).text == LONG_CLEAN == final.report.output
    assert not any(e.type == "retract" for e in events)


def test_pii_like_text_is_redacted_before_release(eng: Any) -> None:
    text = LONG_CLEAN + "Write to ann.lee@example.org for the details. " + LONG_CLEAN
    events = run(StreamValidator(eng), chunks(text, 5))
    consumer = consume(events)
    assert "ann.lee@example.org" not in "".join(consumer.shown), "the original must never be released"
    assert not any("@" in (e.text or "") for e in events if e.type == "text")
    assert consumer.text == text.replace("ann.lee@example.org", "[email]")
    redactions = [e for e in events if e.type == "redaction" and e.finding is not None]
    assert len(redactions) == 1
    r = redactions[0]
    assert r.finding is not None and r.finding.code == "GRT001" and r.text == "[email]"
    assert r.offset == consumer.text.index("[email]")
    assert r.finding.span.start == text.index("ann.lee")
    # The finding comes before the text containing its redaction.
    idx = events.index(r)
    first_text_with = next(i for i, e in enumerate(events) if e.type == "text" and "[email]" in (e.text or ""))
    assert idx < first_text_with
    assert events[-1].report is not None and events[-1].report.verdict is Verdict.REPAIRED
    assert not any(e.type == "retract" for e in events)


def test_address_split_across_many_tiny_chunks_is_never_leaked(eng: Any) -> None:
    text = "x" * 300 + " contact: bob@mail.example.com " + "y" * 300
    events = run(StreamValidator(eng), chunks(text, 1))
    shown = "".join(e.text or "" for e in events if e.type == "text")
    assert "bob@" not in shown and "mail.example.com" not in shown
    assert consume(events).text == text.replace("bob@mail.example.com", "[email]")


def test_warn_findings_are_reported_and_text_still_flows(eng: Any) -> None:
    text = LONG_CLEAN + "It is probably fine. " + LONG_CLEAN
    events = run(StreamValidator(eng), chunks(text, 9))
    warn = [e for e in events if e.type == "finding" and e.finding and e.finding.code == "GRT004"]
    assert len(warn) == 1
    assert consume(events).text == text


def test_streaming_check_needing_regeneration_retracts_and_stops_release(eng: Any) -> None:
    text = LONG_CLEAN * 2 + "Your returns are guaranteed. " + LONG_CLEAN
    v = StreamValidator(eng)
    events: list[StreamEvent] = []
    for part in chunks(text, 8):
        events += v.feed(part)
    retracts = [e for e in events if e.type == "retract"]
    assert retracts and retracts[0].offset == 0 and "GRT002" in (retracts[0].reason or "")
    i = events.index(retracts[0])
    assert not any(e.type == "text" for e in events[i:]), "nothing is released after a retract"
    finding_idx = next(
        j for j, e in enumerate(events) if e.type == "finding" and e.finding and e.finding.code == "GRT002"
    )
    assert finding_idx < i
    shown = "".join(e.text or "" for e in events if e.type == "text")
    assert "guaranteed" not in shown
    tail = v.finish()
    assert tail[-1].type == "final" and tail[-1].report is not None
    assert tail[-1].report.verdict is Verdict.REGENERATE and tail[-1].report.regeneration is not None
    assert consume(events + tail).text == ""


def test_non_streaming_check_overturns_at_the_end_with_retract(eng_final: Any) -> None:
    text = LONG_CLEAN + "and then it"  # no full stop: the whole-output check wants a regeneration
    events = run(StreamValidator(eng_final), chunks(text, 6))
    texts = [e for e in events if e.type == "text"]
    assert texts, "streaming checks cleared the start, so it was released"
    retract = [e for e in events if e.type == "retract"]
    assert len(retract) == 1 and retract[0].offset == 0 and "GRT005" in (retract[0].reason or "")
    assert events.index(retract[0]) > events.index(texts[-1])
    assert events[-1].report is not None and events[-1].report.verdict is Verdict.REGENERATE
    # The unchecked tail was never shown: the consumer is told before it could be.
    assert "and then it" not in "".join(e.text or "" for e in texts)
    assert consume(events).text == ""


def test_release_final_never_retracts(eng_final: Any) -> None:
    text = LONG_CLEAN + "and then it"
    v = StreamValidator(eng_final, release="final")
    early = [e for part in chunks(text, 6) for e in v.feed(part)]
    assert early == []
    events = early + v.finish()
    assert [e.type for e in events] == ["finding", "final"]


def test_secret_blocks_and_retracts_from_zero(eng: Any) -> None:
    text = LONG_CLEAN + "token sk-abcdefghijklmnopqrstu " + LONG_CLEAN
    events = run(StreamValidator(eng), chunks(text, 11))
    assert any(e.type == "retract" and e.offset == 0 for e in events)
    assert events[-1].report is not None and events[-1].report.verdict is Verdict.BLOCK
    assert "sk-abc" not in "".join(e.text or "" for e in events if e.type == "text")


def test_short_stream_everything_at_finish(eng: Any) -> None:
    events = run(StreamValidator(eng), ["Hi ", "ann@example.org", "."])
    assert [e.type for e in events] == ["finding", "redaction", "text", "final"]
    assert consume(events).text == "Hi [email]."


def test_empty_stream(eng: Any) -> None:
    v = StreamValidator(eng)
    assert v.feed("") == []
    events = v.finish()
    assert [e.type for e in events] == ["final"]
    assert events[0].report is not None and events[0].report.output == ""


def test_misuse_is_an_error(eng: Any) -> None:
    v = StreamValidator(eng)
    with pytest.raises(TypeError, match="chunk must be str"):
        v.feed(b"bytes")  # type: ignore[arg-type]
    v.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        v.feed("x")
    with pytest.raises(RuntimeError, match="twice"):
        v.finish()


def test_events_are_json_serialisable_and_reach_listeners(eng: Any) -> None:
    seen: list[Any] = []
    events = run(StreamValidator(eng, listeners=[seen.append]), chunks(LONG_CLEAN + "a@b.co ", 13))
    assert [e for e in seen if isinstance(e, StreamEvent)] == events
    timed = [e for e in seen if isinstance(e, CheckTimed)]
    assert {t.rule_id for t in timed} == {r.rule.id for r in eng.rules}
    for e in events:
        data = json.loads(e.model_dump_json(exclude_none=True))
        assert data["type"] == e.type


def test_huge_and_hostile_input_is_bounded(eng: Any) -> None:
    v = StreamValidator(eng)
    events: list[StreamEvent] = []
    for _ in range(200):
        events += v.feed("a" * 997 + "\u202e")
        # The tail kept for scanning stays near the hold-back window however long the stream (plus the chunks
        # that arrive while a scan spread over calls runs).
        assert len(v._tail) <= v.hold_back + 2000 + 2 * v.scan_calls * 998
    events += v.finish()
    assert consume(events).text == "".join(["a" * 997 + "\u202e"] * 200)


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(["word ", "ünï ", "日本 ", "x@y.io ", "probably ", "\n", ". ", "sk-", "a" * 30]),
        max_size=60,
    ),
    size=st.integers(min_value=1, max_value=40),
)
def test_property_consumer_ends_with_the_report_output(pieces: list[str], size: int) -> None:
    eng = engine("guard-test")
    text = "".join(pieces)
    events = run(StreamValidator(eng), chunks(text, size))
    report = events[-1].report
    assert report is not None
    consumer = consume(events)
    if report.verdict.needs_action:
        assert consumer.text == ""
    else:
        assert consumer.text == report.output
    # Nothing the rules redact ever reached the consumer.
    assert not any("@y.io" in s for s in consumer.shown)


# -- JSON -----------------------------------------------------------------------------------------


DOC = {
    "name": "Ann Lee",
    "email": "ann@example.org",
    "tags": ["a", "b", 12345],
    "nested": {"ok": True, "n": None},
    "bio": "Ann writes about birds. " * 20,
}


def test_json_stream_is_cut_only_after_complete_values() -> None:
    eng = engine("guard-schema")
    text = json.dumps({**DOC, "age": 41}, indent=1)
    v = StreamValidator(eng, hold_back=0)
    events: list[StreamEvent] = []
    for part in chunks(text, 3):
        events += v.feed(part)
    released = ""
    assert sum(e.type == "text" for e in events) >= 3
    for e in events:
        if e.type == "text":
            released += e.text or ""
            # Every released prefix closes into valid JSON whose values are final.
            value = json.loads(released + (e.closers or ""))
            assert isinstance(value, dict)
    assert "ann@example.org" not in released
    tail = v.finish()
    assert consume(events + tail).text == text.replace("ann@example.org", "[email]")
    assert tail[-1].report is not None and tail[-1].report.verdict is Verdict.REPAIRED


def test_json_schema_failure_at_the_end_retracts() -> None:
    eng = engine("guard-schema")
    text = json.dumps({**DOC, "age": "forty-one"})
    events = run(StreamValidator(eng, hold_back=0), chunks(text, 4))
    assert any(e.type == "text" for e in events)
    assert any(e.type == "retract" and e.offset == 0 for e in events)
    report = events[-1].report
    assert report is not None and report.regeneration is not None
    assert report.regeneration.reasons[0].span is not None
    assert report.regeneration.reasons[0].span.pointer == "/age"


def test_broken_json_stops_release() -> None:
    eng = engine("guard-schema")
    text = '{"name": "Ann", "age": 4 1, "x": "' + "y" * 300 + '"}'
    v = StreamValidator(eng, hold_back=0)
    events = [e for part in chunks(text, 2) for e in v.feed(part)]
    shown = "".join(e.text or "" for e in events if e.type == "text")
    assert shown == '{"name": "Ann", "age": 4'  # "4" was complete; the stray "1" stopped the release
    tail = v.finish()
    assert tail[-1].report is not None and tail[-1].report.verdict is Verdict.REGENERATE


def test_json_detection_can_be_forced_off(eng: Any) -> None:
    v = StreamValidator(eng, json=False, hold_back=0, scan_calls=1)  # the scan in this very call
    assert v.hold_back == 200  # never below the streaming checks' lookbehind
    events = v.feed('{"a": "b' + "c" * 300)
    assert "".join(e.text or "" for e in events if e.type == "text") == '{"a": "b' + "c" * 100


def test_stream_findings_match_the_reports_findings(eng: Any) -> None:
    text = ("Line of text that is long enough.\n" * 20) + "  reach me: ann@example.org\n" + "More text here.\n" * 20
    events = run(StreamValidator(eng), chunks(text, 5))
    streamed = [e.finding for e in events if e.type == "redaction" and e.finding is not None]
    report = events[-1].report
    assert report is not None and len(streamed) == 1
    expected = next(f for f in report.findings if f.code == "GRT001")
    got = streamed[0]
    assert (got.span.start, got.span.end, got.span.line, got.span.column) == (
        expected.span.start,
        expected.span.end,
        expected.span.line,
        expected.span.column,
    )
    assert got.fingerprint == expected.fingerprint and got.fix == expected.fix
    assert got.evidence.matched == "ann@example.org"


def test_redactions_in_the_held_back_tail_are_reported_with_output_offsets(eng: Any) -> None:
    text = "Hi ann@example.org and bob@example.net, bye."
    events = run(StreamValidator(eng), chunks(text, 4))
    redactions = [e for e in events if e.type == "redaction"]
    out = consume(events).text
    assert out == "Hi [email] and [email], bye."
    assert [e.offset for e in redactions] == [3, 15]
    assert all(e.finding is not None and e.finding.code == "GRT001" for e in redactions)
    assert all(out[e.offset : e.offset + len(e.text or "")] == "[email]" for e in redactions if e.offset is not None)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(["ann@example.org", "plain", "日本語", 'q"uote', "line\nbreak", "x" * 80]),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(["a", "b", "mail", "ü"]), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=60, deadline=None)
@given(value=json_values, size=st.integers(min_value=1, max_value=30), indent=st.sampled_from([None, 2]))
def test_property_json_streams_release_only_closable_prefixes(value: Any, size: int, indent: int | None) -> None:
    eng = engine("guard-test")
    text = json.dumps({"data": value, "pad": "p" * 300}, indent=indent, ensure_ascii=False)
    events = run(StreamValidator(eng, min_release=1), chunks(text, size))
    report = events[-1].report
    assert report is not None
    released = ""
    for e in events:
        if e.type == "retract":
            break
        if e.type == "text" and e.closers is not None:
            released += e.text or ""
            json.loads(released + e.closers)
    consumer = consume(events)
    assert consumer.text == ("" if report.verdict.needs_action else report.output)
    assert "ann@example.org" not in "".join(consumer.shown)


def test_final_text_of_broken_json_has_no_closers(eng: Any) -> None:
    events = run(StreamValidator(eng), ['{"a": ', "[1, 2"])
    texts = [e for e in events if e.type == "text"]
    assert texts and texts[-1].closers is None
    events = run(StreamValidator(eng), ['{"a": ', "[1, 2]}"])
    assert [e.closers for e in events if e.type == "text"] == [""]


@pytest.mark.parametrize("release", ["final", "cleared"])
def test_a_held_stream_stays_linear(eng: Any, release: Any) -> None:
    v = StreamValidator(eng, release=release, scan_calls=1)
    v.feed("It is guaranteed. " + "z" * 300)  # halts a cleared stream; a final one holds everything anyway
    for _ in range(10_000):
        assert v.feed("abcd") == []
    # Held chunks are only kept, never re-scanned or re-copied into the scan window.
    assert len(v._tail) < 1000


# -- the bundled pii policy ---------------------------------------------------------------------------

EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0134"
PII_TEXT = (
    "Hello team, the quarterly report is ready for review and the figures look sound. " * 4
    + f"Please write to {EMAIL} or call {PHONE} if anything is unclear. "
    + "We will follow up next week with the final numbers and the appendix. " * 6
)


@pytest.fixture(scope="module")
def pii_engine() -> Engine:
    return Engine.from_policy("pii")


def _split(text: str, sizes: list[int]) -> list[str]:
    parts, i, n = [], 0, 0
    while i < len(text):
        size = sizes[n % len(sizes)]
        parts.append(text[i : i + size])
        i += size
        n += 1
    return parts


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=40))
def test_real_pii_policy_never_releases_an_email_or_phone(pii_engine: Engine, sizes: list[int]) -> None:
    v = StreamValidator(pii_engine)
    parts = _split(PII_TEXT, sizes)
    early: list[StreamEvent] = []
    for part in parts:
        early += v.feed(part)
    events = early + v.finish()
    report = events[-1].report
    assert report is not None and report.verdict is Verdict.REPAIRED
    texts = [e.text or "" for e in events if e.type == "text"]
    released = "".join(texts)
    for value in (EMAIL, PHONE):
        assert not any(value in t for t in texts) and value not in released
    assert "jane.doe" not in released and "555 0134" not in released
    # Both values sit far enough from the end to be redacted while the stream runs, not only at finish().
    redacted = {e.finding.code for e in early if e.type == "redaction" and e.finding is not None}
    assert redacted == {"PII001", "PII002"}
    assert not any(e.type == "retract" for e in events)
    assert released == report.output == consume(events).text
