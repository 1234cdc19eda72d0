"""json_schema: pointers, spans, readable messages, coercion fixes, load errors, pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from guardrails import Engine
from guardrails.checks.json_schema import JsonSchemaCheck, JsonSchemaParams
from guardrails.findings import Verdict
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import load_ruleset
from tests.checks._json_helpers import JSON_ENGINE, NO_REPAIR_ENGINE, UNSAFE_ENGINE

PERSON = json.loads(Path("fixtures/json/person.schema.json").read_text())


def test_one_finding_per_path_with_pointer_and_span() -> None:
    text = '{"name": "Ana", "age": "forty", "tags": ["a", 2], "country": "XX", "extra": 1}'
    report = NO_REPAIR_ENGINE.validate(text, {"schema": PERSON})
    found = {f.span.pointer: f for f in report.findings if f.code == "JSON030"}
    assert set(found) == {"/age", "/tags/1", "/country", "/extra"}
    assert text[found["/age"].span.start : found["/age"].span.end] == '"forty"'
    assert text[found["/tags/1"].span.start : found["/tags/1"].span.end] == "2"
    assert text[found["/extra"].span.start : found["/extra"].span.end] == ', "extra": 1'  # with the comma its fix drops
    assert found["/age"].message == '/age: expected integer, got string "forty"'
    assert found["/country"].message == '/country: expected one of ["DE", "FR", "US"], got "XX"'
    assert found["/extra"].message.startswith("/extra: unexpected field 'extra' (allowed: name, age")
    assert found["/age"].evidence.details["keyword"] == "type"
    assert found["/age"].evidence.pattern == "/properties/age/type"


def test_missing_required_points_at_parent() -> None:
    text = '{"name": "Ana"}'
    report = JSON_ENGINE.validate(text, {"schema": PERSON})
    [f] = report.findings
    assert f.span.pointer == "/age"
    assert (f.span.start, f.span.end) == (0, len(text))
    assert f.message == "the top level: missing required field 'age'"
    assert report.verdict is Verdict.REGENERATE
    assert report.regeneration is not None and report.regeneration.reasons[0].code == "JSON030"


def test_format_is_asserted() -> None:
    report = JSON_ENGINE.validate('{"name": "A", "age": 1, "email": "not-an-email"}', {"schema": PERSON})
    [f] = report.findings
    assert f.span.pointer == "/email" and "not a valid email" in f.message


SCHEMA = {
    "type": "object",
    "properties": {
        "age": {"type": "integer"},
        "score": {"type": "number"},
        "ok": {"type": "boolean"},
        "id": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "people": {"type": "array", "items": {"type": "object"}},
        "note": {"type": "string", "default": "n/a"},
    },
    "required": ["note"],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"age": "42", "note": ""}', {"age": 42, "note": ""}),
        ('{"score": "3.5", "note": ""}', {"score": 3.5, "note": ""}),
        ('{"ok": "true", "note": ""}', {"ok": True, "note": ""}),
        ('{"id": 1234, "note": ""}', {"id": "1234", "note": ""}),
        ('{"tags": "solo", "note": ""}', {"tags": ["solo"], "note": ""}),
        ('{"people": {"name": "Ana"}, "note": ""}', {"people": [{"name": "Ana"}], "note": ""}),
        ('{"age": 3.0}', {"age": 3, "note": "n/a"}),
        ("{}", {"note": "n/a"}),
    ],
)
def test_safe_coercions(text: str, expected: Any) -> None:
    report = JSON_ENGINE.validate(text, {"schema": SCHEMA})
    assert report.verdict is Verdict.REPAIRED, report.findings
    assert json.loads(report.output) == expected


def test_unsafe_coercions_need_permission() -> None:
    text = '{"ok": 1, "note": "x"}'
    assert JSON_ENGINE.validate(text, {"schema": SCHEMA}).verdict is Verdict.REGENERATE
    assert json.loads(UNSAFE_ENGINE.validate(text, {"schema": SCHEMA}).output) == {"ok": True, "note": "x"}
    text = '{"name": "A", "age": 1, "extra": 2, "country": "de"}'
    out = json.loads(UNSAFE_ENGINE.validate(text, {"schema": PERSON}).output)
    assert out == {"name": "A", "age": 1, "country": "DE"}


def test_repair_then_schema_in_one_validation() -> None:
    text = "```json\n{'age': '7', 'note': 'x',}\n```"
    report = JSON_ENGINE.validate(text, {"schema": SCHEMA})
    assert report.verdict is Verdict.REPAIRED
    assert json.loads(report.output) == {"age": 7, "note": "x"}


def test_schema_on_repaired_json_maps_spans_to_the_original() -> None:
    text = "{'a': 1, 'age': 'x'}"
    report = NO_REPAIR_ENGINE.validate(text, {"schema": SCHEMA | {"required": []}})
    [f] = [f for f in report.findings if f.code == "JSON030"]
    assert text[f.span.start : f.span.end] == "'x'"


def test_context_schema_cache_keeps_types_apart() -> None:
    # 1 == True in Python; the cache must not hand the enum [true] validator to the enum [1] schema.
    assert JSON_ENGINE.validate("1", {"schema": {"enum": [True]}}).findings
    assert not JSON_ENGINE.validate("1", {"schema": {"enum": [1]}}).findings
    assert JSON_ENGINE.validate("true", {"schema": {"enum": [1]}}).findings


def test_context_schema_cache_and_draft7() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "integer"}]}
    for _ in range(3):
        report = JSON_ENGINE.validate('["x"]', {"schema": schema})
        assert [f.span.pointer for f in report.findings] == ["/0"]


def _check(**params: Any) -> JsonSchemaCheck:
    return JsonSchemaCheck(JsonSchemaParams.model_validate(params))


def test_bad_schemas_are_clear_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"invalid JSON Schema at /properties/a/type"):
        _check(schema={"properties": {"a": {"type": "integr"}}})
    with pytest.raises(ValueError, match=r"unknown \$ref '#/\$defs/nope'"):
        _check(schema={"$ref": "#/$defs/nope"})
    with pytest.raises(ValueError, match=r"remote references are never fetched"):
        _check(schema={"$ref": "https://example.com/schema.json"})
    with pytest.raises(ValueError, match=r"schema file .*missing.json' does not exist"):
        _check(schema_file=str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "object",\n "properties": }')
    with pytest.raises(ValueError, match=r"bad.json: invalid JSON at line 2 column 16"):
        _check(schema_file=str(bad))
    with pytest.raises(ValueError, match=r"give only one schema source"):
        _check(schema={"type": "object"}, model="fixtures.json.models:Person")
    with pytest.raises(ValueError, match=r"cannot import module 'nope_mod'"):
        _check(model="nope_mod:Model")


def test_bad_schema_in_rule_file_names_file_and_rule(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "pack: mine\nrules:\n  - id: order-schema\n    code: MYJ001\n    check: json_schema\n"
        "    params: {schema_file: nowhere.json}\n    message: '{detail}'\n"
    )
    with pytest.raises(RuleError) as info:
        Engine.from_policy("default", ruleset=load_ruleset([tmp_path]))
    assert "mine.yaml" in str(info.value) and "order-schema" in str(info.value) and "nowhere.json" in str(info.value)


def test_bad_context_schema_fails_closed() -> None:
    report = JSON_ENGINE.validate('{"a": 1}', {"schema": {"type": "nonsense"}})
    assert report.verdict is Verdict.BLOCK
    assert any(f.code == "ENG001" and "Context.schema" in f.message for f in report.findings)


def test_pydantic_model() -> None:
    check = _check(model="fixtures.json.models:Person")
    assert check.regeneration_extras()["schema"]["title"] == "Person"
    from guardrails.checks.base import RunContext
    from guardrails.context import Context
    from guardrails.document import Document

    text = '{"name": "Ana", "age": -1, "address": {"city": "Köln", "zip": "5067"}}'
    hits = list(check.run(Document(text), RunContext(Context())))
    assert {h.pointer for h in hits} == {"/age", "/address/zip"}
    zip_hit = next(h for h in hits if h.pointer == "/address/zip")
    assert text[zip_hit.start : zip_hit.end] == '"5067"'
    assert list(check.run(Document('{"name": "Ana", "age": 3}'), RunContext(Context()))) == []


def test_regeneration_carries_the_schema() -> None:
    check = _check(schema=SCHEMA)
    assert check.regeneration_extras() == {"schema": SCHEMA}


def test_regeneration_carries_the_context_schema_it_validated_against() -> None:
    context_schema = {"type": "object", "required": ["id"]}
    report = JSON_ENGINE.validate('{"name": "Ana"}', {"schema": context_schema})
    assert report.regeneration is not None and report.regeneration.schema_ == context_schema


def test_schema_rule_alone_still_repairs_and_validates(tmp_path: Path) -> None:
    # A relative file in a policy's override resolves against the policy's folder.
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "person.schema.json").write_text(Path("fixtures/json/person.schema.json").read_text())
    (tmp_path / "policies" / "person.yaml").write_text(
        "name: person\nrules: [schema-violation]\n"
        "overrides:\n  schema-violation: {params: {schema_file: person.schema.json}}\n"
    )
    engine = Engine.from_policy("person", ruleset=load_ruleset([tmp_path]))
    text = Path("fixtures/json/outputs/person_fenced.txt").read_text()
    report = engine.validate(text)
    assert report.verdict is Verdict.REPAIRED
    assert json.loads(report.output) == {"name": "Zoë Müller", "age": 42, "email": "zoe@example.com", "tags": ["vip"]}
    first = report.findings[0]
    assert first.message.startswith("the JSON needs repairs before it can be used: markdown-fence")
    assert engine.validate("I cannot answer that.").verdict is Verdict.REGENERATE
