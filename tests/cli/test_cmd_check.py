"""`guardrails check` prints reports redacted like everything that leaves the process, unless --show-values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.cli.main import main

EMAIL = "jane.roe@example.com"
CARD = "4111 1111 1111 1111"


@pytest.fixture
def output(tmp_path: Path) -> Path:
    f = tmp_path / "out.txt"
    f.write_text(f"Mail {EMAIL} now, card {CARD}.\n", encoding="utf-8")
    return f


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_check_masks_detected_values_by_default(output: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", str(output), "--policy", "pii", "--format", fmt])
    printed = capsys.readouterr().out
    assert EMAIL not in printed and CARD not in printed
    assert "****.***@*******.***" in printed  # length kept: the underline (text) and spans (JSON) still fit
    if fmt == "json":
        assert json.loads(printed)["masked"] is True


def test_show_values_prints_the_report_as_the_library_has_it(
    output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    delivered = tmp_path / "delivered.txt"
    main(["check", str(output), "--policy", "pii", "--format", "json", "--show-values", "--output", str(delivered)])
    report = json.loads(capsys.readouterr().out)
    assert report["masked"] is False and EMAIL in report["original"]
    assert EMAIL not in delivered.read_text(encoding="utf-8")  # the delivered text is the repaired output either way
