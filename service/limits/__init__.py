"""Rate limits and token quotas shared by workers and replicas: in process by default, PostgreSQL when configured.

Imports stay inside `open_limits` so that service.auth can read the TokenQuota model without loading the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.limits.quota import QuotaBook
    from service.ratelimit import RateLimiter


def open_limits(url: str | None, rate: float, burst: int) -> tuple[RateLimiter, QuotaBook]:
    """The rate limiter and quota book for `url` (None: this process's own; a PostgreSQL URL: shared)."""
    from service.limits.quota import QuotaBook
    from service.ratelimit import RateLimiter

    if not url:
        return RateLimiter(rate, burst), QuotaBook()
    from service.limits.shared import SharedRateLimiter
    from service.limits.store import PgLimitStore

    store = PgLimitStore(url)
    return SharedRateLimiter(store, rate, burst), QuotaBook(store)
