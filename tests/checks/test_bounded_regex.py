"""_bounded_regex: caller patterns refused before compiling when they would unroll, searched under a deadline."""

from __future__ import annotations

import jsonschema
import pytest

from guardrails.checks import _bounded_regex as br
from guardrails.checks._json.schemas import compile_schema
from guardrails.checks.base import Deadline, DeadlineExceeded


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(?:(?:a{100}){100}){100}", "unrolls into more than"),
        ("(?:(?:(?:a{65535}){65535}){65535})", "unrolls into more than"),
        ("a" * (br.MAX_PATTERN_CHARS + 1), "characters long"),
        ("(", "invalid regular expression"),
        ("\\p{L}", "invalid regular expression"),  # the regex module knows it, stdlib re (and so jsonschema) not
        ("(?:" * 2000 + "a" + ")" * 2000, "nests too deeply"),
    ],
)
def test_refused_patterns_say_why(pattern: str, reason: str) -> None:
    with pytest.raises(br.UnsafePattern, match=reason):
        br.compile_pattern(pattern)


def test_refusals_are_value_errors_and_cached() -> None:
    pattern = "(?:(?:b{100}){100}){100}"
    for _ in range(2):
        with pytest.raises(ValueError, match="unrolls"):
            br.compile_pattern(pattern)
    assert br._compile.cache_info().hits >= 1


@pytest.mark.parametrize(
    ("pattern", "size"),
    [("abc", 3), ("a{5}", 6), ("(?:a{10}){10}", 111), ("a{0,1000}", 2), ("(a|b){3}", 1 + 3 + 3)],
)
def test_unrolled_size_multiplies_minimum_counts(pattern: str, size: int) -> None:
    from re import _parser  # type: ignore[attr-defined]

    assert br.unrolled_size(_parser.parse(pattern), 1_000_000) == size


def test_search_outside_a_scope_has_no_deadline() -> None:
    assert not br.active()
    assert br.search("^[0-9]{5}$", "12345")
    assert not br.search("^[0-9]{5}$", "1234")


def test_search_in_an_expired_scope_stops_at_once() -> None:
    expired = Deadline(0)
    with br.deadline_scope(expired), pytest.raises(DeadlineExceeded):
        br.search("a", "a")


def test_catastrophic_search_becomes_deadline_exceeded() -> None:
    with br.deadline_scope(Deadline(0.05)):
        assert br.active()
        with pytest.raises(DeadlineExceeded, match="ran past"):
            br.search("^(a|a)*$", "a" * 40 + "!")
    assert not br.active()


def test_the_scope_ends_with_an_exception() -> None:
    with pytest.raises(RuntimeError), br.deadline_scope(Deadline(1)):
        raise RuntimeError
    assert not br.active()


def test_stock_jsonschema_outside_our_checks_is_unchanged() -> None:
    # The shim in jsonschema's helpers only acts inside a deadline scope: other users get stdlib `re`.
    schema = {"patternProperties": {"^x": {"type": "integer"}}, "additionalProperties": False}
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"x1": 1})
    assert not validator.is_valid({"y": 1})


def test_schema_patterns_are_checked_when_the_schema_compiles() -> None:
    schema = {"type": "object", "patternProperties": {"(?:(?:a{100}){100}){100}": {}}}
    with pytest.raises(ValueError, match=r"Context.schema: invalid JSON Schema at /patternProperties.*unrolls"):
        compile_schema(schema, "Context.schema")


def test_bounded_validators_still_validate() -> None:
    schema = {
        "type": "object",
        "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}, "re": {"format": "regex"}},
        "patternProperties": {"^n_": {"type": "integer"}},
        "additionalProperties": False,
    }
    validator = compile_schema(schema, "test")
    assert validator.is_valid({"zip": "12345", "n_a": 1, "re": "^a+$"})
    errors = {e.validator for e in validator.iter_errors({"zip": "1234", "n_a": "x", "re": "(", "other": 1})}
    assert errors == {"pattern", "type", "format", "additionalProperties"}
