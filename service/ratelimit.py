"""Per-key token buckets: a sustained rate with a burst allowance, in memory (one process).

Each bucket keeps the rate and burst it was made with: a key configured with its own rate gets a burst that
follows that rate (`default_burst`), never the service-wide one, which is sized for the service-wide rate."""

from __future__ import annotations

import itertools
import math
import threading
import time
from dataclasses import dataclass


def default_burst(rate: float) -> int:
    """Two seconds' worth of the rate, at least one request: the rule for the service-wide limit and for a key
    that sets a rate but no burst."""
    return max(1, math.ceil(rate * 2))


@dataclass(frozen=True, slots=True)
class Limit:
    """What a bucket allows: `rate` requests per second sustained, up to `burst` at once."""

    rate: float
    burst: int


@dataclass(slots=True)
class _Bucket:
    limit: Limit
    tokens: float
    updated: float


MAX_BUCKETS = 100_000
"""Buckets kept at most. Keys can come from clients (the login page keys by client and submitted name), so the
table must not grow with whatever an attacker sends."""


class RateLimiter:
    def __init__(self, rate: float, burst: int, *, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = rate
        self.burst = burst
        self.default = Limit(rate, burst)
        self.max_buckets = max_buckets
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def limit_for(self, rate: float | None = None, burst: int | None = None) -> Limit:
        """The limit of a key with its own `rate` and/or `burst` (None: the service-wide one)."""
        if rate is None:
            return self.default if burst is None else Limit(self.rate, burst)
        return Limit(rate, default_burst(rate) if burst is None else burst)

    def acquire(self, key: str, rate: float | None = None, burst: int | None = None) -> float:
        """Take one token; returns 0 when allowed, else the seconds until a token is available.

        A bucket's limit is fixed when it is first used: keys are loaded once, at start."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_buckets:
                    self._shrink(now)
                limit = self.limit_for(rate, burst)
                bucket = self._buckets[key] = _Bucket(limit, float(limit.burst), now)
            limit = bucket.limit
            bucket.tokens = min(float(limit.burst), bucket.tokens + (now - bucket.updated) * limit.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / limit.rate

    def _shrink(self, now: float) -> None:
        """Make room: first drop buckets that have refilled (a full bucket is the same as none, so nothing is lost),
        then, if clients keep that many buckets busy at once, the least recently created tenth (those keys get a
        fresh burst: a bounded leniency, where an unbounded table would be a way to exhaust memory)."""
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * b.limit.rate >= b.limit.burst]
        for k in full:
            del self._buckets[k]
        excess = len(self._buckets) - int(self.max_buckets * 0.9)
        for k in list(itertools.islice(self._buckets, max(0, excess))):
            del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)

    def limit_of(self, key: str) -> Limit:
        """The limit a used bucket applies (the service-wide one for a key never seen)."""
        bucket = self._buckets.get(key)
        return bucket.limit if bucket is not None else self.default
