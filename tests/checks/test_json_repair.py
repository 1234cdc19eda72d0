"""json_repair: every repair is an edit with its own code, inside its finding, verified to give valid JSON."""

from __future__ import annotations

import json

import pytest

from guardrails.findings import Verdict
from guardrails.rules.model import RepairSettings
from tests.checks._json_helpers import JSON_ENGINE, UNSAFE_ENGINE, codes, engine

CASES = [
    # (input, expected value, code that must fire)
    ('{"a": [1, 2,], "b": 3,}', {"a": [1, 2], "b": 3}, "JSON012"),
    ("{'name': 'Zoë \"Z\"', 'it': 'won\\'t'}", {"name": 'Zoë "Z"', "it": "won't"}, "JSON013"),
    ('{name: "Ana", città: Roma}', {"name": "Ana", "città": "Roma"}, "JSON014"),
    ('{"a": 1, // count\n "b": 2 /* end */, # py\n "c": 3}', {"a": 1, "b": 2, "c": 3}, "JSON015"),
    ('{"value": 82_461_110, "r": .5, "n": +3}', {"value": 82461110, "r": 0.5, "n": 3}, "JSON017"),
    ('{"employees": ["John", "Anna", "Peter"', {"employees": ["John", "Anna", "Peter"]}, "JSON019"),
    ('{"poem": "line one\nline\ttwo"}', {"poem": "line one\nline\ttwo"}, "JSON020"),
    ('{"html": "<a href="x">link</a>"}', {"html": '<a href="x">link</a>'}, "JSON021"),
    ('["a" "b" "c"]', ["a", "b", "c"], "JSON022"),
    ('{"a": {"b": [1, 2}, "c": 3}', {"a": {"b": [1, 2]}, "c": 3}, "JSON023"),
    ('{"regex": "^\\d+$"}', {"regex": "^\\d+$"}, "JSON024"),
    ('```json\n{"a": 1}\n```', {"a": 1}, "JSON010"),
    ('Here you go: {"a": 1} Let me know!', {"a": 1}, "JSON011"),
    ('{"ключ": "значение", "数": 1,}', {"ключ": "значение", "数": 1}, "JSON012"),
    ('{"when": 2024-05-01, "at": 10:30}', {"when": "2024-05-01", "at": "10:30"}, "JSON014"),
    ('{"ok": True, "v": None}', {"ok": True, "v": None}, "JSON016"),
]

# Repairs that change structure or may lose a value: never applied as safe (a regeneration names what a
# repair would only guess); with allow_unsafe they apply, and the fix's title says what they changed.
UNSAFE_CASES = [
    # (input, value with allow_unsafe, what the regeneration request names)
    ('{"ok": True, "p": (1, 2)}', {"ok": True, "p": [1, 2]}, "parenthesised value"),
    ('{"a": ["x", "y"}, "b": 1}', {"a": ["x", "y"], "b": 1}, "moved to another container"),
    ("{'a', 'b'}", ["a", "b"], "became '['"),
    ('{"s": {"x", "y"}, "n": 1}', {"s": ["x", "y"], "n": 1}, "became '['"),
    ('["key": "value", "k2": 2]', [{"key": "value", "k2": 2}], "container invented"),
    ('{"a": "x, "b": "y"}', {"a": 'x, "b": "y'}, "merged into the string"),
]


@pytest.mark.parametrize(("text", "unsafe_value", "named"), UNSAFE_CASES)
def test_lossy_repairs_are_unsafe(text: str, unsafe_value: object, named: str) -> None:
    report = JSON_ENGINE.validate(text)
    assert report.verdict is Verdict.REGENERATE
    assert report.output == text
    invalid = [f for f in report.findings if f.code == "JSON002"]
    assert named in invalid[0].message
    assert named in invalid[0].evidence.details["repair_loses"]
    unsafe = UNSAFE_ENGINE.validate(text)
    assert unsafe.verdict is Verdict.REPAIRED
    assert json.loads(unsafe.output) == unsafe_value
    assert any(named in a.fix_title and not a.safe for a in unsafe.edits)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}, "b": 2}',  # a stray '}' before more members
        '{"a": 1, "b": {"c": 2}}, "d": 3}',
        '{"a": 1} {"b": 2}',  # concatenated values
        '{"a": 1}\n[1, 2]',
    ],
)
def test_dropping_what_may_be_data_is_never_safe(text: str) -> None:
    report = JSON_ENGINE.validate(text)
    assert report.verdict is Verdict.REGENERATE
    assert report.output == text
    assert any(f.code == "JSON011" and f.fix is not None and not f.fix.safe for f in report.findings)


def test_an_element_after_a_string_in_an_array_is_a_lost_comma() -> None:
    # '"c" 1': the quote closed "c" (a number follows, then the end); the text ending in a number is a guess.
    text = '["a" "b" "c" 1'
    assert JSON_ENGINE.validate(text).verdict is Verdict.REGENERATE
    assert json.loads(UNSAFE_ENGINE.validate(text).output) == ["a", "b", "c", 1]


def test_a_string_cut_mid_way_is_not_a_safe_fix() -> None:
    # '"Pet' may have been "Peter": closing it delivers a fragment as if it were the value.
    text = '{"employees": ["John", "Anna", "Pet'
    assert JSON_ENGINE.validate(text).verdict is Verdict.REGENERATE
    unsafe = UNSAFE_ENGINE.validate(text)
    assert json.loads(unsafe.output) == {"employees": ["John", "Anna", "Pet"]}
    assert any("cut off mid-way" in a.fix_title and not a.safe for a in unsafe.edits)


def test_lone_quote_at_the_end_is_a_guess_closed_at_the_last_member() -> None:
    # '["a", "' may be '["a", ""]' with its last quote and bracket lost: dropping the quote is unsafe.
    assert JSON_ENGINE.validate('["a", "').verdict is Verdict.REGENERATE
    report = UNSAFE_ENGINE.validate('["a", "')
    assert report.verdict is Verdict.REPAIRED
    assert json.loads(report.output) == ["a"]
    assert any("lone quote" in a.fix_title and not a.safe for a in report.edits)


@pytest.mark.parametrize(("text", "expected", "code"), CASES)
def test_repairs(text: str, expected: object, code: str) -> None:
    report = JSON_ENGINE.validate(text)
    assert code in codes(report)
    assert report.verdict is Verdict.REPAIRED
    assert json.loads(report.output) == expected
    for f in report.findings:
        if f.fix is not None:
            for e in f.fix.edits:
                assert f.span.start <= e.start <= e.end <= f.span.end
    # every applied edit names the rule that proposed it
    assert all(a.edit.code and a.edit.code.startswith("JSON") for a in report.edits)


def test_each_repair_has_its_own_finding_and_span() -> None:
    text = "{'a': 1, 'b': [True, None,],}"
    report = JSON_ENGINE.validate(text)
    by_code: dict[str, list[str]] = {}
    for f in report.findings:
        by_code.setdefault(f.code, []).append(text[f.span.start : f.span.end])
    assert by_code["JSON013"] == ["'a'", "'b'"]
    assert by_code["JSON016"] == ["True", "None"]
    assert by_code["JSON012"] == [",", ","]
    assert json.loads(report.output) == {"a": 1, "b": [True, None]}


def test_unsafe_repairs_need_permission() -> None:
    text = '{"score": NaN, "items": [1, 2, ...]}'
    assert JSON_ENGINE.validate(text).verdict is Verdict.REGENERATE
    report = UNSAFE_ENGINE.validate(text)
    assert report.verdict is Verdict.REPAIRED
    assert json.loads(report.output) == {"score": None, "items": [1, 2]}
    assert {"JSON018", "JSON025"} <= set(codes(report))
    assert all(not a.safe for a in report.edits if a.edit.code in ("JSON018", "JSON025"))


def test_truncated_dangling_key_is_unsafe() -> None:
    text = '{"a": 1, "b'
    assert JSON_ENGINE.validate(text).verdict is Verdict.REGENERATE
    assert json.loads(UNSAFE_ENGINE.validate(text).output) == {"a": 1}


def test_dropping_text_that_also_looks_like_json_is_unsafe() -> None:
    text = 'Draft: {"a": 1, oops [} Final: {"a": 2}'
    report = engine(repair=RepairSettings(enabled=True)).validate(text, {"schema": {"type": "object"}})
    [f] = [f for f in report.findings if f.code == "JSON011"]
    assert f.fix is not None and not f.fix.safe
    assert report.verdict is Verdict.REGENERATE


def test_unrepairable_json_asks_for_regeneration() -> None:
    report = JSON_ENGINE.validate('{"a": 1 ::: "b"}')
    assert report.verdict is Verdict.REGENERATE
    assert "JSON002" in codes(report)
    assert report.output == report.original


def test_many_occurrences_are_grouped() -> None:
    text = "[" + ", ".join(f"'v{i}'" for i in range(100)) + "]"
    report = JSON_ENGINE.validate(text)
    hits = [f for f in report.findings if f.code == "JSON013"]
    assert len(hits) == 20
    assert hits[-1].evidence.details["occurrences"] == 81
    assert json.loads(report.output) == [f"v{i}" for i in range(100)]


@pytest.mark.usefixtures("unscaled_deadlines")
def test_repair_is_bounded_in_time() -> None:
    text = "{" + ", ".join(f"k{i}: 'v{i}'" for i in range(200_000))  # ~3 MB of broken, truncated JSON
    report = engine(deadline_ms=50, max_output_chars=10_000_000).validate(text)
    assert "ENG002" in codes(report)
    assert report.verdict is Verdict.BLOCK


def test_text_and_fences_around_json_get_one_finding_per_side() -> None:
    text = 'Here you go:\n```json\n{"a": 1}\n```\nAnything else?'
    report = JSON_ENGINE.validate(text)
    around = [(f.code, text[f.span.start : f.span.end]) for f in report.findings if f.code in ("JSON010", "JSON011")]
    assert around == [("JSON011", "Here you go:\n```json\n"), ("JSON011", "\n```\nAnything else?")]
    assert report.output == '{"a": 1}'
    text = '```json\n{"a": 1}\n```'
    report = JSON_ENGINE.validate(text)
    assert [text[f.span.start : f.span.end] for f in report.findings] == ["```json\n", "\n```"]
    assert report.output == '{"a": 1}'
