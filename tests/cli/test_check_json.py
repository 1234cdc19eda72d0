"""`guardrails check` with the JSON rules: exit codes, repaired output, clear errors for bad schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.cli.main import main


def _policy(tmp_path: Path, name: str, params: str) -> Path:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / f"{name}.yaml").write_text(
        f"name: {name}\nrules: [schema-violation]\noverrides:\n  schema-violation: {{params: {params}}}\n"
    )
    return tmp_path


def test_check_repairs_fenced_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "fixtures/json/outputs/person_truncated.txt", "--policy", "json", "--format", "json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "repaired"
    assert json.loads(report["output"]) == {"name": "Ana", "age": 31, "tags": ["a", "b"]}


def test_check_schema_violation_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGUARD_RULE_FILES_ANYWHERE", "1")  # the schema lies outside the rules directory
    schema = Path("fixtures/json/person.schema.json").resolve()
    rules = _policy(tmp_path, "person", f"{{schema_file: {schema}}}")
    code = main(["check", "fixtures/json/outputs/person_invalid.txt", "--policy", "person", "--rules", str(rules)])
    out = capsys.readouterr().out
    assert code == 1
    assert "JSON030" in out and "/age: -3 is less than the minimum of 0" in out


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("{schema_file: nowhere.json}", "policies/nowhere.json' does not exist"),
        ("{schema: {type: objekt}}", "key 'params.schema': invalid JSON Schema at /type"),
        ("{schema: {$ref: 'https://example.com/s.json'}}", "remote references are never fetched"),
        ("{model: 'nope.mod:Thing'}", "key 'params.model': cannot import module 'nope.mod'"),
        ("{schema_file: x.json, shema: 1}", "shema"),
    ],
)
def test_bad_schemas_exit_2_with_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], params: str, expected: str
) -> None:
    rules = _policy(tmp_path, "bad", params)
    code = main(["check", "fixtures/json/outputs/person_invalid.txt", "--policy", "bad", "--rules", str(rules)])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert "schema-violation" in err
