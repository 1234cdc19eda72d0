"""The result cache: a repeated validation answered with the report the first one made.

Keyed by the engine's policy fingerprint, the call's context and output, the day, the suppressions in force,
the facts store's revision (for policies with facts checks) and a caller-chosen scope (the sidecar's API key):
anything that could change the report changes the key, so nothing is ever invalidated in place; a stale entry
is simply never asked for again and ages out.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from guardrails.context import Context
from guardrails.engine import Engine, without_lone_surrogates
from guardrails.findings import Report
from guardrails.results_cache.key import CacheKey, EngineKeying
from guardrails.results_cache.memory import MemoryTier
from guardrails.results_cache.tiers import Found, SharedTier, Tiers

Listener = Callable[[str, Found], None]
"""(policy name, where the lookup was answered): for hit/miss metrics."""


@dataclass
class CacheStats:
    hits: int = 0
    shared_hits: int = 0
    misses: int = 0
    stored: int = 0
    not_stored: int = 0
    """Reports that were not kept: degraded (a check failed or ran late), or larger than every tier's bound."""
    bypassed: int = 0
    """Validations that could not be keyed (the facts store did not answer): validated, never cached."""


class ResultsCache:
    """One per process, shared by every engine; only policies with `cache: {results: true}` use it.

        cache = ResultsCache(shared=SqlTier.open("postgresql://..."))
        report = cache.validate(engine, output, context)   # report.cached says where it came from

    Every report it returns is a fresh copy (decoded from the stored bytes): a caller that mutates one cannot
    change what the next caller gets.
    """

    def __init__(
        self,
        memory: MemoryTier | None = None,
        shared: SharedTier | None = None,
        *,
        listener: Listener | None = None,
    ) -> None:
        self.tiers = Tiers(memory, shared)
        self.listener = listener
        self.stats = CacheStats()
        # Weak: an engine dropped by its owner (a reload) takes its keying along.
        self._keyings: weakref.WeakKeyDictionary[Engine, EngineKeying | None] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @property
    def shared(self) -> SharedTier | None:
        return self.tiers.shared

    def _keying(self, engine: Engine) -> EngineKeying | None:
        try:
            return self._keyings[engine]
        except KeyError:
            pass
        with self._lock:  # the fingerprint reads the rules directories: once per engine
            if engine not in self._keyings:
                self._keyings[engine] = EngineKeying.of(engine)
            return self._keyings[engine]

    def reads_state(self, engine: Engine) -> bool:
        """True when making this engine's keys reads a database (the facts store's revision): a caller on an event
        loop then keys, looks up and validates off the loop."""
        keying = self._keying(engine)
        return keying is not None and bool(keying.probes)

    def key(
        self, engine: Engine, output: str, context: Context | dict[str, Any] | None = None, scope: str = ""
    ) -> CacheKey | None:
        """The key of this validation, or None when it cannot be cached (the policy did not opt in, its suppressor
        cannot name its set, or the facts store did not answer)."""
        keying = self._keying(engine) if engine.policy.cache.results else None
        if keying is None:
            return None
        try:
            return keying.key(output, Context.coerce(context), scope)
        except Exception:  # a state probe failed (database down): validate uncached, the check fails closed
            self.stats.bypassed += 1
            return None

    def lookup(self, engine: Engine, key: CacheKey, output: str, *, local_only: bool = False) -> Report | None:
        """The cached report for `key`, or None (also None when only the shared tier could answer and
        `local_only`: a caller on an event loop asks memory first, then the rest off the loop)."""
        blob, found = self.tiers.get(key, engine.policy.cache.results_ttl_s, local_only=local_only)
        report = _decode(blob, engine, output) if blob is not None else None
        if report is None and local_only:
            return None
        self._count(engine, found if report is not None else Found.MISS)
        return report

    def validate(
        self, engine: Engine, output: str, context: Context | dict[str, Any] | None = None, *, scope: str = ""
    ) -> Report:
        """engine.validate(output, context), answered from the cache when the same call was validated before."""
        key = self.key(engine, output, context, scope)
        if key is None:
            return engine.validate(output, context)
        report = self.lookup(engine, key, output)
        if report is not None:
            return report
        return self.validated(engine, key, output, context)

    def validated(self, engine: Engine, key: CacheKey, output: str, context: Context | dict[str, Any] | None) -> Report:
        """Validate (after a miss) and keep the report when it may be reused."""
        report = engine.validate(output, context)
        self.store(engine, key, report)
        return report

    def store(self, engine: Engine, key: CacheKey, report: Report) -> None:
        # A degraded report records a failure of the moment (a check crashed, ran late, the store was down): it
        # is answered, never replayed.
        if report.degraded or report.review_id is not None or report.cached:
            self.stats.not_stored += 1
            return
        blob = report.model_copy(update={"cached": True}).model_dump_json(by_alias=True).encode()
        if self.tiers.put(key, blob, engine.policy.cache.results_ttl_s):
            self.stats.stored += 1
        else:
            self.stats.not_stored += 1

    def _count(self, engine: Engine, found: Found) -> None:
        if found is Found.MEMORY:
            self.stats.hits += 1
        elif found is Found.SHARED:
            self.stats.shared_hits += 1
        else:
            self.stats.misses += 1
        if self.listener is not None:
            self.listener(engine.policy.name, found)


def _decode(blob: bytes, engine: Engine, output: str) -> Report | None:
    try:
        report = Report.model_validate_json(blob)
    except ValueError:
        return None
    # Belt and braces over the key: an entry answers only for this policy version and this very text.
    if report.policy_version != engine.compiled.version or report.original != without_lone_surrogates(output):
        return None
    return report
