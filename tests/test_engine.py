from __future__ import annotations

import asyncio
import shutil
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import Engine, FindingStatus, Report, Verdict
from guardrails.reviews.store import FrozenSuppressions
from tests.helpers import engine_with, rule

WORD = "tests.engine_checks:WordCheck"


def test_clean_output_passes(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, params={"word": "darn"}, action="block")])
    report = engine.validate("all fine here")
    assert report.verdict is Verdict.PASS
    assert report.findings == [] and report.output == "all fine here"
    assert [t.rule_id for t in report.timings] == ["bad-word"]


def test_finding_has_code_span_line_col_and_message(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        [rule("bad-word", "TST001", WORD, params={"word": "darn"}, action="review", message="Said {matched!r}")],
    )
    report = engine.validate("ok\nwell darn it")
    (f,) = report.findings
    assert (f.code, f.rule_id, f.span.start, f.span.end, f.span.line, f.span.column) == (
        "TST001",
        "bad-word",
        8,
        12,
        2,
        6,
    )
    assert f.message == "Said 'darn'"
    assert f.evidence.score == 1.0 and f.evidence.matched == "darn"
    assert report.verdict is Verdict.REVIEW


def test_verdict_is_strongest_open_action(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        [
            rule("warned", "TST001", WORD, params={"word": "a1"}, action="warn"),
            rule("reviewed", "TST002", WORD, params={"word": "b2"}, action="review"),
            rule("blocked", "TST003", WORD, params={"word": "c3"}, action="block"),
            rule("regenerated", "TST004", WORD, params={"word": "d4"}, action="regenerate"),
        ],
    )
    assert engine.validate("a1").verdict is Verdict.PASS
    assert engine.validate("a1 b2").verdict is Verdict.REVIEW
    assert engine.validate("a1 b2 d4").verdict is Verdict.REGENERATE
    assert engine.validate("d4 c3 b2").verdict is Verdict.BLOCK


def test_crashing_check_fails_closed(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("crashy", "TST001", "tests.engine_checks:CrashCheck")])
    report = engine.validate("anything")
    assert report.verdict is Verdict.BLOCK
    (f,) = report.findings
    assert f.code == "ENG001" and "RuntimeError: boom" in f.message
    assert report.degraded[0].reason.value == "error" and report.degraded[0].rule_id == "crashy"


def test_on_error_action_comes_from_policy(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("crashy", "TST001", "tests.engine_checks:CrashCheck")], on_error="review")
    assert engine.validate("x").verdict is Verdict.REVIEW


@pytest.mark.usefixtures("unscaled_deadlines")
@pytest.mark.parametrize("cooperative", [True, False])
def test_late_check_is_a_finding_not_a_pass(tmp_path: Path, cooperative: bool) -> None:
    engine = engine_with(
        tmp_path,
        [
            rule(
                "slow",
                "TST001",
                "tests.engine_checks:SleepCheck",
                params={"seconds": 0.2, "cooperative": cooperative},
                deadline_ms=20,
            )
        ],
    )
    report = engine.validate("x")
    assert [f.code for f in report.findings] == ["ENG002"]
    assert report.verdict is Verdict.BLOCK
    assert report.degraded[0].reason.value == "timeout"


def test_span_outside_text_is_a_check_failure(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-span", "TST001", "tests.engine_checks:BadSpanCheck")])
    report = engine.validate("abc")
    assert [f.code for f in report.findings] == ["ENG001"]


def test_repair_applies_safe_fix_and_revalidates(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path, [rule("bad-word", "TST001", WORD, action="repair", params={"word": "darn", "replacement": "d**n"})]
    )
    report = engine.validate("darn, darn")
    assert report.verdict is Verdict.REPAIRED
    assert report.output == "d**n, d**n"
    assert [f.status for f in report.findings] == [FindingStatus.REPAIRED] * 2
    assert [(e.round, e.edit.start, e.edit.end, e.edit.code) for e in report.edits] == [
        (1, 0, 4, "TST001"),
        (1, 6, 10, "TST001"),
    ]
    assert report.residual == []


def test_repair_never_edits_outside_the_finding(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        [
            rule(
                "bad-word",
                "TST001",
                WORD,
                action="repair",
                params={"word": "darn", "replacement": "", "edit_outside": True},
            )
        ],
    )
    report = engine.validate("keep this darn text")
    assert report.output == "keep this darn text" and report.edits == []
    assert report.verdict is Verdict.REGENERATE  # repair wanted, no usable fix: policy's unrepaired_action


def test_unsafe_fix_needs_policy_permission(tmp_path: Path) -> None:
    rules = [
        rule("bad-word", "TST001", WORD, action="repair", params={"word": "x9", "replacement": "y", "safe": False})
    ]
    assert engine_with(tmp_path / "a", rules).validate("x9").output == "x9"
    allowed = engine_with(tmp_path / "b", rules, repair={"allow_unsafe": True}).validate("x9")
    assert allowed.output == "y" and allowed.verdict is Verdict.REPAIRED and allowed.edits[0].safe is False


def test_repair_rounds_are_bounded(tmp_path: Path) -> None:
    # Each round turns "a" into "aa" which matches again: growth stops at max_rounds.
    engine = engine_with(
        tmp_path,
        [rule("a-word", "TST001", WORD, action="repair", params={"word": "a", "replacement": "ba"})],
        repair={"max_rounds": 3},
    )
    report = engine.validate("a")
    assert report.output == "bbba"
    assert max(e.round for e in report.edits) == 3
    assert report.verdict is Verdict.REGENERATE  # still open after the last round


def test_regeneration_request_names_what_to_change(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        [
            rule(
                "bad-word",
                "TST001",
                WORD,
                action="regenerate",
                params={"word": "darn"},
                instruction="Do not write {matched!r}.",
            )
        ],
    )
    report = engine.validate("oh darn")
    assert report.verdict is Verdict.REGENERATE
    assert report.regeneration is not None
    (item,) = report.regeneration.reasons
    assert item.code == "TST001" and item.instruction == "Do not write 'darn'." and item.excerpt == "oh darn"


def test_suppressed_findings_do_not_count(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, action="block", params={"word": "darn"})])
    fp = engine.validate("darn").findings[0].fingerprint
    engine.suppressor = lambda policy, rule_id, fingerprint: (policy, rule_id, fingerprint) == ("t", "bad-word", fp)
    report = engine.validate("well, darn")  # other offset, same fingerprint
    assert report.findings[0].status is FindingStatus.SUPPRESSED
    assert report.verdict is Verdict.PASS


def test_output_too_large_is_blocked_without_running_checks(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, params={"word": "a"})], max_output_chars=10)
    report = engine.validate("a" * 11)
    assert [f.code for f in report.findings] == ["ENG003"] and report.verdict is Verdict.BLOCK
    assert report.timings == []


def test_async_and_batch_match_validate(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, action="review", params={"word": "darn"})])
    texts = [f"text {i} {'darn' if i % 3 == 0 else ''}" for i in range(40)]
    expected = [engine.validate(t).model_dump(exclude={"elapsed_ms", "timings"}) for t in texts]
    pooled = engine.validate_many(texts, workers=2, chunksize=4)
    assert [r.model_dump(exclude={"elapsed_ms", "timings"}) for r in pooled] == expected
    async_report = asyncio.run(engine.avalidate(texts[0]))
    assert async_report.model_dump(exclude={"elapsed_ms", "timings"}) == expected[0]


def _stripped(reports: list[Report]) -> list[dict[str, object]]:
    return [r.model_dump(exclude={"elapsed_ms", "timings"}) for r in reports]


def test_validate_many_workers_resolve_override_files_beside_the_policy(tmp_path: Path) -> None:
    # The policy file lives outside any rules directory and points its override at a word list beside it:
    # a worker must compile it from that file, not from the policy's name.
    (tmp_path / "words.txt").write_text("wombat\n", encoding="utf-8")
    policy = {"name": "pooled", "rules": ["profanity"], "include_preview": True}
    policy["overrides"] = {"profanity": {"params": {"file": "words.txt"}}}
    (tmp_path / "pooled.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    engine = Engine.from_policy(str(tmp_path / "pooled.yaml"))
    texts = [f"line {i} {'a wombat' if i % 2 else 'a cat'}" for i in range(40)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to this process either
        pooled = engine.validate_many(texts, workers=2, chunksize=4)
    assert _stripped(pooled) == _stripped([engine.validate(t) for t in texts])
    assert sum(bool(r.findings) for r in pooled) == 20


def test_validate_many_workers_get_the_review_stores_suppressions(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, action="block", params={"word": "darn"})])
    fp = engine.validate("darn").findings[0].fingerprint
    engine.suppressor = FrozenSuppressions(frozenset({("t", "bad-word", fp)}))
    texts = [f"{i} darn" for i in range(40)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pooled = engine.validate_many(texts, workers=2, chunksize=4)
    assert {r.verdict for r in pooled} == {Verdict.PASS}
    assert {f.status for r in pooled for f in r.findings} == {FindingStatus.SUPPRESSED}


def test_validate_many_runs_here_when_workers_cannot_rebuild(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, action="block", params={"word": "darn"})])
    texts = [f"{i} darn" for i in range(40)]
    expected = _stripped([engine.validate(t) for t in texts])
    engine.suppressor = lambda policy, rule_id, fp: False  # a lambda does not pickle
    with pytest.warns(UserWarning, match="suppressor does not pickle"):
        assert _stripped(engine.validate_many(texts, workers=2, chunksize=4)) == expected
    engine.suppressor = None
    shutil.rmtree(tmp_path / "rules")  # the workers' ruleset is gone
    with pytest.warns(UserWarning, match="could not compile policy"):
        assert _stripped(engine.validate_many(texts, workers=2, chunksize=4)) == expected


def test_validate_many_checks_lengths(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, [rule("bad-word", "TST001", WORD, params={"word": "darn"})])
    with pytest.raises(ValueError, match="2 outputs but 1 contexts"):
        engine.validate_many(["a", "b"], [None])


_default = Engine.from_policy("default")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_engine_never_raises_and_spans_lie_inside(text: str) -> None:
    report = _default.validate(text)
    for f in report.findings:
        assert 0 <= f.span.start <= f.span.end <= len(text)
    for f in report.residual:
        assert 0 <= f.span.start <= f.span.end <= len(report.output)


@settings(max_examples=100, deadline=None)
@given(st.binary())
def test_engine_never_raises_on_bytes_decoded_as_text(raw: bytes) -> None:
    text = raw.decode("utf-8", errors="replace")
    report = _default.validate(text)
    assert report.verdict in set(Verdict)
    # Repair is idempotent: validating the delivered output changes nothing further.
    again = _default.validate(report.output)
    assert again.output == report.output


def test_lone_surrogates_become_replacement_characters() -> None:
    report = _default.validate("broken \udc80 bytes")
    assert report.original == "broken \ufffd bytes"
    assert "TXT001" in {f.code for f in report.findings}
    report.model_dump_json()  # serialisable: the HTTP and CLI JSON paths depend on it


@settings(max_examples=100, deadline=None)
@given(st.binary())
def test_surrogateescape_decoded_bytes_serialise(raw: bytes) -> None:
    report = _default.validate(raw.decode("utf-8", errors="surrogateescape"))
    assert report.model_dump_json()


def test_check_supplied_instruction_wins(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        [
            rule(
                "no-price", "TST001", "tests.engine_checks:InstructingCheck", action="regenerate", instruction="generic"
            )
        ],
    )
    report = engine.validate("text")
    assert report.regeneration is not None
    assert report.regeneration.reasons[0].instruction == "Fill the 'price' slot."


def test_regeneration_request_never_copies_a_masked_value() -> None:
    from guardrails.rules import Policy, compile_policy, load_ruleset

    overrides = {"email-address": {"action": "regenerate"}}
    base, path = load_ruleset().policy("pii")
    policy = Policy.model_validate({**base.model_dump(mode="json"), "overrides": overrides})
    engine = Engine(compile_policy(policy, load_ruleset(), path))
    report = engine.validate("Write to jane.doe@example.com today.")
    assert report.regeneration is not None
    dumped = report.regeneration.model_dump_json()
    assert "jane.doe@example.com" not in dumped
    assert report.regeneration.reasons[0].excerpt is None
