"""Reading and writing fact files (CSV, JSONL) as numbered rows, with errors instead of exceptions."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrails.errors import OutguardError
from guardrails.facts.model import Fact, RowError
from guardrails.facts.rows import COLUMNS, fact_to_row

FORMATS = ("csv", "jsonl")
MAX_ROWS = 2_000_000
MAX_LINE_BYTES = 1_000_000
_REQUIRED = ("entity", "attribute", "value")


class FileFormatError(OutguardError, ValueError):
    """The file cannot be read as rows at all (unknown format, unreadable, bad header)."""


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    data: dict[str, Any] | None
    error: RowError | None = None


def guess_format(path: Path, format: str | None) -> str:
    if format:
        fmt = format.lower()
    else:
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(path.suffix.lower(), "")
    if fmt not in FORMATS:
        raise FileFormatError(f"{path}: unknown format {fmt or path.suffix!r}; use one of {', '.join(FORMATS)}")
    return fmt


def read_rows(path: Path, format: str | None = None) -> Iterator[Row]:
    fmt = guess_format(path, format)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file")
    yield from (_csv_rows if fmt == "csv" else _jsonl_rows)(path)


def _too_many(number: int) -> Row:
    return Row(number, None, RowError(row=number, field=None, reason=f"more than {MAX_ROWS} rows; split the file"))


def _csv_rows(path: Path) -> Iterator[Row]:
    csv.field_size_limit(MAX_LINE_BYTES)
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        number = 0
        try:
            header = reader.fieldnames or []
            unknown = [h for h in header if h not in COLUMNS]
            if unknown:
                yield Row(
                    0, None, RowError(row=0, field=unknown[0], reason=f"unknown column; known: {', '.join(COLUMNS)}")
                )
                return
            missing = [c for c in _REQUIRED if c not in header]
            if missing:
                yield Row(0, None, RowError(row=0, field=missing[0], reason="required column missing from the header"))
                return
            for number, record in enumerate(reader, start=1):
                if number > MAX_ROWS:
                    yield _too_many(number)
                    return
                if None in record:
                    yield Row(number, None, RowError(row=number, field=None, reason="more cells than header columns"))
                    continue
                yield Row(number, {k: v for k, v in record.items() if v is not None})
        except UnicodeDecodeError as exc:
            yield Row(number + 1, None, RowError(row=number + 1, field=None, reason=f"not UTF-8: {exc.reason}"))
        except csv.Error as exc:
            yield Row(number + 1, None, RowError(row=number + 1, field=None, reason=f"malformed CSV: {exc}"))


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with path.open("rb") as fh:
        number = 0
        while True:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if number > MAX_ROWS:
                yield _too_many(number)
                return
            if len(raw) > MAX_LINE_BYTES:
                yield Row(number, None, RowError(row=number, field=None, reason=f"line longer than {MAX_LINE_BYTES}"))
                while raw and not raw.endswith(b"\n"):  # skip the rest of the over-long line
                    raw = fh.readline(MAX_LINE_BYTES + 1)
                continue
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield Row(number, None, RowError(row=number, field=None, reason=f"not UTF-8: {exc.reason}"))
                continue
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                reason = f"not JSON: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else "JSON nested too deeply"
                yield Row(number, None, RowError(row=number, field=None, reason=reason))
                continue
            if not isinstance(data, dict):
                yield Row(number, None, RowError(row=number, field=None, reason="expected a JSON object"))
                continue
            yield Row(number, data)


def write_facts(path: Path, facts: Iterable[Fact], format: str | None = None) -> int:
    fmt = guess_format(path, format)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            for fact in facts:
                writer.writerow(fact_to_row(fact))
                count += 1
        else:
            for fact in facts:
                fh.write(json.dumps(fact.model_dump(mode="json", exclude={"id"}), ensure_ascii=False) + "\n")
                count += 1
    return count


__all__ = ["FORMATS", "FileFormatError", "Row", "guess_format", "read_rows", "write_facts"]
