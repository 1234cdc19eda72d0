"""Reading a dataset row by row: JSONL, CSV and Parquet, never the whole file at once.

Every reader yields `Row`s and `BadRow`s in input order. A row that cannot be validated (not JSON, not UTF-8,
a line over the size cap, a text that is not a string, a context that is not an object) is a `BadRow` naming
its line and why: the command counts and names it, nothing is dropped in silence. A problem with the file as a
whole (no text column, a Parquet column of the wrong type) is a `BatchError` naming the file and column.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from guardrails.batch.runners import BatchError, Row

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_ID_CHARS = 1000
# Lone surrogates are how undecodable bytes come through `surrogateescape`.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that was not validated, and why."""

    line: int
    reason: str
    id: str | int | None = None


Item = Row | BadRow


@dataclass(frozen=True)
class Fields:
    """Which input fields (JSONL keys, CSV and Parquet columns) hold the text, the id and the context."""

    text: str = "text"
    id: str = "id"
    context: str | None = None


class Reader(Protocol):
    label: str
    total: int | None
    """Progress units in the whole input (bytes for JSONL and CSV, rows for Parquet), None when unknown."""
    done: int
    """Progress units read so far."""

    def __iter__(self) -> Iterator[Item]: ...


def format_of(path: str, given: str | None, flag: str) -> str:
    """The format named by `flag`, else the file's suffix, else JSONL (stdin, unknown suffixes)."""
    if given:
        return given
    return _SUFFIXES.get(Path(path).suffix.lower(), "jsonl") if path != "-" else "jsonl"


def open_reader(path: str, fmt: str, fields: Fields, *, max_line_bytes: int = MAX_LINE_BYTES) -> Reader:
    if path != "-":
        p = Path(path)
        if p.is_dir():
            raise BatchError(f"{path}: is a directory (give a file)")
        if not p.is_file():
            raise BatchError(f"{path}: no such file")
    if fmt == "jsonl":
        return JsonlReader(path, fields, max_line_bytes)
    if fmt == "csv":
        return CsvReader(path, fields, max_line_bytes)
    if fmt == "parquet":
        if path == "-":
            raise BatchError("Parquet cannot be read from stdin (its index is at the end): give a file")
        return ParquetReader(path, fields)
    raise BatchError(f"--input-format {fmt}: not one of {', '.join(FORMATS)}")


# -- shared: one row from a mapping ----------------------------------------------------------------------


def row_from(values: dict[str, Any], line: int, number: int, fields: Fields) -> Item:
    """A Row from a JSON object or a CSV/Parquet record; `number` is the id when the row has none."""
    ident = values.get(fields.id)
    if ident is None or ident == "":
        ident = number
    elif isinstance(ident, bool) or not isinstance(ident, str | int):
        return BadRow(line, f"field {fields.id!r} is {_kind(ident)}; an id is a string or an integer", None)
    elif isinstance(ident, str) and len(ident) > MAX_ID_CHARS:
        return BadRow(line, f"field {fields.id!r} is {len(ident)} characters, over the limit of {MAX_ID_CHARS}")
    text = values.get(fields.text)
    if not isinstance(text, str):
        what = "missing" if fields.text not in values else f"{_kind(text)}, not a string"
        return BadRow(line, f"field {fields.text!r} is {what}", ident)
    context = values.get(fields.context) if fields.context else None
    if isinstance(context, str):
        try:
            context = json.loads(context) if context.strip() else None
        except (ValueError, RecursionError) as exc:
            return BadRow(line, f"field {fields.context!r} is not JSON: {exc}", ident)
    if context is not None:
        if not isinstance(context, dict):
            return BadRow(line, f"field {fields.context!r} is {_kind(context)}, not an object", ident)
        problem = _context_problem(context)
        if problem:
            return BadRow(line, f"field {fields.context!r}: {problem}", ident)
    return Row(ident, line, text, context)


def _context_problem(context: dict[str, Any]) -> str | None:
    from pydantic import ValidationError

    from guardrails.context import Context

    try:
        Context.model_validate(context)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        return f"{loc}: {first['msg']}" if loc else str(first["msg"])
    return None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", bool: "a boolean", float: "a number", int: "a number"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _open_binary(path: str) -> IO[bytes]:
    try:
        return sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as exc:
        raise BatchError(f"{path}: cannot read: {exc.strerror}") from exc


def _size(path: str) -> int | None:
    try:
        return None if path == "-" else Path(path).stat().st_size
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class TooLong:
    """A physical line over the cap, read past; `quotes` counts its `"` (CSV needs their parity to stay in step)."""

    quotes: int


class _CappedLines:
    """Physical lines of a binary stream, each at most `cap` bytes: a longer one is read past (in bounded pieces,
    never held whole) and yielded as `TooLong`, so one hostile line costs neither memory nor the rest of the file."""

    def __init__(self, fh: IO[bytes], cap: int) -> None:
        self.fh = fh
        self.cap = cap
        self.number = 0
        self.consumed = 0

    def __iter__(self) -> Iterator[bytes | TooLong]:
        while True:
            raw = self.fh.readline(self.cap + 1)
            if not raw:
                return
            self.number += 1
            self.consumed += len(raw)
            if len(raw) > self.cap and not raw.endswith(b"\n"):
                quotes = raw.count(b'"')
                while True:
                    more = self.fh.readline(1 << 20)
                    self.consumed += len(more)
                    quotes += more.count(b'"')
                    if not more or more.endswith(b"\n"):
                        break
                yield TooLong(quotes)
            else:
                yield raw


# -- JSONL -------------------------------------------------------------------------------------------------


class _LineSource:
    """A file (or stdin) read as capped lines; `done` of `total` bytes so far, for the progress bar."""

    def __init__(self, path: str, fields: Fields, cap: int) -> None:
        self.label = "<stdin>" if path == "-" else path
        self.path = path
        self.fields = fields
        self.cap = cap
        self.total = _size(path)
        self.done = 0


class JsonlReader(_LineSource):
    def __iter__(self) -> Iterator[Item]:
        fh = _open_binary(self.path)
        try:
            lines = _CappedLines(fh, self.cap)
            for raw in lines:
                self.done = lines.consumed
                n = lines.number
                if isinstance(raw, TooLong):
                    yield BadRow(n, f"line longer than {self.cap} bytes (--max-line-bytes)")
                    continue
                item = self._parse(raw, n)
                if item is not None:
                    yield item
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()

    def _parse(self, raw: bytes, n: int) -> Item | None:
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return BadRow(n, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
        if not line.strip():
            return None
        try:
            obj = json.loads(line)
        except ValueError as exc:
            return BadRow(n, f"not JSON: {exc}")
        except RecursionError:
            return BadRow(n, "not JSON this process can read: nested too deeply")
        if not isinstance(obj, dict):
            return BadRow(n, f"expected a JSON object with a string field {self.fields.text!r}, got {_kind(obj)}")
        return row_from(obj, n, n, self.fields)


# -- CSV ---------------------------------------------------------------------------------------------------


class CsvReader(_LineSource):
    """CSV with a header row (RFC 4180 quoting: fields may hold commas, quotes and newlines)."""

    def __iter__(self) -> Iterator[Item]:
        fh = _open_binary(self.path)
        lines = _CappedLines(fh, self.cap)
        # The record being read: its size so far, and the first line that took it over the cap.
        size = [0]
        too_long: list[int] = []

        def text_lines() -> Iterator[str]:
            for raw in lines:
                if not isinstance(raw, TooLong):
                    size[0] += len(raw)
                if isinstance(raw, TooLong) or size[0] > self.cap:
                    # Past the cap the record's text is dropped, but its quotes' parity is kept, so the parser
                    # still finds where the record ends: the text of a long field never comes back as rows.
                    quotes = raw.quotes if isinstance(raw, TooLong) else raw.count(b'"')
                    too_long.append(lines.number)
                    yield '"' * (quotes % 2) + "\n"
                    continue
                data = raw[3:] if lines.number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
                yield data.decode("utf-8", errors="surrogateescape")

        # Records are bounded by the cap above; the parser's own limit only needs to stay out of the way.
        old_limit = csv.field_size_limit(max(self.cap * 2, csv.field_size_limit()))
        try:
            reader = csv.reader(text_lines(), strict=True)
            header = self._header(reader)
            number = 0
            while True:
                start = reader.line_num + 1
                size[0] = 0
                too_long.clear()
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    number += 1
                    self.done = lines.consumed
                    yield BadRow(start, f"not CSV: {exc}")
                    continue
                self.done = lines.consumed
                if not record and not too_long:
                    continue  # a blank line (a record cut to nothing by the cap is still named below)
                number += 1
                if too_long:
                    yield BadRow(start, f"longer than {self.cap} bytes from line {too_long[0]} (--max-line-bytes)")
                elif len(record) != len(header):
                    yield BadRow(start, f"has {len(record)} fields, the header has {len(header)}")
                elif any(_UNDECODABLE.search(v) for v in record):
                    yield BadRow(start, "not UTF-8")
                else:
                    yield row_from(dict(zip(header, record, strict=True)), start, number, self.fields)
        finally:
            csv.field_size_limit(old_limit)
            if fh is not sys.stdin.buffer:
                fh.close()

    def _header(self, reader: Any) -> list[str]:
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise BatchError(f"{self.label}:1: the header is not CSV: {exc}") from exc
        if not header:
            raise BatchError(f"{self.label}: empty (a CSV input starts with a header row naming its columns)")
        _require_column(self.label, self.fields.text, list(header), "--text-field")
        return list(header)


def _require_column(label: str, name: str, columns: list[str], flag: str) -> None:
    if name not in columns:
        from guardrails.rules.errors import suggest

        shown = ", ".join(columns[:20])
        raise BatchError(f"{label}: no column {name!r}{suggest(name, columns)} (columns: {shown}); name it with {flag}")


# -- Parquet -----------------------------------------------------------------------------------------------


class ParquetReader:
    """Parquet read one record batch at a time (and only the columns the batch uses)."""

    def __init__(self, path: str, fields: Fields, batch_rows: int = 4096) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise BatchError(f"{path}: reading Parquet needs pyarrow: pip install 'outguard[parquet]'") from exc
        self.label = path
        self.fields = fields
        self.batch_rows = batch_rows
        try:
            self.file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...
            raise BatchError(f"{path}: not a Parquet file: {exc}") from exc
        self.total = self.file.metadata.num_rows
        self.done = 0
        self.columns = self._columns()

    def _columns(self) -> list[str]:
        import pyarrow.types as pt

        schema = self.file.schema_arrow
        names = list(schema.names)
        _require_column(self.label, self.fields.text, names, "--text-field")
        text_type = schema.field(self.fields.text).type
        if not (
            pt.is_string(text_type)
            or pt.is_large_string(text_type)
            or pt.is_binary(text_type)
            or pt.is_large_binary(text_type)
        ):
            raise BatchError(
                f"{self.label}: column {self.fields.text!r} is {text_type}; the text column must be a string"
                " (or binary holding UTF-8)"
            )
        wanted = [self.fields.text]
        if self.fields.id in names:
            id_type = schema.field(self.fields.id).type
            if not (pt.is_integer(id_type) or pt.is_string(id_type) or pt.is_large_string(id_type)):
                raise BatchError(
                    f"{self.label}: column {self.fields.id!r} is {id_type}; an id column holds strings or integers"
                    " (name another with --id-field)"
                )
            wanted.append(self.fields.id)
        if self.fields.context:
            _require_column(self.label, self.fields.context, names, "--context-field")
            wanted.append(self.fields.context)
        return wanted

    def __iter__(self) -> Iterator[Item]:
        number = 0
        for batch in self.file.iter_batches(batch_size=self.batch_rows, columns=self.columns):
            cols = {name: batch.column(name).to_pylist() for name in self.columns}
            for i in range(batch.num_rows):
                number += 1
                values = {name: col[i] for name, col in cols.items()}
                text = values.get(self.fields.text)
                if isinstance(text, bytes):
                    try:
                        values[self.fields.text] = text.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        yield BadRow(
                            number,
                            f"not UTF-8 (byte 0x{text[exc.start]:02x} at offset {exc.start})",
                            values.get(self.fields.id),
                        )
                        continue
                ctx_field = self.fields.context
                context = values.get(ctx_field) if ctx_field else None
                if ctx_field and isinstance(context, dict):
                    # A struct column has every field in every row: a null one is a field the row left out.
                    values[ctx_field] = {k: v for k, v in context.items() if v is not None}
                yield row_from(values, number, number, self.fields)
            self.done = number
