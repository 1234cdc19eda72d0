"""Each finding links its rule's reference page (ruff-style docs, pydantic-style `url` on errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from guardrails import Engine
from guardrails.findings import Finding, Report

ROOT = Path(__file__).resolve().parents[1]


def test_every_finding_carries_its_rules_doc_url_and_the_page_exists() -> None:
    report = Engine.from_policy("default").validate("Mail jane.doe@example.com, see [Your Name].")
    assert report.findings
    for f in report.findings:
        assert f.doc_url == f"docs/reference/rules/{f.code}.md"
        assert (ROOT / f.doc_url).is_file()


def test_doc_url_survives_the_json_round_trip() -> None:
    report = Engine.from_policy("default").validate("Mail jane.doe@example.com now.")
    again = Report.model_validate_json(report.model_dump_json())
    assert [f.doc_url for f in again.findings] == [f.doc_url for f in report.findings]
    assert json.loads(report.model_dump_json())["findings"][0]["doc_url"].endswith(".md")


def test_the_base_is_configurable(tmp_path: Path) -> None:
    code = (
        "from guardrails import Engine;"
        "r = Engine.from_policy('default').validate('Mail jane.doe@example.com now.');"
        "print(r.findings[0].doc_url)"
    )
    env = {**os.environ, "OUTGUARD_DOCS_URL": "https://outguard.example/reference/rules/"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "https://outguard.example/reference/rules/PII001/"
    env["OUTGUARD_DOCS_URL"] = "https://docs.example/rules/{code}.html"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "https://docs.example/rules/PII001.html"


def test_a_finding_built_by_hand_gets_the_url_too() -> None:
    f = Finding.model_validate(
        {
            "code": "TXT001",
            "rule_id": "replacement-character",
            "check": "regex",
            "severity": "low",
            "action": "repair",
            "message": "m",
            "span": {"start": 0, "end": 1, "line": 1, "column": 1},
            "fingerprint": "x",
        }
    )
    assert f.doc_url == "docs/reference/rules/TXT001.md"
