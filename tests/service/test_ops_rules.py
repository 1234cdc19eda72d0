"""The shipped alert rules and dashboard queries parse: `promtool check rules` over the rules, and over every
dashboard query wrapped as a recording rule (Grafana's variables replaced by values)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

OPS = Path(__file__).resolve().parents[2] / "service" / "ops"
RULES = OPS / "alerts.yaml"
DASHBOARD = OPS / "grafana-dashboard.json"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is missing under CI: .ci/setup-system installs Debian's prometheus package")
        pytest.skip("promtool not installed (Debian: apt-get install prometheus)")
    return found


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel."""
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]


def _concrete(expr: str) -> str:
    return expr.replace("$__rate_interval", "5m").replace("$policy", ".*")


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), "check", "rules", str(path)], check=False, capture_output=True, text=True, timeout=60
    )


def test_alert_rules_pass_promtool() -> None:
    out = _check(RULES)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_dashboard_queries_pass_promtool(tmp_path: Path) -> None:
    queries = dashboard_queries()
    rules = [{"record": f"outguard:dashboard_{i}", "expr": _concrete(e)} for i, (_, e) in enumerate(queries)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    out = _check(path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_alerts_cover_what_operators_page_on() -> None:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    alerts = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert {
        "OutguardBlockRegenerateSpike",
        "OutguardCheckLatencyP99High",
        "OutguardDegradedChecks",
        "OutguardReviewBacklogOld",
        "OutguardUpstreamErrorRate",
        "OutguardFallbackRate",
        "OutguardLastResortRate",
    } <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"], name


def test_dashboard_is_well_formed() -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}", panel["title"]
    assert {v["name"] for v in dash["templating"]["list"]} == {"datasource", "policy"}
    assert all(re.search(r"\boutguard_", e) for _, e in dashboard_queries())
