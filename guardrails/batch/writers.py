"""Writing reports as they come, and reading back what an earlier run of the same output already wrote.

Every format carries the same columns: `id` (the input's), `line`, `verdict`, `codes`, `output` (delivered),
`review_id` and `report` (JSON; an object in JSONL). Rows are appended one chunk per write and flushed, so a
killed run leaves at most one torn row at the end: `prior()` finds it, cuts it off, and lists the ids already
written, in order, for the rerun to skip.

Parquet cannot be appended to, and a file killed before its footer is unreadable; so a Parquet output is
written as closed parts in `OUT.parts/` and joined into OUT when the run ends.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from guardrails.batch.outcome import Outcome
from guardrails.batch.runners import BatchError, Row

COLUMNS = ("id", "line", "verdict", "codes", "output", "review_id", "report")


@dataclass(frozen=True, slots=True)
class Done:
    """A row an earlier run wrote."""

    key: str
    verdict: str
    codes: tuple[str, ...]
    policy_version: str | None = None
    masked: bool | None = None


@dataclass(frozen=True)
class Prior:
    """What the output held before this run: how many rows, the first one (to compare settings), the ids in order,
    and its rows counted by verdict and by code (for the summary)."""

    count: int
    first: Done | None
    keys: Iterator[str]
    by_verdict: Counter[str] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)

    @classmethod
    def scan(cls, rows: Iterable[Done], keys: Callable[[int], Iterator[str]]) -> Prior:
        count, first = 0, None
        by_verdict: Counter[str] = Counter()
        by_code: Counter[str] = Counter()
        for done in rows:
            count += 1
            first = first or done
            by_verdict[done.verdict] += 1
            by_code.update(done.codes)
        return cls(count, first, keys(count), by_verdict, by_code)


def key_of(ident: str | int) -> str:
    """Ids compare as text: an int id written to CSV reads back as a string."""
    return str(ident)


class Writer(Protocol):
    def prior(self) -> Prior: ...

    def write(self, rows: Sequence[tuple[Row, Outcome]]) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """The run stops early: keep what was written, for the rerun to resume."""
        ...

    def discard(self) -> None: ...


def open_writer(path: str, fmt: str) -> Writer:
    if fmt == "jsonl":
        return JsonlWriter(path)
    if fmt == "csv":
        return CsvWriter(path)
    if fmt == "parquet":
        if path == "-":
            raise BatchError("Parquet cannot be written to stdout: give -o FILE.parquet")
        return ParquetWriter(path)
    raise BatchError(f"--output-format {fmt}: not one of jsonl, csv, parquet")


def _record(row: Row, out: Outcome) -> dict[str, Any]:
    return {
        "id": row.id,
        "line": row.line,
        "verdict": out.verdict,
        "codes": list(out.codes),
        "output": out.output,
        "review_id": out.review_id,
    }


def _empty_prior() -> Prior:
    return Prior(0, None, iter(()))


class _TextWriter:
    """An append-only text output (JSONL, CSV) on a file or stdout."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fh: IO[bytes] | None = None

    def _open(self) -> IO[bytes]:
        if self.fh is None:
            if self.path == "-":
                self.fh = sys.stdout.buffer
            else:
                try:
                    self.fh = open(self.path, "ab")  # noqa: SIM115
                except OSError as exc:
                    raise BatchError(f"{self.path}: cannot write: {exc.strerror}") from exc
        return self.fh

    def _append(self, data: bytes) -> None:
        fh = self._open()
        fh.write(data)
        # One chunk per write, flushed: a kill tears at most the last row, which the rerun cuts off.
        fh.flush()

    def close(self) -> None:
        if self.fh is not None and self.fh is not sys.stdout.buffer:
            self.fh.close()
        elif self.fh is not None:
            self.fh.flush()
        self.fh = None

    def abort(self) -> None:
        self.close()

    def discard(self) -> None:
        self.close()
        if self.path != "-":
            Path(self.path).unlink(missing_ok=True)

    def _truncate(self, size: int) -> None:
        with open(self.path, "r+b") as fh:
            fh.truncate(size)

    def _existing(self) -> bool:
        return self.path != "-" and Path(self.path).is_file() and Path(self.path).stat().st_size > 0


# -- JSONL -------------------------------------------------------------------------------------------------


class JsonlWriter(_TextWriter):
    def write(self, rows: Sequence[tuple[Row, Outcome]]) -> None:
        self._append("".join(_jsonl_line(r, out) for r, out in rows).encode())

    def prior(self) -> Prior:
        if not self._existing():
            return _empty_prior()
        end = [0]

        def rows() -> Iterator[Done]:
            torn = None
            with open(self.path, "rb") as fh:
                for n, raw in enumerate(fh, 1):
                    if torn is not None:
                        raise BatchError(
                            f"{self.path}:{torn[0]}: not a report row ({torn[1]}); is this the output of"
                            " `guardrails batch`? Give another -o, or --restart to overwrite it"
                        )
                    # Only the last line can be torn (a kill cuts a write short; what precedes it ends in "\n").
                    done = _jsonl_done(raw, whole=n == 1) if raw.endswith(b"\n") else None
                    if done is None:
                        torn = (n, "torn" if not raw.endswith(b"\n") else "not a JSON object with an id and a report")
                        continue
                    end[0] += len(raw)
                    yield done

        prior = Prior.scan(rows(), lambda count: _limit(_jsonl_keys(self.path), count))
        if end[0] < Path(self.path).stat().st_size:
            # The last line of a killed run: cut it off, the rerun writes that row again.
            self._truncate(end[0])
        return prior


# Characters str.splitlines() (and some editors) break lines at: escaped, so one row stays one line for them too.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _jsonl_line(row: Row, out: Outcome) -> str:
    # The report is JSON already (made where it was validated): joined in, not parsed and dumped again. Outside
    # strings JSON has none of _LINE_BREAKS, so escaping them everywhere only touches string contents.
    head = json.dumps(_record(row, out), ensure_ascii=False)
    return f'{head[:-1]}, "report": {out.report_json}}}'.translate(_LINE_BREAKS) + "\n"


_REPORT_KEY = b', "report": '


def _jsonl_done(raw: bytes, *, whole: bool = False) -> Done | None:
    """The row's id, verdict and codes. This module writes them before the report, and `, "report": ` cannot occur
    inside a JSON string (its quotes would be escaped): unless `whole`, only the part before the report is parsed."""
    cut = raw.find(_REPORT_KEY) if not whole and raw.startswith(b'{"id": ') else -1
    try:
        obj = json.loads(raw[:cut] + b"}" if cut > 0 else raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or "id" not in obj or (cut < 0 and not isinstance(obj.get("report"), dict)):
        return None
    report = obj.get("report") or {}
    return Done(
        key_of(obj["id"]),
        str(obj.get("verdict")),
        tuple(obj.get("codes") or ()),
        report.get("policy_version"),
        report.get("masked"),
    )


def _jsonl_keys(path: str) -> Iterator[str]:
    decoder = json.JSONDecoder()
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8")
            # Rows start with the id (this module writes them so): decode only it.
            if line.startswith('{"id": '):
                yield key_of(decoder.raw_decode(line, 7)[0])
            else:
                yield key_of(json.loads(line)["id"])


def _limit(keys: Iterator[str], count: int) -> Iterator[str]:
    # Only the rows that were there before this run: the file grows while the rerun reads it.
    for i, key in enumerate(keys):
        if i >= count:
            return
        yield key


# -- CSV ---------------------------------------------------------------------------------------------------


class CsvWriter(_TextWriter):
    def write(self, rows: Sequence[tuple[Row, Outcome]]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if self.fh is None and not self._existing():
            w.writerow(COLUMNS)
        for row, out in rows:
            rec = _record(row, out)
            rec["codes"] = " ".join(rec["codes"])
            rec["review_id"] = rec["review_id"] or ""
            rec["report"] = out.report_json
            w.writerow([rec[c] for c in COLUMNS])
        self._append(buf.getvalue().encode())

    def prior(self) -> Prior:
        if not self._existing():
            return _empty_prior()
        end = [0]

        def rows() -> Iterator[Done]:
            for done, offset in _csv_rows(self.path):
                end[0] = offset
                if done is not None:
                    yield done

        def keys(count: int) -> Iterator[str]:
            written = (d.key for d, _ in _csv_rows(self.path) if d is not None)
            return _limit(written, count)

        prior = Prior.scan(rows(), keys)
        if end[0] < Path(self.path).stat().st_size:
            self._truncate(end[0])
        return prior


def _csv_rows(path: str) -> Iterator[tuple[Done | None, int]]:
    """The byte offset after the header (with None), then each whole row with the offset after it; a torn row
    (or header) at the end is left out, so the last offset is where the file should end."""
    consumed = [0]
    whole_line = [True]

    with open(path, "rb") as fh:

        def lines() -> Iterator[str]:
            for raw in fh:
                consumed[0] += len(raw)
                # A record is whole only when the newline after it was written too.
                whole_line[0] = raw.endswith(b"\n")
                yield raw.decode("utf-8")

        reader = csv.reader(lines(), strict=True)
        old = csv.field_size_limit(sys.maxsize)
        try:
            header = next(reader, None)
            if header is None or not whole_line[0]:
                return  # a header a kill tore: nothing after it was written either
            if tuple(header) != COLUMNS:
                raise BatchError(
                    f"{path}:1: not the output of `guardrails batch` (columns {', '.join(header)});"
                    " give another -o, or --restart to overwrite it"
                )
            yield None, consumed[0]
            while True:
                try:
                    rec = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    return
                report = _json_or_none(rec[6]) if len(rec) == len(COLUMNS) else None
                if report is None or not whole_line[0]:
                    return
                done = Done(rec[0], rec[2], tuple(rec[3].split()), report.get("policy_version"), report.get("masked"))
                yield done, consumed[0]
        finally:
            csv.field_size_limit(old)


def _json_or_none(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# -- Parquet -----------------------------------------------------------------------------------------------


class ParquetWriter:
    def __init__(self, path: str, part_rows: int = 20_000) -> None:
        try:
            import pyarrow as pa
        except ImportError as exc:
            raise BatchError(f"{path}: writing Parquet needs pyarrow: pip install 'outguard[parquet]'") from exc
        self.path = Path(path)
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.part_rows = part_rows
        self.buffer: list[dict[str, Any]] = []
        self.schema = pa.schema(
            [
                ("id", pa.string()),
                ("line", pa.int64()),
                ("verdict", pa.string()),
                ("codes", pa.list_(pa.string())),
                ("output", pa.string()),
                ("review_id", pa.string()),
                ("report", pa.string()),
            ]
        )

    def _part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else []

    def prior(self) -> Prior:
        if self.path.exists() and self.parts.is_dir():
            # Killed between joining the parts into OUT and removing them: OUT holds them all.
            shutil.rmtree(self.parts)
        if self.path.exists():
            self.parts.mkdir()
            self.path.replace(self.parts / "part-000000.parquet")
        for tmp in self.parts.glob("*.tmp") if self.parts.is_dir() else []:
            tmp.unlink()  # a part a kill caught before its rename: its rows were never counted
        files = self._part_files()
        if not files:
            return _empty_prior()
        return Prior.scan(self._done(files), lambda count: (d.key for d in self._done(files)))

    def _done(self, files: list[Path]) -> Iterator[Done]:
        import pyarrow.parquet as pq

        for f in files:
            try:
                pf = pq.ParquetFile(f)
            except Exception as exc:
                raise BatchError(f"{f}: not readable ({exc}); remove it, or --restart") from exc
            for batch in pf.iter_batches(columns=["id", "verdict", "codes", "report"]):
                cols = batch.to_pydict()
                for i, ident in enumerate(cols["id"]):
                    report = _json_or_none(cols["report"][i]) or {}
                    yield Done(
                        ident,
                        cols["verdict"][i],
                        tuple(cols["codes"][i] or ()),
                        report.get("policy_version"),
                        report.get("masked"),
                    )

    def write(self, rows: Sequence[tuple[Row, Outcome]]) -> None:
        for row, out in rows:
            rec = _record(row, out)
            rec["id"] = key_of(rec["id"])
            rec["report"] = out.report_json
            self.buffer.append(rec)
        if len(self.buffer) >= self.part_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.parts.mkdir(exist_ok=True)
        files = self._part_files()
        number = int(files[-1].stem.split("-")[1]) + 1 if files else 1
        final = self.parts / f"part-{number:06d}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema), tmp)
        # A part exists under its name only whole: a kill mid-write leaves a .tmp the rerun deletes.
        os.replace(tmp, final)
        self.buffer = []

    def close(self) -> None:
        import pyarrow.parquet as pq

        self._flush()
        files = self._part_files()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with pq.ParquetWriter(tmp, self.schema) as out:
            for f in files:
                for batch in pq.ParquetFile(f).iter_batches():
                    out.write_batch(batch)
        os.replace(tmp, self.path)
        if self.parts.is_dir():
            shutil.rmtree(self.parts)

    def abort(self) -> None:
        self._flush()

    def discard(self) -> None:
        self.buffer = []
        if self.parts.is_dir():
            shutil.rmtree(self.parts)
        self.path.unlink(missing_ok=True)
