"""Attacks on `guardrails batch` through the dataset it reads: a dataset is model output, and model output is
untrusted (any size, any bytes). Each row must come out as itself or as a named bad row: never a crash, never a
row lost in silence, never text of one row turned into rows of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.cli.main import main
from tests.batch._data import read, rules, write

HOSTILE_TEXTS = [
    "日本語のテキスト、句読点つき。",
    "مرحبا بالعالم — نص من اليمين إلى اليسار",
    "emoji 👩‍👩‍👧‍👦 and flags 🇺🇦🇯🇵",
    "combining e\u0301 and zero\u200bwidth and bidi \u202eoverride\u202c",
    "line\u2028separator and paragraph\u2029separator and next\x85line",
    'quotes " and "" and commas, and\nnewlines\r\nand CRLF',
    "nul \x00 byte and tab\t and form feed \x0c",
    "",
]


def _batch(tmp_path: Path, src: Path, dest: Path, *extra: str) -> int:
    return main(["batch", str(src), "-o", str(dest), *rules(tmp_path), "--workers", "1", *extra])


@pytest.mark.parametrize("fmt_in", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("fmt_out", ["jsonl", "csv", "parquet"])
def test_any_text_and_id_come_back_exactly_as_they_went_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt_in: str, fmt_out: str
) -> None:
    records = [{"id": f"ид-{i}-标识", "text": t} for i, t in enumerate(HOSTILE_TEXTS)]
    src = write(tmp_path / f"in.{fmt_in}", records)
    dest = tmp_path / f"out.{fmt_out}"
    assert _batch(tmp_path, src, dest) == 0
    out = read(dest)
    assert [(r["id"], r["report"]["original"]) for r in out] == [(r["id"], r["text"]) for r in records]
    if fmt_out == "jsonl":
        # One row, one line, even for readers that also break lines at U+2028, U+2029 and NEL.
        assert len(dest.read_text(encoding="utf-8").splitlines()) == len(records)


def test_a_huge_line_is_a_named_bad_row_and_the_rows_after_it_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "a", "text": "before"}) + "\n")
        fh.write(json.dumps({"id": "huge", "text": "darn " * (17 * 1024 * 1024 // 5)}) + "\n")  # over 16 MiB
        fh.write(json.dumps({"id": "b", "text": "after"}) + "\n")
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest) == 1
    err = capsys.readouterr().err
    assert f"{src}:2: skipped: line longer than 16777216 bytes (--max-line-bytes)" in err
    assert [r["id"] for r in read(dest)] == ["a", "b"]


def test_deep_nesting_is_a_named_bad_row_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "a", "text": "fine"}) + "\n" + "[" * 200_000 + "]" * 200_000 + "\n"
        '{"id": "b", "text": "fine", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
        encoding="utf-8",
    )
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest) == 1
    err = capsys.readouterr().err
    assert f"{src}:2: skipped: not JSON this process can read: nested too deeply" in err
    assert f"{src}:3: skipped: not JSON this process can read: nested too deeply" in err
    assert [r["id"] for r in read(dest)] == ["a"]


def test_non_utf8_bytes_are_named_not_replaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Replacing undecodable bytes would validate a text that is not the one in the file.
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b'{"id": "a", "text": "fine"}\n{"id": "b", "text": "caf\xe9 darn"}\n{"id": "c", "text": "\xff\xfe"}\n'
        b'{"id": "d", "text": "also fine"}\n'
    )
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest) == 1
    err = capsys.readouterr().err
    assert f"{src}:2: skipped: not UTF-8 (byte 0xe9 at column 25)" in err
    assert f"{src}:3: skipped: not UTF-8 (byte 0xff at column 22)" in err
    assert [r["id"] for r in read(dest)] == ["a", "d"]


def test_non_utf8_bytes_in_csv_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b'id,text\na,fine\nb,"caf\xe9\nover two lines"\nc,ok\n')
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest) == 1
    assert f"{src}:3: skipped: not UTF-8" in capsys.readouterr().err
    assert [(r["id"], r["line"]) for r in read(dest)] == [("a", 2), ("c", 5)]


def test_csv_quotes_and_newlines_inside_fields_never_make_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A text that looks like CSV rows (an id, a text that blocks) must stay one text.
    smuggled = 'x"\ninjected,darn darn\n"y'
    src = write(tmp_path / "in.csv", [{"id": "a", "text": smuggled}, {"id": "b", "text": "ok"}])
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest) == 1  # a's text says darn
    out = read(dest)
    assert [(r["id"], r["line"], r["report"]["original"]) for r in out] == [("a", 2, smuggled), ("b", 5, "ok")]


def test_a_csv_field_over_the_cap_is_one_bad_row_and_its_text_never_becomes_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The long field spans many short lines, each a well-formed CSV row with a valid id: past the cap the
    # reader must still know they are inside the field.
    inside = "".join(f"fake{i},darn {i}\n" for i in range(2000))
    src = write(
        tmp_path / "in.csv", [{"id": "a", "text": "ok"}, {"id": "long", "text": inside}, {"id": "z", "text": "ok"}]
    )
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest, "--max-line-bytes", "4096") == 1
    err = capsys.readouterr().err
    assert f"{src}:3: skipped: longer than 4096 bytes from line" in err
    assert [r["id"] for r in read(dest)] == ["a", "z"]
    assert "fake" not in err.replace(str(src), "")


def test_a_csv_line_over_the_cap_with_a_quote_keeps_the_reader_in_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.csv"
    src.write_text('id,text\na,"starts here ' + "x" * 10_000 + '"\nb,"two\nlines"\nc,ok\n', encoding="utf-8")
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest, "--max-line-bytes", "1024") == 1
    assert f"{src}:2: skipped: longer than 1024 bytes" in capsys.readouterr().err
    assert [(r["id"], r["report"]["original"]) for r in read(dest)] == [("b", "two\nlines"), ("c", "ok")]


# -- Parquet: the schema is data too -----------------------------------------------------------------------


def test_parquet_text_column_of_the_wrong_type_names_file_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write(tmp_path / "in.parquet", [{"id": "a", "text": 1}, {"id": "b", "text": 2}])
    assert _batch(tmp_path, src, tmp_path / "out.jsonl") == 2
    err = capsys.readouterr().err
    assert f"{src}: column 'text' is int64; the text column must be a string" in err
    assert "Traceback" not in err


def test_parquet_id_column_of_the_wrong_type_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path / "in.parquet", [{"id": 1.5, "text": "a"}])
    assert _batch(tmp_path, src, tmp_path / "out.jsonl") == 2
    assert f"{src}: column 'id' is double; an id column holds strings or integers" in capsys.readouterr().err


def test_parquet_nulls_and_undecodable_binary_are_named_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    table = pa.table(
        {
            "id": pa.array([1, 2, None, 4], pa.int64()),
            "text": pa.array([b"ok", None, b"fine", b"\xff bad"], pa.binary()),
        }
    )
    pq.write_table(table, src)
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest) == 1
    err = capsys.readouterr().err
    assert f"{src}:2: skipped: field 'text' is null, not a string" in err
    assert f"{src}:4: skipped: not UTF-8 (byte 0xff at offset 0)" in err
    assert [r["id"] for r in read(dest)] == [1, 3]  # row 3's id is null: its row number stands in


def test_a_file_that_is_not_parquet_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.parquet"
    src.write_bytes(b"PAR1 but not really")
    assert _batch(tmp_path, src, tmp_path / "out.jsonl") == 2
    assert f"{src}: not a Parquet file" in capsys.readouterr().err


def test_a_context_that_is_not_a_context_is_a_named_bad_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(
        tmp_path / "in.jsonl",
        [
            {"id": "a", "text": "x", "ctx": {"request_id": "r" * 500}},
            {"id": "b", "text": "x", "ctx": "not json"},
            {"id": "c", "text": "x", "ctx": {"language": "en"}},
        ],
    )
    dest = tmp_path / "out.jsonl"
    assert _batch(tmp_path, src, dest, "--context-field", "ctx") == 1
    err = capsys.readouterr().err
    assert f"{src}:1: skipped: field 'ctx': request_id:" in err
    assert f"{src}:2: skipped: field 'ctx' is not JSON" in err
    assert [r["id"] for r in read(dest)] == ["c"]
