"""`guardrails facts import|export|get|set` end to end (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.cli.main import main


def test_import_get_set_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'f.db'}"
    src = tmp_path / "in.csv"
    src.write_text(
        "entity,aliases,attribute,type,value,currency\nAcme X1,X1,price,money,999,USD\nAcme X2,,price,money,x,USD\n"
    )
    assert main(["facts", "--db", db, "import", str(src)]) == 1
    err = capsys.readouterr().err
    assert "row 2, field 'value': not a number" in err
    src.write_text("entity,aliases,attribute,type,value,currency\nAcme X1,X1,price,money,999,USD\n")
    assert main(["facts", "--db", db, "import", str(src)]) == 0
    capsys.readouterr()
    assert main(["facts", "--db", db, "get", "x1", "price"]) == 0
    assert json.loads(capsys.readouterr().out)["value"]["amount"] == "999"
    assert main(["facts", "--db", db, "set", "Acme X1", "price", "899", "--type", "money", "--currency", "USD"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 2
    assert main(["facts", "--db", db, "get", "Acme X1", "price", "--history"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["facts", "--db", db, "get", "nobody"]) == 1
    out = tmp_path / "out.jsonl"
    assert main(["facts", "--db", db, "export", str(out)]) == 0
    assert json.loads(out.read_text().splitlines()[0])["value"]["amount"] == "899"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'f.db'}"
    assert main(["facts", "--db", db, "set", "A", "price", "1", "--type", "money"]) == 2
    assert "currency" in capsys.readouterr().err
    assert main(["facts", "--db", db, "get", "A", "--at", "yesterday"]) == 2
    assert main(["facts", "--db", "nonsense://", "get", "A"]) == 2
    assert main(["facts", "--db", db, "export", str(tmp_path / "x.xml")]) == 2
