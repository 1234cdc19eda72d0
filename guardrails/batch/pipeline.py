"""One batch run: read in bounded chunks, skip what the output already holds, validate on a runner in order,
queue what needs a reviewer, write as results come back, and count everything for the summary.

Memory is bounded by the chunk size times the chunks in flight (2 per worker), not by the input: the reader
is pulled only as the runner asks for chunks, and each chunk's reports are written and dropped.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from guardrails.batch.outcome import Outcome
from guardrails.batch.readers import BadRow, Fields, Reader
from guardrails.batch.resume import Skipper
from guardrails.batch.runners import (
    BatchError,
    EngineSpec,
    Row,
    RowFailure,
    Runner,
    get_runner,
    is_missing_extra,
    missing_extra,
)
from guardrails.batch.summary import Summary
from guardrails.batch.writers import Writer, key_of

if TYPE_CHECKING:
    from guardrails.engine import Engine
    from guardrails.findings import Report
    from guardrails.reviews import ReviewStore

DEFAULT_CHUNK = 256
MAX_REQUEST_ID = 200


@dataclass(frozen=True)
class Options:
    fields: Fields = field(default_factory=Fields)
    engine: str = "local"
    workers: int | None = None
    chunk_size: int = DEFAULT_CHUNK
    show_values: bool = False
    review_all: bool = False
    """Queue every non-pass row, not only those the policy sends to review."""
    request_prefix: str = "batch"


Progress = Callable[[int, int], None]
"""progress(units read so far, rows validated so far)."""


def run_batch(
    engine: Engine,
    reader: Reader,
    writer: Writer,
    options: Options,
    summary: Summary,
    *,
    reviews: ReviewStore | None = None,
    progress: Progress | None = None,
    err: TextIO,
) -> Summary:
    started = time.perf_counter()
    prior = writer.prior()
    _check_settings(prior.first, engine, options, summary.output)
    skipper = Skipper(prior.keys, prior.count)
    runner = get_runner(options.engine)
    sent: deque[list[Row]] = deque()

    def chunks() -> Iterator[list[Row]]:
        chunk: list[Row] = []
        for item in reader:
            if isinstance(item, BadRow):
                where = f"{reader.label}:{item.line}"
                print(f"{where}: skipped: {item.reason}", file=err)
                summary.bad_row(where, item.reason, item.id)
                continue
            if skipper.seen(key_of(item.id)):
                continue
            chunk.append(item)
            if len(chunk) >= options.chunk_size:
                sent.append(chunk)
                yield chunk
                chunk = []
        if chunk:
            sent.append(chunk)
            yield chunk

    summary.by_verdict.update(prior.by_verdict)
    summary.by_code.update(prior.by_code)
    finish = _Finisher(engine, options, reviews, summary)
    try:
        spec = EngineSpec.of(engine, show_values=options.show_values)
        for reports in _run(runner, chunks(), spec, options):
            rows = sent.popleft()
            if len(reports) != len(rows):
                raise BatchError(f"--engine {options.engine}: got {len(reports)} reports for {len(rows)} rows")
            done = []
            for row, rep in zip(rows, reports, strict=True):
                if isinstance(rep, RowFailure):
                    where = f"{reader.label}:{row.line}"
                    print(f"{where}: skipped: {rep.reason}", file=err)
                    summary.bad_row(where, rep.reason, row.id)
                else:
                    done.append(finish(row, rep))
            writer.write(done)
            summary.validated += len(done)
            if progress is not None:
                progress(reader.done, summary.validated)
    except BaseException:
        # Keep what was written (a Parquet output flushes its buffer to a part): the rerun resumes from it.
        writer.abort()
        raise
    finally:
        summary.resumed = skipper.skipped
        summary.elapsed_s = time.perf_counter() - started
    writer.close()
    _warn(skipper, reader.label, summary.output, err)
    return summary


def _run(
    runner: Runner, chunks: Iterator[list[Row]], spec: EngineSpec, options: Options
) -> Iterator[Sequence[Report | Outcome | RowFailure]]:
    """The runner's results, its failures turned into BatchErrors that say what to do."""
    try:
        yield from runner(chunks, spec, workers=options.workers)
    except BrokenProcessPool as exc:
        raise BatchError(
            f"a worker process died ({exc}; killed, or out of memory?): the rows written are kept,"
            " run the same command again to resume"
        ) from exc
    except BatchError:
        raise
    except Exception as exc:
        if is_missing_extra(options.engine, exc):
            raise missing_extra(options.engine, exc) from exc
        if options.engine == "local":
            raise
        # A cluster that would not start or lost its workers: one line, not the cluster's traceback.
        raise BatchError(
            f"--engine {options.engine}: {type(exc).__name__}: {str(exc).strip()[:500]} (the rows written are kept:"
            " run the same command again to resume)"
        ) from exc


def _warn(skipper: Skipper, label: str, output: str, err: TextIO) -> None:
    if skipper.unmatched:
        print(
            f"warning: {output} holds {skipper.unmatched} row(s) whose ids are not in {label}"
            " (written from another input?)",
            file=err,
        )
    if skipper.reordered:
        print(f"warning: {label} is not in the order {output} was written in; rows were matched by id", file=err)


class _Finisher:
    """What happens to each result before it is written: masked (by the runner, or here), queued for review when
    flagged, counted."""

    def __init__(self, engine: Engine, options: Options, reviews: ReviewStore | None, summary: Summary) -> None:
        from guardrails.redaction import sensitive_rule_ids

        self.engine = engine
        self.options = options
        self.reviews = reviews
        self.summary = summary
        self.sensitive = sensitive_rule_ids(engine.rules)

    def __call__(self, row: Row, result: Report | Outcome) -> tuple[Row, Outcome]:
        # What leaves the process is masked (the reports file unless --show-values, the review queue always).
        if isinstance(result, Outcome):
            outcome = result
        else:
            outcome = Outcome.of(result, self.engine, self.sensitive, show_values=self.options.show_values)
        if self.reviews is not None and (outcome.sampled or (self.options.review_all and outcome.needs_action)):
            masked = outcome.masked_report()
            item, _created = self.reviews.submit(
                masked, _review_context(row, self.options), sampled=outcome.verdict != "review"
            )
            self.summary.queued += 1
            outcome = outcome.with_review_id(item.id)
        self.summary.count(outcome.verdict, outcome.codes)
        return row, outcome


def _review_context(row: Row, options: Options) -> dict[str, Any]:
    """The row's context with a request id: its own, or one derived from the row's id, so a rerun that queues the
    same row again finds it queued (the store keeps one item per request id)."""
    ctx = dict(row.context or {})
    if not ctx.get("request_id"):
        rid = f"{options.request_prefix}:{row.id}"
        if len(rid) > MAX_REQUEST_ID or "\x00" in rid:
            rid = f"{options.request_prefix}:sha256:{hashlib.sha256(str(row.id).encode()).hexdigest()}"
        ctx["request_id"] = rid[:MAX_REQUEST_ID]
    return ctx


def _check_settings(first: Any, engine: Engine, options: Options, output: str) -> None:
    """Refuse to append to reports of another policy version, or masked differently: the file would mix them."""
    if first is None:
        return
    version = engine.compiled.version
    if first.policy_version is not None and first.policy_version != version:
        raise BatchError(
            f"{output} holds reports of policy version {first.policy_version}, this run's is {version}"
            " (the rules changed): give another -o, or --restart to validate everything again"
        )
    if first.masked is not None and bool(first.masked) == options.show_values:
        was = "masked" if first.masked else "with values (--show-values)"
        raise BatchError(
            f"{output} holds reports {was}; this run's would not be: run it as the first did, give another -o,"
            " or --restart"
        )
