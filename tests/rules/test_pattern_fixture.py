"""The bundled example answer (fixtures/patterns) through the CLI with the hallucination policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.cli.main import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "patterns"


def test_support_answer_findings_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "check",
            str(FIXTURES / "support_answer.txt"),
            "--policy",
            "hallucination",
            "--context",
            f"@{FIXTURES / 'support_context.json'}",
            "--format",
            "json",
        ]
    )
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    text = (FIXTURES / "support_answer.txt").read_text(encoding="utf-8")
    found = {(f["code"], text[f["span"]["start"] : f["span"]["end"]]) for f in report["findings"]}
    assert found == {
        ("HAL001", "I just checked"),
        ("HAL002", "[Your Name]"),
        ("HAL003", "studies show"),
        ("HAL004", "https://tracking-help.example.net/faq"),
        ("HAL007", "3 March 2031"),
        ("REF001", "As an AI language model"),
        ("REF003", "I cannot browse the carrier's website"),
    }
    assert report["verdict"] == "regenerate"
