"""Whatever the chunking, a stream shows only checked text: a property over generated outputs and chunk cuts.

For every output built from clean prose, things the streaming checks flag (e-mail addresses they redact,
links to hosts nobody allowed, secrets) and long tokens, cut into arbitrary chunks:

* text released while streaming is a prefix of the final Report's delivered output, and is never retracted,
  when the final verdict lets the answer through;
* when the verdict withholds the answer, no character of a span a streaming check flagged was ever shown
  unredacted (the flagged text itself is never released; what came before it may be, and is then retracted).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import Context, Engine
from guardrails.guard import StreamValidator

FRAGMENTS = [
    "The quarterly report shows revenue grew by four percent. ",
    "Customers in the north renewed at a higher rate. ",
    "Write to analysts@example.com for the raw figures. ",
    "See https://docs.example.com/guide for the setup. ",
    "See https://docs.example.com.attacker.net/guide for the setup. ",
    "Our reference is doi:10.1234/abcd.5678 here. ",
    "password: Xq3vT9bLm2Rk8WzP ",
    "x" * 150 + " ",
    "Die Zahlen werden nächste Woche veröffentlicht. ",
    "\n\n",
    '{"contact":"analysts@example.com","link":"https://docs.example.com.attacker.net/x","n":[1,2]} ',
    '<p>Mail <a href="mailto:analysts@example.com">analysts@example.com</a> or see https://example.org/x</p>',
]


@pytest.fixture(scope="module")
def default() -> Engine:
    return Engine.from_policy("default")


def _cuts(text: str, sizes: list[int]) -> list[str]:
    parts, i, k = [], 0, 0
    while i < len(text):
        n = sizes[k % len(sizes)]
        parts.append(text[i : i + n])
        i, k = i + n, k + 1
    return parts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8),
)
def test_released_text_is_checked_and_never_retracted(default: Engine, picks: list[str], sizes: list[int]) -> None:
    text = "".join(picks)
    v = StreamValidator(default, Context(allowed_domains=["example.com"]))
    shown = ""
    ever_shown: list[tuple[int, str]] = []  # (characters received, text shown) after each release
    received = 0
    retracted_while_streaming = False
    for part in _cuts(text, sizes):
        received += len(part)
        for e in v.feed(part):
            if e.type == "text" and e.text:
                shown += e.text
                ever_shown.append((received, shown))
            elif e.type == "retract":
                retracted_while_streaming = True
                shown = shown[: e.offset or 0]
    events = v.finish()
    final = events[-1]
    assert final.type == "final" and final.report is not None
    report = final.report
    if not report.verdict.needs_action:
        assert not retracted_while_streaming
        assert not any(e.type == "retract" for e in events), [e.reason for e in events if e.type == "retract"]
        for _, s in ever_shown:
            assert report.output.startswith(s)
    streaming_rules = {r.rule.id for r in v.rules}
    for finding in report.findings:
        if finding.rule_id not in streaming_rules:
            continue
        flagged = text[finding.span.start : finding.span.end]
        for _, s in ever_shown:
            assert flagged not in s, f"{finding.rule_id} span {flagged!r} was shown"


# Sentences whose statistic a sentence-bounded rule (unsourced-statistic, private-source-statistic) judges only
# once the sentence has ended: a source named late in the sentence clears it, a figure late in it completes it.
_LATE = "that customers who read the whole onboarding guide before the first purchase stay with the service for longer"
STATISTICS = [
    f"Studies show {_LATE} (Smith, Jones and Brown, Oxford 2020). ",
    f"Studies show {_LATE}. ",
    # the rule's gap crosses an ideographic full stop, which therefore ends no sentence
    f"Studies show {_LATE} in every region\u3002Smith et al. agree. ",
    "A recent survey found\nthat most users skip onboarding. ",
    f"Our internal research on {_LATE[:60]} across every region we serve in the north and south found 40% more. ",
    # the look-behind for a source named earlier reads ~100 characters before the percentage
    "According to the national statistics office survey published in the spring of this year, about 60% of adults "
    "sleep well. ",
    "Revenue grew by 4.2 percent. ",
    "欧州の数字は来週発表されます。",
    "The quarterly report shows revenue grew by four percent. ",
    "Customers in the north renewed at a higher rate. ",
]
_SENTENCE_END = re.compile(r"[.!?]\s|\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.sampled_from(STATISTICS), min_size=1, max_size=10),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8),
)
def test_a_sentence_bounded_rule_is_settled_only_after_its_sentence_ends(
    default: Engine, picks: list[str], sizes: list[int]
) -> None:
    text = "".join(picks)
    v = StreamValidator(default)
    bounded = {r.rule.id for r in v.rules if r.check.boundary == "sentence"}
    assert {"unsourced-statistic", "private-source-statistic"} <= bounded
    received = ""
    retracted = False
    streamed = set()
    for part in _cuts(text, sizes):
        received += part
        for e in v.feed(part):
            if e.type == "finding" and e.finding is not None and e.finding.rule_id in bounded:
                after = received[e.finding.span.end :]
                assert _SENTENCE_END.search(after), f"{e.finding.rule_id} settled mid-sentence: {after!r}"
                streamed.add((e.finding.rule_id, e.finding.span.start, e.finding.span.end))
            retracted = retracted or e.type == "retract"
    final = v.finish()[-1]
    assert final.report is not None
    # What the stream settled is what the whole output says: the rest of a sentence changed nothing.
    assert streamed <= {(f.rule_id, f.span.start, f.span.end) for f in final.report.findings}
    if not final.report.verdict.needs_action:
        assert not retracted and not v.halted
        assert v.released == final.report.output


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.sampled_from(FRAGMENTS + STATISTICS), min_size=1, max_size=12),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    calls=st.sampled_from([2, 8, 16]),
)
def test_spreading_a_scan_over_calls_changes_when_text_is_released_never_what(
    default: Engine, picks: list[str], sizes: list[int], calls: int
) -> None:
    text = "".join(picks)
    outcomes = []
    for scan_calls in (1, calls):
        v = StreamValidator(default, Context(allowed_domains=["example.com"]), scan_calls=scan_calls)
        events = [e for part in _cuts(text, sizes) for e in v.feed(part)] + v.finish()
        report = events[-1].report
        assert report is not None
        # Every finding is reported once, while streaming or at the end (which of the two depends on when the
        # scans ran); what was released, redactions applied, is compared whole.
        findings = sorted(
            (e.finding.rule_id, e.finding.span.start, e.finding.span.end)
            for e in events
            if e.type == "finding" and e.finding is not None
        )
        report_data = report.model_dump(exclude={"elapsed_ms", "timings"})
        outcomes.append((v.released, findings, report_data))
    assert outcomes[0] == outcomes[1]
