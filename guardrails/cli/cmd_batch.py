"""`guardrails batch DATA -o REPORTS`: validate a dataset (JSONL, CSV, Parquet) in a stream, resumably.

The input is read in bounded chunks and validated on a runner (`--engine local`: this host's process pool;
`ray`, `spark`: the integrations), and each report is written as it comes back, in input order, with the input's
id, masked unless `--show-values`. A rerun with the same -o skips the ids already written (a row a kill tore is
written again, never twice). Bad rows are named on stderr (file:line: reason) and counted, never dropped in
silence. A progress bar (rate, ETA) shows on a terminal only; the summary by verdict and code ends the run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from guardrails.cli._common import add_output_arg, add_policy_args, engine_from_args
from guardrails.cli.main import EXIT_ACTION, EXIT_OK, UsageError

if TYPE_CHECKING:
    from guardrails.reviews import ReviewStore

_FORMATS = ("jsonl", "csv", "parquet")
_ENGINES = ("local", "ray", "spark")
_NEED_ACTION = ("review", "regenerate", "block")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "batch",
        help="validate a dataset (JSONL, CSV, Parquet) in a stream on a process pool, Ray or Spark; resumable",
    )
    p.add_argument("file", help="JSONL, CSV or Parquet input (by suffix, or --input-format); - for stdin")
    add_output_arg(
        p,
        "where to write one report per row (JSONL, CSV or Parquet by suffix; - for stdout); required. "
        "If it exists, the ids it holds are skipped and the rest appended (see --restart)",
        old="--out",
    )
    p.add_argument("--input-format", choices=_FORMATS, default=None, help="default: by the file's suffix, else jsonl")
    p.add_argument(
        "--output-format",
        "--format",
        dest="output_format",
        choices=_FORMATS,
        default=None,
        help="default: by the output's suffix, else jsonl",
    )
    p.add_argument("--text-field", default="text", help="field (column) holding the output to validate")
    p.add_argument(
        "--id-field",
        default="id",
        help="field (column) holding the row's id (default: id; rows without one are "
        "numbered by line in JSONL, by row in CSV and Parquet)",
    )
    p.add_argument("--context-field", default=None, help="field (column) holding a context object (or its JSON)")
    p.add_argument("--engine", choices=_ENGINES, default="local", help="where to validate (ray, spark: their extras)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count, max 8)")
    p.add_argument("--chunk-size", type=int, default=256, help="rows per chunk sent to a worker (default: 256)")
    p.add_argument("--restart", action="store_true", help="overwrite the output instead of resuming it")
    p.add_argument("--summary", metavar="FILE", default=None, help="also write the summary as JSON to FILE")
    p.add_argument("--review-db", metavar="URL", default=None, help="queue flagged rows for review in this store")
    p.add_argument(
        "--review-all",
        action="store_true",
        help="with --review-db: queue every row whose verdict needs action, not only those the policy sends to review",
    )
    p.add_argument(
        "--max-line-bytes", type=int, default=None, help="a longer JSONL or CSV line is a bad row (default: 16 MiB)"
    )
    p.add_argument(
        "--show-values",
        action="store_true",
        help="write the values PII (and sensitive-tagged) findings detected; by default each report is masked like "
        "every report that leaves the process (the review queue always is)",
    )
    add_policy_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from guardrails.batch.pipeline import Options, run_batch
    from guardrails.batch.readers import MAX_LINE_BYTES, Fields, format_of, open_reader
    from guardrails.batch.runners import BatchError
    from guardrails.batch.summary import Summary
    from guardrails.batch.writers import open_writer

    _check_args(args)
    try:
        fields = Fields(text=args.text_field, id=args.id_field, context=args.context_field)
        reader = open_reader(
            args.file,
            format_of(args.file, args.input_format, "--input-format"),
            fields,
            max_line_bytes=args.max_line_bytes or MAX_LINE_BYTES,
        )
        engine = engine_from_args(args)
        writer = open_writer(args.output, format_of(args.output, args.output_format, "--output-format"))
        if args.restart:
            writer.discard()
        reviews = _review_store(args.review_db)
        options = Options(
            fields=fields,
            engine=args.engine,
            workers=args.workers,
            chunk_size=args.chunk_size,
            show_values=args.show_values,
            review_all=args.review_all,
            request_prefix=f"batch:{Path(args.file).name}" if args.file != "-" else "batch",
        )
        summary = Summary(reader.label, "<stdout>" if args.output == "-" else args.output, engine=args.engine)
        try:
            with _progress_bar(reader.total) as advance:
                run_batch(engine, reader, writer, options, summary, reviews=reviews, progress=advance, err=sys.stderr)
        except KeyboardInterrupt:
            print(f"interrupted after {summary.validated} rows: run the same command again to resume", file=sys.stderr)
            return 130
        finally:
            if reviews is not None:
                reviews.close()
    except BatchError as exc:
        raise UsageError(str(exc)) from None
    for line in summary.lines():
        print(line, file=sys.stderr)
    if args.summary:
        _write_summary(args.summary, summary.as_json())
    needs_action = any(summary.by_verdict.get(v) for v in _NEED_ACTION)
    return EXIT_ACTION if summary.bad or needs_action else EXIT_OK


def _check_args(args: argparse.Namespace) -> None:
    if not args.output:
        raise UsageError("batch: where should the reports go? give -o/--output FILE (- for stdout)")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be >= 1")
    if args.chunk_size < 1:
        raise UsageError("--chunk-size must be >= 1")
    if args.max_line_bytes is not None and args.max_line_bytes < 1:
        raise UsageError("--max-line-bytes must be >= 1")
    if args.review_all and not args.review_db:
        raise UsageError("--review-all needs --review-db URL (the queue to send rows to)")
    if args.output == "-" and args.restart:
        raise UsageError("--restart: nothing to overwrite on stdout")
    if _same_file(args.file, args.output):
        raise UsageError(f"-o {args.output}: is the input; write the reports to another file")


def _same_file(a: str, b: str) -> bool:
    try:
        return a != "-" and b != "-" and Path(a).exists() and Path(b).exists() and Path(a).samefile(b)
    except OSError:
        return False


def _review_store(url: str | None) -> ReviewStore | None:
    if url is None:
        return None
    from guardrails.reviews import ReviewStore

    try:
        return ReviewStore.open(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError, OperationalError...
        raise UsageError(f"--review-db {url}: cannot open the review queue: {exc}") from exc


def _write_summary(path: str, data: dict[str, object]) -> None:
    try:
        Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--summary {path}: cannot write: {exc.strerror}") from exc


@contextmanager
def _progress_bar(total: int | None) -> Iterator[Callable[[int, int], None] | None]:
    """A rich bar on a terminal (position in the input, rows/s, ETA); nothing when stderr is not one."""
    from guardrails.cli._progress import shows_progress

    if not shows_progress():
        yield None
        return
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("validating"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows  {task.fields[rate]:,.0f}/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    started = time.perf_counter()
    with bar:
        task = bar.add_task("validating", total=total, rows=0, rate=0.0)

        def advance(done: int, rows: int) -> None:
            rate = rows / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, rows=rows, rate=rate)

        yield advance
