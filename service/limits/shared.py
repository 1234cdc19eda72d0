"""A rate limiter whose buckets live in the shared store, so every worker and replica draws from one bucket per key.

When the store cannot answer, a request is limited by this process's own bucket for the key instead (the parent
class, the in-process limiter), never let through unlimited and never refused for the store's sake: a rate limit
protects this service's capacity, which each process's own bucket still bounds (at most one limit per process
while the store is down), and failing closed would turn a database outage into an outage of /v1/validate, which
needs no database. Token quotas choose the other way (service/limits/quota.py)."""

from __future__ import annotations

import logging

from service.limits.store import PgLimitStore, StoreDown
from service.ratelimit import MAX_BUCKETS, Limit, RateLimiter

log = logging.getLogger("outguard.service")


class SharedRateLimiter(RateLimiter):
    def __init__(self, store: PgLimitStore, rate: float, burst: int, *, max_buckets: int = MAX_BUCKETS) -> None:
        super().__init__(rate, burst, max_buckets=max_buckets)
        self.store = store
        self._limits: dict[str, Limit] = {}

    def acquire(self, key: str, rate: float | None = None, burst: int | None = None) -> float:
        limit = self.limit_for(rate, burst)
        if len(self._limits) < self.max_buckets:
            self._limits[key] = limit
        try:
            return self.store.take(key, limit).wait_s
        except StoreDown:
            return super().acquire(key, rate, burst)

    def limit_of(self, key: str) -> Limit:
        return self._limits.get(key) or super().limit_of(key)
