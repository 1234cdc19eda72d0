"""The runner seam of `guardrails batch`: who validates the chunks (this host's process pool, Ray, Spark).

A runner takes an iterator of chunks (lists of `Row`) and an `EngineSpec`, and yields one list of results per
chunk, in chunk order, each list as long as its chunk and in the same order. A result is a `Report` (unmasked:
the command masks what leaves the process), or an `Outcome` (the report masked unless `spec.show_values` and
serialised where it was validated, `Outcome.of(report, engine, sensitive, show_values=spec.show_values)`: the
local runner answers so, and the parent only joins strings), or a `RowFailure` for a row it could not validate.
It pulls chunks only as it needs them (a bounded number in flight), so the input is never held whole.

    def batch_runner(chunks: Iterable[Sequence[Row]], spec: EngineSpec, *, workers: int | None = None)
        -> Iterator[Sequence[Report | Outcome | RowFailure]]

A runner of the integrations' first shape (chunks of row dicts, result dicts per row) is adapted on lookup.
Engines do not pickle (facts and review stores, compiled patterns), so a runner ships the `EngineSpec` and each
worker calls `spec.build()` once. `local` lives here; `ray` and `spark` are `batch_runner` in
`guardrails.integrations.ray` / `.spark`, imported only when asked for.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from guardrails.batch.outcome import Outcome
from guardrails.engine_pool import WorkerSetup
from guardrails.errors import OutguardError

if TYPE_CHECKING:
    from guardrails.engine import Engine
    from guardrails.findings import Report


class BatchError(OutguardError):
    """A batch cannot run as asked (a missing extra, an unknown engine, an unreadable file); one line, no traceback."""


@dataclass(frozen=True, slots=True)
class Row:
    """One input row ready to validate."""

    id: str | int
    """The input's id column, or the row's line number (JSONL) or row number (CSV, Parquet) when it has none."""
    line: int
    """Where the row starts: the line number in a JSONL or CSV file, the row number (from 1) in a Parquet file."""
    text: str
    context: dict[str, Any] | None = None


@dataclass(frozen=True)
class EngineSpec(WorkerSetup):
    """What a worker needs to compile the parent's engine again (`build()`), and how to answer."""

    show_values: bool = False
    """For runners that answer with `Outcome`s: whether the written report keeps the values it detected."""

    @classmethod
    def of(cls, engine: Engine, *, show_values: bool = False) -> EngineSpec:
        s = WorkerSetup.of(engine)
        return cls(s.source, s.rules_dirs, s.policy, s.version, s.suppressor, show_values)


@dataclass(frozen=True, slots=True)
class RowFailure:
    """In place of a report: the runner could not validate this row (the command names it as a bad row)."""

    reason: str


class Runner(Protocol):
    def __call__(
        self, chunks: Iterable[Sequence[Row]], spec: EngineSpec, *, workers: int | None = None
    ) -> Iterator[Sequence[Report | Outcome | RowFailure]]: ...


# -- local: this host's process pool ---------------------------------------------------------------------

_WORKER: _Worker | None = None
_WORKER_ERROR: str | None = None


class _Worker:
    """An engine and what it needs to turn reports into `Outcome`s."""

    def __init__(self, spec: EngineSpec) -> None:
        from guardrails.redaction import sensitive_rule_ids

        self.engine = spec.build()
        self.sensitive = sensitive_rule_ids(self.engine.rules)
        self.show_values = spec.show_values

    def __call__(self, rows: Sequence[Row]) -> list[Outcome]:
        validate, engine = self.engine.validate, self.engine
        return [
            Outcome.of(validate(r.text, r.context), engine, self.sensitive, show_values=self.show_values) for r in rows
        ]


def _init_worker(spec: EngineSpec) -> None:
    # An exception here would only break the pool (BrokenProcessPool, cause lost): keep it for the first chunk.
    global _WORKER, _WORKER_ERROR
    try:
        _WORKER = _Worker(spec)
    except Exception as exc:
        _WORKER_ERROR = f"a worker could not compile policy {spec.source}: {exc}"


def _validate_chunk(rows: Sequence[Row]) -> list[Outcome]:
    if _WORKER is None:
        raise BatchError(_WORKER_ERROR or "worker not initialised")
    return _WORKER(rows)


def local_runner(
    chunks: Iterable[Sequence[Row]], spec: EngineSpec, *, workers: int | None = None
) -> Iterator[list[Outcome]]:
    """Chunks on a process pool, at most 2 per worker in flight, results in input order; one worker runs here.

    Workers answer with `Outcome`s (masked and serialised there): a full Report costs more to unpickle in the
    parent than to validate in a worker, and the parent is the one process every row goes through."""
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1:
        worker = _Worker(spec)
        for rows in chunks:
            yield worker(rows)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(spec,)) as pool:
        pending: deque[Future[list[Outcome]]] = deque()
        for rows in chunks:
            pending.append(pool.submit(_validate_chunk, rows))
            # Bounded look-ahead: the reader never runs more than 2 chunks per worker ahead of the writer.
            while len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# -- the registry ------------------------------------------------------------------------------------------

_RUNNERS: dict[str, Runner] = {"local": local_runner}
_EXTRAS = {"ray": "guardrails.integrations.ray", "spark": "guardrails.integrations.spark"}
# The module whose absence means the extra is not installed (pyspark for spark).
_NEEDS = {"ray": "ray", "spark": "pyspark"}
ENGINES = ("local", "ray", "spark")


def register_runner(name: str, runner: Runner) -> None:
    """Make `runner` available as `--engine name` (tests, plugins)."""
    _RUNNERS[name] = runner


def get_runner(name: str) -> Runner:
    """The runner registered as `name`; ray and spark import their integration now, naming the extra if missing."""
    if name in _RUNNERS:
        return _RUNNERS[name]
    module = _EXTRAS.get(name)
    if module is None:
        raise BatchError(f"--engine {name}: no such engine (choose from {', '.join(sorted({*_RUNNERS, *_EXTRAS}))})")
    try:
        found = importlib.import_module(module).batch_runner
    except ImportError as exc:
        raise missing_extra(name, exc) from exc
    except AttributeError as exc:
        raise BatchError(f"--engine {name}: {module} has no batch_runner") from exc
    if "spec" in inspect.signature(found).parameters:
        return cast(Runner, found)
    return _RowDictRunner(name, found)


class _RowDictRunner:
    """Adapts a runner of the integrations' row-dict shape to `Runner`.

    That shape takes chunks of `{"id", "text", "context"}` dicts and `policy`, `rules_dirs`, `workers` and
    `show_values` keywords, and yields one result dict per row (`verdict`, `codes`, `output`, `report` as JSON,
    `error`), in order. It compiles the policy by name, so --select/--ignore cannot reach it: the first report's
    policy version is compared with the spec's, and a difference stops the batch rather than mix reports."""

    def __init__(self, name: str, fn: Callable[..., Iterator[dict[str, Any]]]) -> None:
        self.name = name
        self.fn = fn

    def __call__(
        self, chunks: Iterable[Sequence[Row]], spec: EngineSpec, *, workers: int | None = None
    ) -> Iterator[list[Report | RowFailure]]:
        from guardrails.findings import Report
        from guardrails.rules.loader import bundled_rules_dir

        sizes: deque[int] = deque()

        def dicts() -> Iterator[list[dict[str, Any]]]:
            for chunk in chunks:
                sizes.append(len(chunk))
                yield [{"id": r.id, "text": r.text, "context": r.context} for r in chunk]

        bundled = str(bundled_rules_dir().resolve())
        extra = [d for d in spec.rules_dirs if str(Path(d).resolve()) != bundled]
        # Values kept: the command masks what it writes itself, and queues masked reports for review.
        results = self.fn(dicts(), policy=spec.source, rules_dirs=extra, workers=workers or 2, show_values=True)
        done: list[Report | RowFailure] = []
        for res in results:
            if res.get("report"):
                report = Report.model_validate_json(res["report"])
                if report.policy_version != spec.version:
                    raise BatchError(
                        f"--engine {self.name} compiled policy {spec.source} to version {report.policy_version}, not"
                        f" {spec.version} (--select and --ignore do not reach it; or the rules changed)"
                    )
                done.append(report)
            else:
                done.append(RowFailure(str(res.get("error") or "no report")))
            while sizes and len(done) >= sizes[0]:
                n = sizes.popleft()
                yield done[:n]
                done = done[n:]


def missing_extra(name: str, exc: BaseException) -> BatchError:
    needed = _NEEDS.get(name, name)
    return BatchError(
        f"--engine {name} needs the {name} extra ({needed} is not installed): pip install 'outguard[{name}]'"
    )


def is_missing_extra(name: str, exc: BaseException | None) -> bool:
    """True when `exc`, or an exception it was raised from, says the extra behind engine `name` is not installed
    (a runner imports it lazily, when first iterated)."""
    needed = _NEEDS.get(name)
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ImportError) and needed and (exc.name or "").split(".")[0] == needed:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False
