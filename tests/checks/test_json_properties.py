"""Properties of the JSON checks: valid JSON is never changed, repair is idempotent, spans and edits are sane."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.findings import Report, Verdict
from guardrails.jsonparse.locate import pointer_from_path
from guardrails.jsonparse.tolerant import apply, repair_region
from guardrails.jsonparse.view import build_view
from tests.checks._json_helpers import JSON_ENGINE, UNSAFE_ENGINE

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)

# Text built from JSON's own punctuation and LLM habits: the inputs the tolerant parser must survive.
_PIECES = [*list("{}[]():,\"'\\/*#` \n\t.-+_0123456789eEaxTrueFalsNnIfiy…é中"), "```json\n", "...", '"k": ', "None"]
jsonish = st.lists(st.sampled_from(_PIECES), max_size=60).map("".join)
# Lone surrogates: what bytes decoded with errors="surrogateescape" look like.
surrogate_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xDFFF), max_size=40)
any_text = st.one_of(
    surrogate_text, st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")), jsonish
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_report(report: Report) -> None:
    n = len(report.original)
    for f in report.findings:
        assert 0 <= f.span.start <= f.span.end <= n
        if f.fix is not None:
            for e in f.fix.edits:
                assert f.span.start <= e.start <= e.end <= f.span.end
    for _, edits in itertools.groupby(report.edits, key=lambda a: a.round):
        ordered = sorted((a.edit for a in edits), key=lambda e: (e.start, e.end))
        for a, b in itertools.pairwise(ordered):
            assert not a.conflicts(b)


@SETTINGS
@given(json_values, st.sampled_from([None, 2, 0]), st.booleans())
def test_valid_json_is_never_changed(value: Any, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    report = JSON_ENGINE.validate(text)
    assert report.output == text
    assert report.verdict is Verdict.PASS, report.findings
    assert report.edits == []


@SETTINGS
@given(any_text)
def test_engine_never_raises_and_spans_are_sane(text: str) -> None:
    for engine in (JSON_ENGINE, UNSAFE_ENGINE):
        report = engine.validate(text)
        assert not [d for d in report.degraded if d.reason == "error"], report.degraded
        _check_report(report)


@SETTINGS
@given(any_text)
def test_repair_is_idempotent(text: str) -> None:
    once = UNSAFE_ENGINE.validate(text).output
    twice = UNSAFE_ENGINE.validate(once)
    assert twice.output == once


@SETTINGS
@given(jsonish)
def test_offered_repairs_always_give_valid_json(text: str) -> None:
    start = next((i for i, c in enumerate(text) if c in "{["), None)
    if start is None:
        return
    result = repair_region(text, start)
    if result.ok:
        repaired = apply(text, start, result.end, result.repairs)
        json.loads(repaired)
        assert build_view(repaired, expect_json=True).repairs == []
        for r in result.repairs:
            for e in r.edits:
                assert r.start <= e.start <= e.end <= r.end


@SETTINGS
@given(json_values)
def test_every_pointer_locates_its_value(value: Any) -> None:
    text = json.dumps(value, indent=1)
    view = build_view(text, expect_json=True)

    def walk(v: Any, path: tuple[str | int, ...]) -> None:
        found = view.locate(list(path))
        assert found is not None
        assert json.loads(text[found.start : found.end]) == v or v != v
        assert view.pointer_at(found.start) == pointer_from_path(path)  # span -> pointer, the other way
        if isinstance(v, dict):
            for k, child in v.items():
                walk(child, (*path, k))
        elif isinstance(v, list):
            for i, child in enumerate(v):
                walk(child, (*path, i))

    walk(view.value, ())
