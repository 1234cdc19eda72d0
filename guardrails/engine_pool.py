"""`Engine.validate_many` on a process pool: chunks go out, compact reports come back and are rebuilt here.

Every report passes through the parent, the one process a pool cannot add more of, so what the parent pays per
report bounds the pool's throughput (on the dev corpus, thread CPU per report, docs/scale.md):

- Workers answer a chunk with one pickled list of `Report.model_dump()` dicts, not pickled Reports: unpickling
  a Report rebuilds each nested model through Python (`__setstate__`), which cost the parent as much as a
  worker's rule-only validation; dicts unpickle in C and pydantic-core rebuilds the models in one call each,
  and the payload is a third of the size. Python-mode dicts rather than JSON because they are exact:
  evidence `details` may hold tuples, non-finite floats or lone surrogates, which JSON would change or refuse.
- While the parent keeps the reports, automatic garbage collection is off and the young generations are
  collected once per chunk (`BatchCollector`): a rebuilt report holds no reference cycle, but kept in a growing
  list, every report would be walked again by each full collection, which cost 3-4x the rebuild itself.
- One task per chunk, at most two chunks per worker in flight, results in input order.
"""

from __future__ import annotations

import gc
import math
import pickle
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guardrails.context import Context
from guardrails.findings import Report

if TYPE_CHECKING:
    from guardrails.engine import Engine

Contexts = Sequence[Context | dict[str, Any] | None]

MAX_CHUNK = 256
"""Outputs per task at most: large enough that a task's round trip (~0.1 ms) is small per output, small enough
that a progress bar moves and a worker's answer stays a few MB."""


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to compile the parent's engine again: the policy as compiled and where its rules are.

    Compiled engines do not pickle (facts and review stores, models, compiled patterns); this does."""

    source: str
    rules_dirs: tuple[str, ...]
    policy: dict[str, Any]
    version: str
    suppressor: bytes = pickle.dumps(None)

    @classmethod
    def of(cls, engine: Engine) -> WorkerSetup:
        """Raises what pickle raises when the engine's suppressor does not pickle (a lambda, a closure)."""
        c = engine.compiled
        suppressor = pickle.dumps(engine.suppressor)
        return cls(c.source, tuple(c.rules_dirs), engine.policy.model_dump(mode="json"), c.version, suppressor)

    def build(self) -> Engine:
        """The engine, compiled here; refuses a different policy version (its rules changed on disk meanwhile,
        or the ruleset was built in memory and a worker cannot see it)."""
        from guardrails.engine import Engine, WorkerSetupError
        from guardrails.rules.compile import compile_policy
        from guardrails.rules.loader import load_ruleset
        from guardrails.rules.model import Policy

        rs = load_ruleset(self.rules_dirs, include_bundled=False)
        compiled = compile_policy(Policy.model_validate(self.policy), rs, self.source)
        if compiled.version != self.version:
            raise WorkerSetupError(
                f"policy {self.source} compiled to version {compiled.version} in a worker, not {self.version}"
                " (its rules changed on disk, or the ruleset was built in memory)"
            )
        return Engine(compiled, suppressor=pickle.loads(self.suppressor))


def chunk_size(n: int, workers: int) -> int:
    """About four chunks per worker for a short batch (so both finish together), MAX_CHUNK for a long one."""
    return max(1, min(MAX_CHUNK, math.ceil(n / (workers * 4))))


def validate_on_pool(
    setup: WorkerSetup,
    outputs: Sequence[str],
    contexts: Contexts,
    *,
    workers: int,
    chunksize: int,
    progress: Callable[[int], None] | None = None,
) -> list[Report]:
    """Reports in input order. A worker that could not compile the policy raises WorkerSetupError here."""
    reports: list[Report] = []

    def take(chunk: bytes) -> None:
        rebuilt = unpack(chunk)
        reports.extend(rebuilt)
        collector.chunk_done()
        if progress is not None:
            progress(len(rebuilt))

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(setup,))
    with pool, BatchCollector() as collector:
        pending: deque[Future[bytes]] = deque()
        try:
            for start in range(0, len(outputs), chunksize):
                end = start + chunksize
                pending.append(pool.submit(_validate_chunk, outputs[start:end], contexts[start:end]))
                while len(pending) >= 2 * workers:  # bounded: the parent never queues the whole input
                    take(pending.popleft().result())
            while pending:
                take(pending.popleft().result())
        finally:
            for f in pending:  # after a failure, do not validate what nobody will read
                f.cancel()
    return reports


class BatchCollector:
    """Automatic garbage collection off while a batch keeps its reports, the young generations collected once per
    chunk instead (`chunk_done()`), and the collector restored as the caller had it.

    Kept reports hold no cycles, but each automatic full collection walks every object in the process, and a list
    growing by a chunk at a time sets one off at each quarter of growth: walking the reports kept so far cost
    more than validating rule-only outputs. A collection of the young generations walks only what the last
    chunk made, so cyclic garbage (from a check, or another thread) is still freed every chunk."""

    def __enter__(self) -> BatchCollector:
        self.was_enabled = gc.isenabled()
        gc.disable()
        return self

    def chunk_done(self) -> None:
        if self.was_enabled:
            gc.collect(1)

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def pack(reports: Sequence[Report]) -> bytes:
    """A chunk's reports as a worker sends them; `unpack` is the parent's side (exact: equal Reports)."""
    return pickle.dumps([r.model_dump(by_alias=True) for r in reports], protocol=pickle.HIGHEST_PROTOCOL)


def unpack(chunk: bytes) -> list[Report]:
    return [Report.model_validate(d) for d in pickle.loads(chunk)]


# -- in a worker ---------------------------------------------------------------------------------------------

_ENGINE: Engine | None = None
_ERROR: str | None = None


def _init_worker(setup: WorkerSetup) -> None:
    # An exception here would only break the pool (BrokenProcessPool, cause lost): keep it for the first chunk.
    global _ENGINE, _ERROR
    try:
        _ENGINE = setup.build()
    except Exception as exc:
        _ERROR = f"a worker could not compile policy {setup.source}: {exc}"


def _validate_chunk(outputs: Sequence[str], contexts: Contexts) -> bytes:
    if _ENGINE is None:
        from guardrails.engine import WorkerSetupError

        raise WorkerSetupError(_ERROR or "worker not initialised")
    validate = _ENGINE.validate
    return pack([validate(o, c) for o, c in zip(outputs, contexts, strict=True)])
