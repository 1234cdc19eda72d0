"""guardrails.integrations.ray on a real local Ray cluster (2 CPUs): the same reports as in process, every row
exactly once when an actor dies mid-batch, bad rows blocked and named, never dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from guardrails.integrations.ray import batch_runner, summarize, validate_dataset
from tests.integrations.conftest import Case, assert_same_reports, dev_outputs, fixture_cases

pytestmark = [
    pytest.mark.slow,
    # A cluster start plus 2,000 validations through it: minutes on a machine shared with other test runs.
    pytest.mark.timeout(600),
    # Ray Data's own DataContext sets fields it deprecated itself.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
    # A start that timed out (see the ray_cluster fixture) leaves its processes to Ray's cleanup.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    # A dataset of one block cannot keep two actors busy; Ray says so, and it is right.
    pytest.mark.filterwarnings("ignore:The minimum number of concurrent actors:UserWarning"),
]


def _dataset(ray: Any, cases: list[Case]) -> Any:
    rows = [{"id": c.id, "text": c.text, "template": c.template, "context": c.context} for c in cases]
    return ray.data.from_items(rows)


def _reports(ds: Any) -> dict[str, str]:
    # No select_columns before the map has run: on 2 CPUs its task would wait for CPUs the actors hold.
    return {row["id"]: row["report"] for row in ds.take_all()}


def test_reports_equal_in_process_on_fixtures_and_dev_outputs(ray_cluster: Any) -> None:
    cases = fixture_cases() + dev_outputs()
    got: dict[str, str] = {}
    for policy in ("default", "html", "json"):
        mine = [c for c in cases if c.policy == policy]
        ds = validate_dataset(
            _dataset(ray_cluster, mine),
            policy=policy,
            context_columns=["template"],
            context_column="context",
            batch_size=100,
        )
        got |= _reports(ds)
    assert_same_reports(got, cases)


def test_actor_killed_mid_batch_every_row_exactly_once(ray_cluster: Any, killer_rules: tuple[Path, Path]) -> None:
    rules, marker = killer_rules
    n = 600
    rows = [{"id": i, "text": f"row {i} mail ann{i}@example.org"} for i in range(n)]
    rows[317]["text"] += " KILL-ME-ONCE"
    ds = validate_dataset(ray_cluster.data.from_items(rows), policy="killer", rules_dirs=[rules], batch_size=25)
    out = ds.take_all()
    assert marker.exists(), "no actor was killed: the test proves nothing"
    ids = [r["id"] for r in out]
    assert len(ids) == n and sorted(ids) == list(range(n))
    assert {r["verdict"] for r in out} == {"repaired"} and all(r["error"] is None for r in out)
    assert all(list(r["codes"]) == ["PII001"] for r in out)


def test_bad_rows_are_blocked_named_and_counted(ray_cluster: Any) -> None:
    huge = "a" * 2_000_001  # one past the policy's max_output_chars
    texts: list[Any] = ["fine", 42, None, huge, "a date", b"bytes"]
    dates = [None, None, None, None, "not a date", None]
    rows = [{"id": i, "text": t, "reference_date": d} for i, (t, d) in enumerate(zip(texts, dates, strict=True))]
    # One pandas block with an object column: Ray keeps the mixed values as Python objects (from_items would
    # fail to merge blocks of different types before any validation ran).
    frame = pd.DataFrame(rows)
    ds = validate_dataset(ray_cluster.data.from_pandas(frame), policy="default", context_columns=["reference_date"])
    ds = ds.materialize()
    out = {r["id"]: r for r in ds.take_all()}
    assert sorted(out) == list(range(6))
    assert out[0]["error"] is None and out[0]["verdict"] == "pass"
    assert out[1]["error"] == "text-not-string: got int" and out[1]["verdict"] == "block"
    assert out[2]["error"] == "text-not-string: got null"
    assert out[3]["error"] == "text-too-large: 2000001 characters > 2000000" and list(out[3]["codes"]) == ["ENG003"]
    assert out[4]["error"].startswith("context-invalid: reference_date: ") and "not a date" not in out[4]["error"]
    assert out[5]["error"] == "text-not-string: got bytes"
    summary = summarize(ds, id_column="id")
    assert summary.rows == 6 and summary.bad_rows == 5
    assert summary.bad == {"text-not-string": 3, "text-too-large": 1, "context-invalid": 1}
    assert sorted(i for i, _ in summary.named) == [1, 2, 3, 4, 5]


def test_report_column_is_redacted_and_output_is_delivered(ray_cluster: Any) -> None:
    rows = [{"text": "Write to jane.doe@example.com today."}]
    (row,) = validate_dataset(ray_cluster.data.from_items(rows), policy="default").take_all()
    report = json.loads(row["report"])
    assert "jane.doe@example.com" not in row["report"] and report["masked"] is True
    assert "jane.doe@example.com" not in row["output"]  # the default policy redacts it in the delivered output
    assert row["verdict"] == "repaired" and "PII001" in list(row["codes"])


def test_result_column_that_would_overwrite_an_input_column_is_refused(ray_cluster: Any) -> None:
    from guardrails.integrations._columns import IntegrationError

    ds = ray_cluster.data.from_items([{"text": "a", "verdict": "mine"}])
    with pytest.raises(IntegrationError, match="prefix="):
        validate_dataset(ds)
    (row,) = validate_dataset(ds, prefix="og_").take_all()
    assert row["verdict"] == "mine" and row["og_verdict"] == "pass"


def test_batch_runner_keeps_order_and_survives_a_killed_actor(
    ray_cluster: Any, killer_rules: tuple[Path, Path]
) -> None:
    rules, marker = killer_rules
    rows = [{"id": f"r{i}", "text": f"row {i}", "context": None} for i in range(300)]
    rows[123]["text"] += " KILL-ME-ONCE"
    rows[200]["text"] = 7  # type: ignore[assignment]
    chunks = [rows[i : i + 50] for i in range(0, len(rows), 50)]
    out = list(batch_runner(iter(chunks), policy="killer", rules_dirs=[rules], workers=2, batch_size=20))
    assert marker.exists()
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    assert out[200]["error"] == "text-not-string: got int"
    assert sum(r["verdict"] == "pass" for r in out) == 299
