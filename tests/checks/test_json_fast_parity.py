"""The fast paths give the same Report as the slow ones (issue 19): a parity property.

Valid outputs are confirmed by jsonschema-rs on the value `json.loads` made, and a pydantic model validates
the text itself (`validate_json`); spans, pointers and python-jsonschema's errors are built only when that
fails. Over generated outputs (valid ones, schema violations, and broken JSON), the Report with the fast
paths equals the Report with them off: verdict, output, and every finding's code, span, pointer, message
and evidence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.checks._json import schemas
from guardrails.findings import Report
from tests.checks._json_helpers import engine

PERSON = json.loads(Path("fixtures/json/person.schema.json").read_text())
ORDER = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^ord-[0-9]+$"},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
                "required": ["sku", "qty"],
            },
        },
        "paid": {"type": "boolean"},
        "note": {"type": ["string", "null"], "maxLength": 20},
    },
    "required": ["id", "items"],
}
SCHEMAS = [PERSON, ORDER]

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "Ana", "DE", "XX", "ord-12", "ord-x", "a@example.com", "not-an-email", "x" * 30]),
)
_json = st.recursive(
    _leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["sku", "qty", "n"]), c, max_size=3),
    max_leaves=6,
)

_person = st.fixed_dictionaries(
    {"name": st.sampled_from(["Ana", ""]), "age": st.integers(-2, 90)},
    optional={
        "email": st.sampled_from(["a@example.com", "nope"]),
        "tags": st.lists(st.sampled_from(["a", 1]), max_size=3),
        "country": st.sampled_from(["DE", "XX"]),
        "active": st.booleans(),
        "extra": _json,
    },
)
_order = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["ord-1", "ord-x", 7]),
        "items": st.lists(
            st.fixed_dictionaries({"sku": st.sampled_from(["A", 3]), "qty": st.integers(0, 3)}), max_size=3
        ),
    },
    optional={"paid": st.sampled_from([True, "yes"]), "note": st.sampled_from([None, "short", "y" * 25])},
)


def _text(value: Any, damage: str) -> str:
    text = json.dumps(value, indent=None if damage != "pretty" else 2)
    if damage == "trailing-comma" and text.endswith("}"):
        return text[:-1] + ",}"
    if damage == "prose":
        return f"Here it is:\n{text}"
    if damage == "truncated" and len(text) > 4:
        return text[: len(text) * 2 // 3]
    return text


FAST = engine(deadline_ms=10_000)


def _slow_engine(monkeypatch: pytest.MonkeyPatch) -> Any:
    # json_schema imports it when a schema first needs it (cold start), so it is patched at its source.
    monkeypatch.setattr(schemas, "fast_validator", lambda *a, **k: None)
    return engine(deadline_ms=10_000)


def _shape(report: Report) -> Any:
    findings = [
        (
            f.code,
            f.span.start if f.span else None,
            f.span.end if f.span else None,
            f.span.pointer if f.span else None,
            f.message,
            f.evidence.model_dump(),
        )
        for f in report.findings
    ]
    return report.verdict, report.output, sorted(findings, key=repr)


PARITY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@PARITY
@given(
    st.one_of(_person.map(lambda v: (0, v)), _order.map(lambda v: (1, v))),
    st.sampled_from(["none", "none", "pretty", "trailing-comma", "prose", "truncated"]),
)
def test_fast_paths_give_the_same_report(monkeypatch: pytest.MonkeyPatch, case: tuple[int, Any], damage: str) -> None:
    which, value = case
    text = _text(value, damage)
    ctx = {"schema": SCHEMAS[which]}
    fast = _shape(FAST.validate(text, ctx))
    with monkeypatch.context() as m:
        slow = _shape(_slow_engine(m).validate(text, ctx))
    assert fast == slow
