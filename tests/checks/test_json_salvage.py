"""Schema-guided repair: `repair(text, schema)` and the engine's view ranked by the Context schema."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from guardrails.checks._json.salvage import repair, schema_excerpt
from guardrails.findings import Verdict
from guardrails.guard.structured import repair_arguments
from tests.checks._json_helpers import JSON_ENGINE, UNSAFE_ENGINE
from tests.checks.test_json_lossless import CORRUPTIONS, corrupt, json_docs

TOOL_SCHEMA = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "role": {"type": "string"}},
    "required": ["to"],
}


class Pet(BaseModel):
    name: str
    kind: str = "dog"


def test_valid_json_comes_back_unchanged() -> None:
    text = '{"a": [1, 2.50, "x"]}'
    r = repair(text, {"type": "object"})
    assert (r.ok, r.safe, r.text, r.edits, r.schema_valid) == (True, True, text, (), True)


def test_without_a_schema_a_cut_string_is_unsafe_and_says_so() -> None:
    r = repair('{"name": "Pet')
    assert r.ok and not r.safe
    assert r.value == {"name": "Pet"}
    assert r.dropped is not None and "cut off mid-way" in r.dropped


def test_truncated_output_closes_at_the_last_complete_member_the_model_accepts() -> None:
    r = repair('{"name": "Rex", "kind": "Pet', Pet)
    assert r.safe and r.value == {"name": "Rex"}
    assert r.issues == ("truncated-json",)


def test_truncation_with_no_valid_reading_asks() -> None:
    r = repair('{"name": "Re', Pet)
    assert not r.safe and r.ambiguity is not None
    assert r.schema_excerpt is not None and '"name"' in r.schema_excerpt


def test_a_list_schema_takes_every_top_level_value() -> None:
    r = repair('{"a": 1}\n{"b": 2}', {"type": "array"})
    assert r.safe and r.value == [{"a": 1}, {"b": 2}]


def test_an_object_schema_asks_when_there_are_several_values() -> None:
    r = repair('{"a": 1}\n{"b": 2}', {"type": "object"})
    assert not r.safe
    assert r.ambiguity is not None and "2 top-level JSON values" in r.ambiguity


def test_a_stray_closer_before_more_members_is_dropped_when_the_schema_says_so() -> None:
    r = repair('{"a": 1}, "b": 2}', {"type": "object", "required": ["a", "b"]})
    assert r.safe and r.value == {"a": 1, "b": 2}
    assert json.loads(r.text) == r.value


def test_a_parenthesised_value_is_an_array_when_the_schema_wants_one() -> None:
    schema = {"type": "object", "properties": {"p": {"type": "array"}}}
    r = repair('{"ok": true, "p": (1, 2)}', schema)
    assert r.safe and r.value == {"ok": True, "p": [1, 2]}


def test_edits_apply_to_the_input() -> None:
    text = 'Sure:\n```json\n{"to": "a@example.com", "role": "adm\n```'
    r = repair(text, TOOL_SCHEMA)
    assert r.safe and r.value == {"to": "a@example.com"}
    out, pos = [], 0
    for e in r.edits:
        out += [text[pos : e.start], e.replacement]
        pos = e.end
    assert "".join([*out, text[pos:]]) == r.text


def test_schema_excerpt_is_bounded() -> None:
    big = {"type": "object", "properties": {f"k{i}": {"type": "string"} for i in range(200)}}
    assert len(schema_excerpt(big)) <= 600


def test_engine_delivers_the_schema_confirmed_reading_and_asks_otherwise() -> None:
    report = JSON_ENGINE.validate('{"to": "a@example.com", "role": "adm', {"schema": TOOL_SCHEMA})
    assert report.verdict is Verdict.REPAIRED
    assert json.loads(report.output) == {"to": "a@example.com"}
    two = '{"to": "a@example.com"}{"to": "b@example.net"}'
    asked = JSON_ENGINE.validate(two, {"schema": TOOL_SCHEMA})
    assert asked.verdict is Verdict.REGENERATE and asked.output == two
    assert asked.regeneration is not None


def test_allow_unsafe_still_reads_the_cut_string_without_a_schema() -> None:
    report = UNSAFE_ENGINE.validate('{"employees": ["John", "Pet')
    assert json.loads(report.output) == {"employees": ["John", "Pet"]}


def test_tool_call_arguments_go_through_the_same_repair() -> None:
    call = {"id": "c1", "function": {"name": "send", "arguments": '{"to": "a@example.com", "role": "adm'}}
    r = repair_arguments(call, {"send": TOOL_SCHEMA})
    assert r is not None and r.safe and r.value == {"to": "a@example.com"}
    assert repair_arguments({"function": {"name": "other", "arguments": "{}"}}, {"send": TOOL_SCHEMA}) is None


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    json_docs,
    st.lists(st.sampled_from(CORRUPTIONS), min_size=1, max_size=3),
    st.randoms(use_true_random=False),
    json_docs,
    st.sampled_from([None, {"type": "array"}, {"type": "object"}]),
)
def test_the_value_is_what_the_repaired_text_parses_to(
    doc: Any, kinds: list[str], rng: random.Random, second: Any, schema: Any
) -> None:
    # repair() hands back the view's value instead of parsing its own text again: they must be one value.
    r = repair(corrupt(doc, kinds, rng, second).text, schema)
    if r.ok:
        assert json.dumps(json.loads(r.text), sort_keys=True) == json.dumps(r.value, sort_keys=True)
