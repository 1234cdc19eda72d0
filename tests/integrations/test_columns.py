"""The result columns shared by the Ray and Spark adapters, without a cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from guardrails.integrations import _columns
from guardrails.integrations._columns import (
    BatchValidator,
    ColumnPlan,
    EngineSpec,
    IntegrationError,
    MissingExtra,
    Summary,
)


def test_import_guardrails_imports_neither_ray_nor_pyspark() -> None:
    code = (
        "import sys, guardrails, guardrails.integrations, guardrails.integrations.ray, guardrails.integrations.spark;"
        "print(sorted(m for m in ('ray', 'pyspark', 'pandas', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("module", "extra"), [("ray", "ray"), ("pyspark.sql", "spark")])
def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch, module: str, extra: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import of it raises ImportError
    with pytest.raises(MissingExtra, match=rf"outguard\[{extra}\]"):
        _columns.require(module, extra)


def test_contexts_from_columns_and_a_json_column() -> None:
    plan = ColumnPlan.build("text", {"tpl": "template", "canaries": "canaries"}, context_column="ctx")
    columns = {
        "text": ["a", "b", "c"],
        "tpl": ["product-card", None, float("nan")],
        "canaries": [np.array(["x1"]), None, None],
        "ctx": ['{"language": "fr"}', None, {"prompt": "p"}],
    }
    assert plan.contexts(columns, 3) == [
        {"language": "fr", "template": "product-card", "canaries": ["x1"]},
        None,
        {"prompt": "p"},
    ]


def test_result_column_collisions_and_missing_columns_are_refused() -> None:
    plan = ColumnPlan.build("text", ["template"])
    with pytest.raises(IntegrationError, match="template"):
        plan.check(["text"])
    with pytest.raises(IntegrationError, match="prefix="):
        plan.check(["text", "template", "report"])
    ColumnPlan.build("text", ["template"], prefix="og_").check(["text", "template", "report"])
    with pytest.raises(IntegrationError, match="list of column names"):
        ColumnPlan.build("text", "template")


def test_bad_rows_blocked_and_named_without_quoting_values() -> None:
    validator = BatchValidator(EngineSpec.build("default", ()))
    secret = "jane.doe@example.com"
    res = validator.validate(
        ["ok", None, 3, "x", "y"],
        [None, None, None, {"reference_date": secret}, {"no_such_field": 1}],
    )
    assert res.verdict == ["pass", "block", "block", "block", "block"]
    assert res.error[0] is None
    assert res.error[1:3] == ["text-not-string: got null", "text-not-string: got int"]
    assert res.error[3].startswith("context-invalid: reference_date: ") and secret not in res.error[3]
    assert res.error[4].startswith("context-invalid: no_such_field: ")
    assert res.report[1:] == [None] * 4 and res.output[1:] == [None] * 4
    summary = Summary()
    for i, row in enumerate(res.rows()):
        summary.add(i, row["verdict"], row["codes"], row["error"])
    assert summary.bad == {"text-not-string": 2, "context-invalid": 2} and [i for i, _ in summary.named] == [1, 2, 3, 4]


def test_report_is_redacted_unless_values_are_asked_for() -> None:
    text = "Write to jane.doe@example.com today."
    masked = BatchValidator(EngineSpec.build("pii", ())).validate([text], [None])
    shown = BatchValidator(EngineSpec.build("pii", (), show_values=True)).validate([text], [None])
    assert "jane.doe@example.com" not in masked.report[0]  # type: ignore[operator]
    assert json.loads(shown.report[0] or "")["original"] == text


def test_worker_with_other_rules_refuses_to_run(tmp_path: Path) -> None:
    spec = EngineSpec.build("default", ())
    other = EngineSpec(spec.policy, spec.rules_dirs, "not-the-drivers-version")
    with pytest.raises(IntegrationError, match="rules differ"):
        other.engine()


def test_policy_file_path_is_made_absolute_for_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\nrules: [PII001]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    spec = EngineSpec.build("mine.yaml", ())
    assert spec.policy == str(tmp_path / "mine.yaml")
