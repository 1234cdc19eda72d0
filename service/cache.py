"""The sidecar's caches: the result cache for /v1/validate and the proxy's answer cache, one shared tier.

Both keep an in-process LRU per replica. With a review (else facts) database configured, they also share one
table in it (encrypted entries, see guardrails/results_cache/shared.py), so a replica answers what another one
validated. Only policies with a `cache:` section use them; the cache scope is the caller's API key, so one key
never gets (or learns of, by timing) what another key validated.

Sizes: OUTGUARD_CACHE_MAX_ENTRIES (10000) and OUTGUARD_CACHE_MAX_MB (64) per cache and replica.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from functools import partial
from typing import Any

from guardrails import Context, Engine, Report
from guardrails.results_cache import Found, MemoryTier, ResultsCache, SharedTier, SqlTier, Tiers
from service.metrics import Metrics
from service.proxy_cache import ProxyCache
from service.state import AppState

log = logging.getLogger("outguard.service")


def _memory() -> MemoryTier:
    entries = int(os.environ.get("OUTGUARD_CACHE_MAX_ENTRIES", "10000"))
    megabytes = float(os.environ.get("OUTGUARD_CACHE_MAX_MB", "64"))
    return MemoryTier(max_entries=entries, max_bytes=int(megabytes * 1024 * 1024))


def _shared(state: AppState) -> SharedTier | None:
    store = state.reviews if state.reviews is not None else state.facts
    engine = getattr(store, "engine", None)
    if engine is None:
        return None
    try:
        return SqlTier(engine)
    except Exception as exc:  # a cache that cannot be shared is a per-replica cache, not a failed start
        log.warning("result cache: not shared between replicas (%s: %s)", type(exc).__name__, exc)
        return None


def build_caches(state: AppState) -> None:
    shared = _shared(state)
    state.results_cache = ResultsCache(_memory(), shared, listener=partial(_count, state.metrics, "results"))
    state.proxy_cache = ProxyCache(Tiers(_memory(), shared), listener=partial(_count, state.metrics, "proxy"))


async def close_caches(state: AppState, timeout_s: float = 5.0) -> None:
    """Write what the shared tier still has queued, before the store whose connections it borrows closes (a write
    after that leaves a connection open); bounded, so a database that is down cannot hold a shutdown."""
    cache: ResultsCache | None = state.results_cache
    close = getattr(cache.shared, "close", None) if cache is not None else None  # a SqlTier's; not in the protocol
    if close is None:
        return
    try:
        await asyncio.wait_for(asyncio.to_thread(close), timeout_s)
    except TimeoutError:
        log.warning("result cache: queued shared entries not written within %.0f s of shutdown", timeout_s)


def _count(metrics: Metrics, cache: str, policy: str, found: Found) -> None:
    metrics.count_cache(cache, policy, found.value)


Validate = Callable[[str, Context | None], Report]


def cached_validation(
    state: AppState, engine: Engine, output: str, ctx: Context | None, scope: str
) -> tuple[Report | None, Validate, bool]:
    """(a report from this replica's memory or None, how to validate otherwise, whether that may touch the shared
    database: then it must run off the event loop)."""
    cache: ResultsCache | None = state.results_cache
    if cache is None or not engine.policy.cache.results:
        return None, engine.validate, False
    if cache.reads_state(engine):  # keying polls the facts store: not on the event loop
        return None, partial(cache.validate, engine, scope=scope), True
    key = cache.key(engine, output, ctx, scope)
    if key is None:
        return None, engine.validate, False
    hit = cache.lookup(engine, key, output, local_only=True)
    if hit is not None:
        return hit, engine.validate, False
    run: Any = partial(_resume, cache, engine, key)
    return None, run, cache.shared is not None


def _resume(cache: ResultsCache, engine: Engine, key: Any, output: str, ctx: Context | None) -> Report:
    found = cache.lookup(engine, key, output)
    return found if found is not None else cache.validated(engine, key, output, ctx)
