"""Unsafe readings (allow_unsafe): each delivers a value and records what it dropped, merged or invented.

Safe fixes never take them: the same inputs under the default policy ask for a regeneration or report.
"""

from __future__ import annotations

import json

from guardrails.context import Context
from guardrails.findings import Report, Verdict
from tests.checks._json_helpers import JSON_ENGINE, UNSAFE_ENGINE


def _value(report: Report) -> object:
    return json.loads(report.output)


def _titles(report: Report) -> str:
    """What the applied edits say they did (unsafe ones must say what they dropped or invented)."""
    return " | ".join(e.fix_title for e in report.edits)


def test_an_object_then_an_array_that_needs_repair_become_one_array() -> None:
    text = '{"key":"value"}[1,2,3,True]'
    unsafe = UNSAFE_ENGINE.validate(text)
    assert unsafe.verdict is Verdict.REPAIRED
    assert _value(unsafe) == [{"key": "value"}, [1, 2, 3, True]]
    assert "wrapped into one array, 1 of them repaired" in _titles(unsafe)
    safe = JSON_ENGINE.validate(text)
    assert safe.verdict is not Verdict.REPAIRED and safe.output == text


def test_two_fences_on_one_line_each_hold_a_part() -> None:
    text = 'lorem ```json {"key":"value"} ``` ipsum ```json [1,2,3,True] ``` 42'
    report = UNSAFE_ENGINE.validate(text)
    assert _value(report) == [{"key": "value"}, [1, 2, 3, True]]


def test_arrays_side_by_side_are_not_nested_into_another() -> None:
    report = UNSAFE_ENGINE.validate('[{"key":"value"}][{"key":"value_after"}]')
    assert _value(report) == [{"key": "value_after"}]


def test_prose_brackets_after_json_are_not_a_part() -> None:
    report = UNSAFE_ENGINE.validate('Example: {"a": 1}. The answer: {"name": "Ana", "age": 42} (see [1]).')
    assert _value(report) == {"name": "Ana", "age": 42}


def test_an_empty_opener_closed_by_the_array_around_it_is_dropped_not_closed() -> None:
    report = UNSAFE_ENGINE.validate("[{]")
    assert _value(report) == []
    assert "dropped the '{' at offset 1" in _titles(report)
    assert JSON_ENGINE.validate("[{]").verdict is not Verdict.REPAIRED


def test_an_empty_opener_as_an_object_value_is_still_closed() -> None:
    report = UNSAFE_ENGINE.validate('{"a": [}')
    assert _value(report) == {"a": []}


FILL = {
    "type": "object",
    "properties": {
        "from_default": {"default": "x"},
        "from_const": {"const": 7},
        "from_enum": {"enum": ["first", "second"]},
        "from_array_shape": {"items": {"type": "integer"}},
        "from_object_shape": {"properties": {"nested": {"type": "string"}}},
        "free": {"type": "string"},
    },
    "required": ["from_default", "from_const", "from_enum", "from_array_shape", "from_object_shape"],
}


def test_missing_required_fields_are_invented_from_the_schema_and_say_so() -> None:
    report = UNSAFE_ENGINE.validate('{"free": "a"}', Context(schema=FILL))
    assert report.verdict is Verdict.REPAIRED
    assert _value(report) == {
        "free": "a",
        "from_default": "x",
        "from_const": 7,
        "from_enum": "first",
        "from_array_shape": [],
        "from_object_shape": {},
    }
    titles = _titles(report)
    assert "invent the missing required fields" in titles and "(the schema's const)" in titles
    assert "(the schema enum's first value)" in titles
    assert JSON_ENGINE.validate('{"free": "a"}', Context(schema=FILL)).verdict is not Verdict.REPAIRED


def test_a_default_alone_is_still_a_safe_fix() -> None:
    schema = {"type": "object", "properties": {"n": {"default": 1}}, "required": ["n"]}
    report = JSON_ENGINE.validate("{}", Context(schema=schema))
    assert report.verdict is Verdict.REPAIRED and _value(report) == {"n": 1}


ITEMS = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "string"}}},
    "required": ["items"],
}


def test_a_string_holding_an_array_is_parsed_when_that_validates() -> None:
    report = UNSAFE_ENGINE.validate('{"items": "[a, b]"}', Context(schema=ITEMS))
    assert _value(report) == {"items": ["a", "b"]}
    assert "held an array" in _titles(report)
    assert JSON_ENGINE.validate('{"items": "[a, b]"}', Context(schema=ITEMS)).verdict is not Verdict.REPAIRED


def test_a_string_holding_no_array_is_still_wrapped() -> None:
    report = UNSAFE_ENGINE.validate('{"items": "a"}', Context(schema=ITEMS))
    assert _value(report) == {"items": ["a"]}


PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "tags"],
}


def test_an_array_becomes_an_object_by_the_schemas_property_order_only_when_it_validates() -> None:
    report = UNSAFE_ENGINE.validate('["hello", ["a", "b"]]', Context(schema=PERSON))
    assert _value(report) == {"name": "hello", "tags": ["a", "b"]}
    assert "(keys invented)" in _titles(report)
    wrong_order = UNSAFE_ENGINE.validate('[["a", "b"], "hello"]', Context(schema=PERSON))
    assert wrong_order.verdict is not Verdict.REPAIRED


LATEX = '{ "llm_reason": "curve $C: \\\\frac{x^2}{m}$ answer is {"blank_1": "5"}, correct is 4.", "llm_answer": "4" }'


def test_a_brace_the_string_opened_is_closed_inside_it_not_by_the_object() -> None:
    report = UNSAFE_ENGINE.validate(LATEX)
    assert _value(report) == {
        "llm_reason": 'curve $C: \\frac{x^2}{m}$ answer is {"blank_1": "5"}, correct is 4.',
        "llm_answer": "4",
    }
    assert JSON_ENGINE.validate(LATEX).verdict is Verdict.REGENERATE  # the inner quotes stay a guess


def test_a_closing_brace_followed_by_a_member_still_closes_the_object() -> None:
    text = '{"a": "see {x", "b": 1}'
    assert _value(JSON_ENGINE.validate(text)) == {"a": "see {x", "b": 1}
