"""Imports: per-row errors naming row and field, nothing half-imported, exports that import back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.facts import FactStore, normalize
from guardrails.facts.io import MAX_LINE_BYTES
from guardrails.facts.rows import FieldError, row_to_fact

HEADER = "entity,entity_type,aliases,attribute,type,value,unit,currency,valid_from,source\n"


def _csv(tmp_path: Path, body: str, name: str = "f.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def _jsonl(tmp_path: Path, rows: list[Any], name: str = "f.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return p


def test_csv_import_and_errors_name_row_and_field(store: FactStore, tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "Acme X1,product,X1,price,money,999,,USD,,cat\n"
        "Acme X1,product,,weight,number,heavy,kg,,,cat\n"
        "Acme X2,product,,price,money,10,,,,cat\n"
        "Acme X3,product,,launch,date,2024-13-01,,,,cat\n"
        ",product,,price,money,1,,USD,,cat\n"
        "Acme X4,product,,price,money,1,,USD,2024-02-30,cat\n",
    )
    result = store.import_file(path)
    assert result.imported == 0
    assert [(e.row, e.field) for e in result.errors] == [
        (2, "value"),
        (3, "currency"),
        (4, "value"),
        (5, "entity"),
        (6, "valid_from"),
    ]
    assert "not a number" in result.errors[0].reason
    assert store.count() == 0 and store.get("Acme X1") == []  # nothing half-imported


def test_good_file_imports_in_one_go_and_later_rows_version_earlier(store: FactStore, tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "Acme X1,product,X1,price,money,999,,USD,,cat\n"
        "Acme X1,product,Acme-X1,stock,number,12,units,,,wms\n"
        "Acme X1,product,,price,money,949,,USD,,cat\n",
    )
    result = store.import_file(path)
    assert result.ok and result.imported == 3
    price = store.get("acme-x1", "price")
    assert [(str(f.value.amount), f.version) for f in price] == [("949", 2)]  # type: ignore[union-attr]
    assert sorted(store.get("x1")[0].aliases) == ["Acme-X1", "X1"]


def test_header_problems_are_row_zero(store: FactStore, tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("entity,attribute,valeur\nA,b,1\n")
    result = store.import_file(p)
    assert result.errors[0].row == 0 and result.errors[0].field == "valeur"
    p.write_text("entity,attribute,type\nA,b,text\n")
    assert store.import_file(p).errors[0].field == "value"
    assert store.import_file(tmp_path / "nope.csv").errors[0].reason.endswith("no such file")
    assert "unknown format" in store.import_file(tmp_path / "x.xlsx").errors[0].reason


def test_jsonl_malformed_lines(store: FactStore, tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path,
        [
            {"entity": "A", "attribute": "price", "type": "money", "value": "1", "currency": "USD"},
            "{not json",
            "[1, 2]",
            "",
            {"entity": "A", "attribute": "price", "type": "money", "value": True, "currency": "USD"},
            {"entity": "A", "attribute": "x", "type": "text", "value": "ok", "colour": "red"},
            "[" * 100_000 + "]" * 100_000,
            {"entity": ["A"], "attribute": "x", "type": "text", "value": "v"},
        ],
    )
    result = store.import_file(path)
    assert result.imported == 0
    assert [(e.row, e.field) for e in result.errors] == [
        (2, None),
        (3, None),
        (5, "value"),
        (6, "colour"),
        (7, None),
        (8, "entity"),
    ]
    assert store.count() == 0


def test_hostile_values_are_data_not_code(store: FactStore, tmp_path: Path) -> None:
    evil = "Robert'); DROP TABLE og_facts;--"
    rows = [
        {"entity": evil, "attribute": "=cmd|' /C calc'!A0", "type": "text", "value": "<script>alert(1)</script>"},
        {"entity": "Ünïcödé \u202e\u200b", "attribute": "note", "type": "text", "value": "\u0000"},
    ]
    result = store.import_file(_jsonl(tmp_path, rows))
    assert [(e.row, e.reason) for e in result.errors] == [(2, "value contains a NUL character")]
    assert store.import_file(_jsonl(tmp_path, rows[:1], "ok.jsonl")).ok
    got = store.get(evil)
    assert got[0].value.value == "<script>alert(1)</script>"
    assert got[0].attribute == "=cmd|' /C calc'!A0"


def test_non_utf8_and_huge_lines(store: FactStore, tmp_path: Path) -> None:
    p = tmp_path / "latin1.csv"
    p.write_bytes(HEADER.encode() + "Café,product,,price,money,1,,EUR,,x\n".encode("latin-1"))
    result = store.import_file(p)
    assert result.imported == 0 and "UTF-8" in result.errors[0].reason
    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps({"entity": "A", "attribute": "x", "type": "text", "value": "v" * MAX_LINE_BYTES}) + "\n")
    result = store.import_file(big)
    assert result.errors[0].row == 1 and "longer than" in result.errors[0].reason
    long_name = tmp_path / "long.jsonl"
    long_name.write_text(json.dumps({"entity": "A" * 5000, "attribute": "x", "type": "text", "value": "v"}) + "\n")
    assert "longer than" in store.import_file(long_name).errors[0].reason


def test_non_english_entities_and_values(store: FactStore, tmp_path: Path) -> None:
    rows = [
        {
            "entity": "東京タワー",
            "aliases": ["Tokyo Tower"],
            "attribute": "height",
            "type": "number",
            "value": 333,
            "unit": "m",
        },
        {
            "entity": "Zürich Hauptbahnhof",
            "aliases": ["Zürich HB"],
            "attribute": "opened",
            "type": "date",
            "value": "1847-08-09",
        },
        {"entity": "القاهرة", "attribute": "country", "type": "text", "value": "مصر"},
    ]
    assert store.import_file(_jsonl(tmp_path, rows)).imported == 3
    assert store.get("tokyo tower")[0].value.value == 333
    assert store.get("ZURICH HB")[0].entity == "Zürich Hauptbahnhof"
    assert store.get("القاهرة")[0].value.value == "مصر"


def test_export_then_import_round_trips(store: FactStore, tmp_path: Path, store_url: str) -> None:
    store.import_file(
        _csv(
            tmp_path,
            "Acme X1,product,X1|Acmé,price,money,999.50,,USD,2024-01-01,cat\n"
            "Acme X1,product,,price,money,899,,USD,2025-01-01,cat\n"
            "Kettle,,,launch,date,2022-03-03,,,,\n",
        )
    )
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"out.{fmt}"
        assert store.export(out, fmt) == 3
        other = FactStore.open(f"sqlite:///{tmp_path / f'copy-{fmt}.db'}")
        result = other.import_file(out)
        assert result.ok, result.errors
        a = sorted((f.entity, f.attribute, f.value.display(), f.valid_from, f.valid_to) for f in store.facts())
        b = sorted((f.entity, f.attribute, f.value.display(), f.valid_from, f.valid_to) for f in other.facts())
        assert a == b
        assert sorted(other.get("acme")[0].aliases) == ["Acmé", "X1"]
        other.close()


def test_a_failure_mid_write_rolls_everything_back(
    store: FactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = FactStore._upsert_entities

    def boom(self: FactStore, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(FactStore, "_upsert_entities", boom)
    with pytest.raises(RuntimeError):
        store.import_file(_csv(tmp_path, "Acme X1,product,X1,price,money,999,,USD,,cat\n"))
    monkeypatch.undo()
    assert store.entity("Acme X1") is None and store.count() == 0
    assert store.revision() == 0


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.dictionaries(st.sampled_from(["entity", "attribute", "type", "value", "unit", "currency"]), _text))
def test_any_row_either_parses_or_names_a_field(row: dict[str, Any]) -> None:
    try:
        fact = row_to_fact(row)
    except FieldError as exc:
        assert exc.reason
        assert (
            exc.field is None or exc.field in row or exc.field in {"entity", "attribute", "type", "value", "currency"}
        )
    else:
        assert normalize(fact.entity)


def test_too_many_rows_is_an_error_not_a_partial_import(
    store: FactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import guardrails.facts.io as fio

    monkeypatch.setattr(fio, "MAX_ROWS", 3)
    body = "".join(f"E{i},,,price,money,{i},,USD,,\n" for i in range(5))
    result = store.import_file(_csv(tmp_path, body))
    assert result.imported == 0 and result.errors[-1].row == 4 and "more than 3 rows" in result.errors[-1].reason
    assert store.count() == 0
