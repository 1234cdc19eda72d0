"""json_syntax: finding the JSON, syntax errors to the character, depth limits, duplicate keys."""

from __future__ import annotations

import json

import pytest

from guardrails import Engine
from guardrails.findings import Verdict
from guardrails.jsonparse.view import build_view
from tests.checks._json_helpers import JSON_ENGINE, NO_REPAIR_ENGINE, codes, engine


def test_valid_json_passes_untouched() -> None:
    text = '  {"name": "Zoë", "n": 12345678901234567890, "x": [1.5e300, -0.0]}\n'
    report = JSON_ENGINE.validate(text)
    assert report.verdict is Verdict.PASS
    assert report.output == text
    assert report.findings == []


def test_invalid_json_located_to_the_character() -> None:
    text = '{\n  "a": 1,\n  "b": [1, 2,, 3]\n}'
    report = NO_REPAIR_ENGINE.validate(text)
    [f] = [f for f in report.findings if f.code == "JSON002"]
    assert (f.span.line, f.span.column) == (3, 14)
    assert text[f.span.start] == ","
    assert "line 3, column 14" in f.message
    assert f.evidence.details["repairable"] is True


def test_no_json_when_expected() -> None:
    report = JSON_ENGINE.validate("I'm sorry, I can't do that.")
    assert codes(report) == ["JSON001"]
    assert report.verdict is Verdict.REGENERATE
    assert report.regeneration is not None


def test_prose_is_left_alone_when_json_is_not_expected() -> None:
    engine = Engine.from_policy("default")
    for text in ["{Note} this is prose, not JSON.", "See [1] and [2", "Plain text.", "{{user}} wrote [this]"]:
        report = engine.validate(text)
        assert not [f for f in report.findings if f.code.startswith("JSON")], text
        assert report.output == text


def test_candidates_largest_by_default() -> None:
    text = 'Example: {"a": 1}. The answer: {"name": "Ana", "age": 42} (see [1]).'
    view = build_view(text, expect_json=True)
    assert view.strict and view.value == {"name": "Ana", "age": 42}
    assert view.candidates == 3
    assert build_view(text, expect_json=True, pick="first").value == {"a": 1}
    assert build_view(text, expect_json=True, pick="last").value == [1]


def test_fenced_json_wins_over_prose_braces() -> None:
    text = 'Use {braces} like this:\n```json\n{"ok": true}\n```\n'
    view = build_view(text, expect_json=True)
    assert view.value == {"ok": True}
    assert text[view.start : view.end] == '{"ok": true}'


def test_nan_and_infinity_are_not_json() -> None:
    report = NO_REPAIR_ENGINE.validate('{"a": 1, "b": NaN}')
    [f] = [f for f in report.findings if f.code == "JSON002"]
    assert report.original[f.span.start : f.span.start + 3] == "NaN"


def test_deep_nesting_is_a_finding_not_a_crash() -> None:
    for text in ["[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000]:
        report = JSON_ENGINE.validate(text)
        assert "JSON003" in codes(report), text[:10]
        assert report.verdict is Verdict.BLOCK
        assert not report.degraded or all(d.reason != "error" for d in report.degraded)


def test_valid_but_deeper_than_the_limit() -> None:
    text = "[" * 600 + "1" + "]" * 600  # fine for json.loads, past max_depth 512
    report = JSON_ENGINE.validate(text, {"schema": {"type": "array"}})
    assert codes(report) == ["JSON003"]
    assert report.output == text
    shallow = "[" * 500 + "1" + "]" * 500
    assert JSON_ENGINE.validate(shallow, {"schema": {"type": "array"}}).findings == []


def test_duplicate_keys_located() -> None:
    text = '{"id": 1, "név": "a", "név": "b"}'
    assert JSON_ENGINE.validate(text).findings == []  # a preview rule: off unless asked for
    report = engine(include_preview=True).validate(text)
    [f] = [f for f in report.findings if f.code == "JSON004"]
    assert text[f.span.start : f.span.end] == '"név"'
    assert f.span.start == text.rindex('"név"')
    assert report.output == text  # a warning: valid JSON is never changed


def test_non_english_and_invalid_utf8_input() -> None:
    raw = '{"名前": "山田", "ciudad": "Málaga", "bad": "\xff\xfe"}'.encode("utf-8", "surrogatepass")
    text = (raw + b"\xff\xfe").decode("utf-8", errors="replace")
    report = JSON_ENGINE.validate(text)
    assert report.verdict is not Verdict.PASS  # the replacement chars after the JSON are text around it
    assert json.loads(report.output)["名前"] == "山田"


@pytest.mark.usefixtures("unscaled_deadlines")
def test_ten_megabytes() -> None:
    big = json.dumps({"items": [{"id": i, "text": "x" * 80} for i in range(100_000)]})
    assert len(big) > 10_000_000
    assert codes(JSON_ENGINE.validate(big)) == ["ENG003"]  # the policy's size limit comes first
    roomy = engine(max_output_chars=20_000_000)
    report = roomy.validate(big)
    assert report.verdict is Verdict.PASS and report.output == big
    # 10 MB of broken JSON: the tolerant parser is cut off by the deadline, with a finding, not a hang.
    broken = big.replace('"', "'")[:-3]
    report = engine(max_output_chars=20_000_000, deadline_ms=200).validate(broken)
    assert "ENG002" in codes(report)
    assert report.verdict is Verdict.BLOCK


@pytest.mark.parametrize("text", ["", "   ", "\x00", "{", "[", '"', "```", "```json\n```", "}{", "][", "\ufeff{}"])
def test_degenerate_inputs_never_raise(text: str) -> None:
    report = JSON_ENGINE.validate(text)
    assert not [d for d in report.degraded if d.reason == "error"], report.degraded


@pytest.mark.parametrize(
    "text",
    ['{"a": "\ud800"}', "{'a': '\udcff'}", '{"a": 1}\udc80', b"{'k': '\xff'}".decode("utf-8", "surrogateescape")],
)
def test_lone_surrogates_never_raise(text: str) -> None:
    report = JSON_ENGINE.validate(text)
    assert not [d for d in report.degraded if d.reason == "error"]
