"""The engine's fast paths change no report: local re-checks after a repair, no repair when nothing was found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import Engine, load_ruleset
from guardrails import engine as engine_module
from guardrails.checks.base import Deadline, RunContext
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import CheckTiming, RecordedTimings, Report
from tests.helpers import engine_with, rule

ROOT = Path(__file__).resolve().parents[1]
RULESET = load_ruleset()


def _comparable(engine: Engine, text: str) -> dict[str, Any]:
    report = engine.validate(text).model_dump(mode="json")
    for key in ("elapsed_ms", "timings"):
        report.pop(key)
    return report


def _whole(engine: Engine) -> Engine:
    """The same compiled policy with every check re-run on the whole text after a repair (today's path)."""
    twin = Engine(engine.compiled, suppressor=engine.suppressor)
    twin._has_local = False
    return twin


def _texts() -> Iterator[str]:
    for loaded in RULESET.rules.values():
        for ex in (*loaded.rule.examples.match, *loaded.rule.examples.no_match):
            yield ex.text
    for path in sorted((ROOT / "fixtures").rglob("*")):
        if path.is_file() and path.suffix in {".txt", ".json", ".html", ".md", ".jsonl"}:
            yield path.read_text(encoding="utf-8", errors="replace")[:20_000]


@pytest.mark.parametrize("policy", ["default", "secrets", "pii"])
def test_bundled_policies_give_equal_reports_on_every_example_and_fixture(policy: str) -> None:
    engine = Engine.from_policy(policy, ruleset=RULESET)
    whole = _whole(engine)
    for text in _texts():
        assert _comparable(engine, text) == _comparable(whole, text), text[:200]


def _local_engine(tmp_path: Path) -> Engine:
    # Repairs that make new matches for each other: `fo+` becomes `bab`, and a free-standing `bab` is then
    # flagged and replaced; `xxx` runs are only reported. Short lookbehinds so the windows stay local.
    rules = [
        rule(
            "foo", "TST001", "regex", params={"pattern": "fo+", "replacement": "bab", "lookbehind": 8}, action="repair"
        ),
        rule(
            "bab",
            "TST002",
            "regex",
            params={"pattern": r"(?<![a-z])bab\b", "replacement": "[B]", "lookbehind": 8},
            action="repair",
        ),
        rule("xs", "TST003", "regex", params={"pattern": "x{3,}", "lookbehind": 8}, action="warn"),
        rule("tail", "TST004", "regex", params={"pattern": "ba$", "window": "tail", "window_chars": 40}, action="warn"),
    ]
    return engine_with(tmp_path, rules, repair={"enabled": True, "max_rounds": 3})


CHUNKS = st.sampled_from(["fo", "o", "foo", "ba", "b", "bab", " ", "\n", "x", "xxx", "y" * 40, "z " * 30, "é"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(CHUNKS, max_size=40).map("".join))
def test_local_rechecks_equal_whole_rechecks(tmp_path: Path, text: str) -> None:
    engine = _engine_cache.get("local") or _engine_cache.setdefault("local", _local_engine(tmp_path))
    assert _comparable(engine, text) == _comparable(_whole(engine), text)


_engine_cache: dict[str, Engine] = {}


def test_local_recheck_runs_only_around_the_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _local_engine(tmp_path)
    windows: list[int] = []
    real = engine_module._LocalHits._around_edits

    def spy(*args: Any, **kwargs: Any) -> Any:
        hits = real(*args, **kwargs)
        windows.append(hits is not None)
        return hits

    monkeypatch.setattr(engine_module._LocalHits, "_around_edits", staticmethod(spy))
    text = "a foo " + "y" * 400 + " bab " + "z" * 400 + " fo"
    report = engine.validate(text)
    assert report.output == "a [B] " + "y" * 400 + " [B] " + "z" * 400 + " [B]"
    assert report.verdict.value == "repaired"
    assert windows and all(windows)
    assert _comparable(engine, text) == _comparable(_whole(engine), text)


def test_rules_with_the_same_reach_share_each_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repair round's windows are one Document each, whichever local rules read them: their shared views (the
    policy's multi-pattern scan) are built once a window, not once a rule."""
    engine = _local_engine(tmp_path)
    made: list[str] = []

    class Counted(Document):
        __slots__ = ()

        def __init__(self, text: str) -> None:
            made.append(text)
            super().__init__(text)

    monkeypatch.setattr(engine_module, "Document", Counted)
    text = "a foo " + "y" * 400 + " bab " + "z" * 400 + " fo"
    report = engine.validate(text)
    assert report.verdict.value == "repaired"
    windows = [t for t in made if len(t) < len(report.output) - 10]
    assert windows and len(windows) == len(set(windows))  # 3 local rules, each window made once a round
    assert _comparable(engine, text) == _comparable(_whole(engine), text)


def test_a_clean_output_skips_repair_entirely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _local_engine(tmp_path)

    def no_repair(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("repair ran on a clean output")

    monkeypatch.setattr(Engine, "_repair", no_repair)
    report = engine.validate("nothing to see here")
    assert report.verdict.value == "pass" and report.edits == [] and len(report.timings) == 4


# -- lookbehinds: the stream's hold-back and the local re-check's reach --------------------------------------


def _streaming_rules() -> dict[str, Any]:
    """Every bundled rule whose check judges prefixes with a plain hold-back (no token/sentence boundary), as
    compiled by some bundled policy (so with the policy's params)."""
    out: dict[str, Any] = {}
    for name in sorted(RULESET.policies):
        for compiled in Engine.from_policy(name, ruleset=RULESET).rules:
            check = compiled.check
            if check.streaming and check.boundary is None and compiled.rule.id not in out:
                out[compiled.rule.id] = compiled
    return out


STREAMING_RULES = _streaming_rules()


def _spans(check: Any, text: str, context: Context | None) -> list[tuple[int, int]]:
    ctx = RunContext(Context.coerce(context), Deadline(None))
    return [(h.start, h.end) for h in check.run(Document(text), ctx)]


def _released(spans: list[tuple[int, int]], received: int, lookbehind: int) -> int:
    """Where the stream validator cuts after `received` characters (StreamValidator._advance): `lookbehind`
    before the end, held back to the start of any match that reaches into the unsettled tail."""
    cut = received - lookbehind
    for start, end in sorted(spans, reverse=True):
        if start < cut and end > received - lookbehind:
            cut = start
    return max(cut, 0)


@pytest.mark.parametrize("rule_id", sorted(STREAMING_RULES))
def test_every_example_settles_within_its_rules_lookbehind(rule_id: str) -> None:
    """What the stream releases is final: for every prefix of every example, the matches in the released text
    are exactly the whole text's matches there, and no match of the whole text straddles the cut. A lookbehind
    shorter than a rule's matches (or than its look-ahead) fails here."""
    compiled = STREAMING_RULES[rule_id]
    check, lookbehind = compiled.check, compiled.check.lookbehind
    examples = compiled.rule.examples
    for example in (*examples.match, *examples.no_match):
        text, context = example.text, example.context
        whole = _spans(check, text, context)
        for received in range(1, len(text) + 1):
            prefix = _spans(check, text[:received], context)
            cut = _released(prefix, received, lookbehind)
            seen = [s for s in prefix if s[1] <= cut]
            final = [s for s in whole if s[0] < cut]
            assert seen == final, f"{rule_id} (lookbehind {lookbehind}) after {received} chars of {text!r}"


@pytest.mark.parametrize("rule_id", sorted(STREAMING_RULES))
def test_every_example_match_fits_its_rules_lookbehind(rule_id: str) -> None:
    compiled = STREAMING_RULES[rule_id]
    lookbehind = max(compiled.check.lookbehind, 1)
    for example in compiled.rule.examples.match:
        spans = _spans(compiled.check, example.text, example.context)
        assert spans, f"{rule_id}: {example.text!r} does not match"
        assert all(end - start <= lookbehind for start, end in spans), (rule_id, lookbehind, example.text, spans)


def _short_lookbehind_engine(tmp_path: Path) -> Engine:
    # `\uFFFD+` with lookbehind 1 (enough for the stream, which holds a match back while it touches the tail),
    # only reported here, next to another rule's repair: its runs are longer than its lookbehind.
    rules = [
        rule(
            "foo", "TST001", "regex", params={"pattern": "fo+", "replacement": "bab", "lookbehind": 8}, action="repair"
        ),
        rule("fffd", "TST005", "regex", params={"pattern": "\ufffd+", "lookbehind": 1}, action="warn"),
    ]
    return engine_with(tmp_path, rules, repair={"enabled": True, "max_rounds": 3})


def test_a_match_longer_than_its_lookbehind_is_rechecked_on_the_whole_text(tmp_path: Path) -> None:
    engine = _short_lookbehind_engine(tmp_path)
    text = "a" + "\ufffd" * 30 + "foo" + "b" * 1000
    report = _comparable(engine, text)
    assert report == _comparable(_whole(engine), text)
    runs = [(f["span"]["start"], f["span"]["end"]) for f in report["findings"] if f["code"] == "TST005"]
    assert runs == [(1, 31)] and report["output"] == "a" + "\ufffd" * 30 + "bab" + "b" * 1000


RUNS = st.sampled_from(["\ufffd", "\ufffd" * 7, "\ufffd" * 40, "fo", "foo", "o", "x", " ", "y" * 50])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(RUNS, max_size=40).map("".join))
def test_local_rechecks_equal_whole_rechecks_with_matches_longer_than_the_lookbehind(tmp_path: Path, text: str) -> None:
    engine = _engine_cache.get("short") or _engine_cache.setdefault("short", _short_lookbehind_engine(tmp_path))
    assert _comparable(engine, text) == _comparable(_whole(engine), text)


# -- findings put together without validation ------------------------------------------------------------------


def _fields_sets(report: Any) -> list[Any]:
    return [
        (f.model_fields_set, f.span.model_fields_set, f.evidence.model_fields_set, repr(f))
        for f in (*report.findings, *report.residual)
    ]


def _validated_report(fields: dict[str, Any], given: frozenset[str]) -> Report:
    """The Report of the fields the engine gives, through pydantic's validation, timings built first (the engine
    records them as rows)."""
    values = {name: fields[name] for name in given}
    if isinstance(values["timings"], RecordedTimings):
        values["timings"] = values["timings"].build()
    return Report(**values)


@pytest.mark.parametrize("policy", ["default", "secrets", "pii", "json", "obscenity"])
def test_assembled_findings_equal_validated_ones(policy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine puts a hit's Finding, and the Report, together from already validated values; through pydantic's
    validation the same texts give equal reports, field for field, down to which fields count as set."""
    engine = Engine.from_policy(policy, ruleset=RULESET)
    texts = list(_texts())
    fast = [engine.validate(t) for t in texts]
    monkeypatch.setattr(engine_module, "_validated_already", lambda *args: False)
    monkeypatch.setattr(engine_module, "_assembled_report", _validated_report)
    for text, report in zip(texts, fast, strict=True):
        validated = engine.validate(text)
        assert report.findings == validated.findings and report.residual == validated.residual, text[:200]
        assert _fields_sets(report) == _fields_sets(validated), text[:200]
        assert report.model_fields_set == validated.model_fields_set
        assert report.model_copy(update={"elapsed_ms": 0.0, "timings": []}) == validated.model_copy(
            update={"elapsed_ms": 0.0, "timings": []}
        )
        assert [(t.rule_id, t.check) for t in report.timings] == [(t.rule_id, t.check) for t in validated.timings]
        assert all(type(t) is CheckTiming for t in report.timings)
        assert _comparable(engine, text) == {
            k: v for k, v in report.model_dump(mode="json").items() if k not in ("elapsed_ms", "timings")
        }


def test_a_hit_with_values_of_the_wrong_type_is_still_validated(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from guardrails.checks.base import Hit
    from guardrails.rules.model import Rule

    engine = _local_engine(tmp_path)
    rule_ = Rule(id="r", code="TST009", check="regex", message="m {matched}")
    doc = Document("some text")
    good = engine.finding_from_hit(rule_, Hit(0, 4), doc)
    assert good.span.start == 0 and good.evidence.matched == "some"
    with pytest.raises(ValidationError):
        engine.finding_from_hit(rule_, Hit(0, 4, pointer=7), doc)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        engine.finding_from_hit(rule_, Hit(4, 0), doc)


# -- timings made CheckTiming objects only when read -------------------------------------------------------------


def _eager(report: Report) -> Report:
    """The same report with its timings built now, as every reader sees them."""
    return report.model_copy(update={"timings": list(report.timings)})


def test_timings_the_engine_records_are_built_only_when_read(tmp_path: Path) -> None:
    """A validation records (rule, check, ms) rows and makes no CheckTiming objects until someone reads them; every
    way of reading a report (attribute, dumps, nested dumps, ==, repr, dict(), pickle, copies) sees the same list."""
    import copy
    import json
    import pickle

    from pydantic import BaseModel, TypeAdapter

    engine = _local_engine(tmp_path)
    text = "a foo, xxx and bab"  # found, repaired, checked again: timings of several passes
    stored = engine.validate(text).__dict__["timings"]
    assert not isinstance(stored, list) and len(stored.rows) > len(engine.rules)  # rows, not models, yet

    def fresh() -> Report:
        return engine.validate(text)

    built = _eager(fresh())
    assert all(type(t) is CheckTiming for t in built.timings) and len(built.timings) == len(stored.rows)
    assert built.edits and built.findings
    rows = [(t.rule_id, t.check) for t in built.timings]

    def normal(dumped: dict[str, Any]) -> dict[str, Any]:
        return {**dumped, "elapsed_ms": 0.0, "timings": [{**t, "ms": 0.0} for t in dumped["timings"]]}

    class Wrapper(BaseModel):
        report: Report

    for dump in (
        lambda r: r.model_dump(),
        lambda r: json.loads(r.model_dump_json()),
        lambda r: Wrapper(report=r).model_dump()["report"],
        lambda r: TypeAdapter(list[Report]).dump_python([r])[0],
        lambda r: pickle.loads(pickle.dumps(r)).model_dump(),
        lambda r: copy.deepcopy(r).model_dump(),
        lambda r: r.model_copy().model_dump(),
        lambda r: r.redacted().model_dump(),
        lambda r: {k: v if k != "timings" else [t.model_dump() for t in v] for k, v in dict(r).items()},
    ):
        lazy, eager = dump(fresh()), dump(_eager(fresh()))
        assert [(t["rule_id"], t["check"]) for t in lazy["timings"]] == rows
        assert normal(lazy) == normal(eager)
    assert fresh().model_dump(include={"timings": {0: {"check"}}})["timings"] == [{"check": rows[0][1]}]
    assert fresh().model_dump(exclude={"timings": {0: {"ms"}}})["timings"][0] == dict(
        zip(("rule_id", "check"), rows[0], strict=True)
    )
    report = fresh()
    pending = report.__dict__["timings"]
    eager = report.model_copy(update={"timings": pending.build()})  # report itself is not read: still rows
    assert report == eager and eager == report and report.model_copy() == report and repr(report) == repr(eager)
    assert report.__dict__["timings"] is pending
    assert report.timings == eager.timings and report.__dict__["timings"] is report.timings  # built once, kept
    assert report.model_json_schema(mode="serialization") == report.model_json_schema(mode="validation")
    assert not hasattr(Report, "timings")  # the class still has no attribute of that name, as pydantic makes it
    with pytest.raises(Exception, match="frozen"):
        report.timings = []  # type: ignore[misc]
