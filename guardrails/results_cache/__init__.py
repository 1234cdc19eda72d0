"""Result caching: repeated validations answered from memory, or from a table shared by replicas.

    from guardrails.results_cache import ResultsCache, SqlTier
    cache = ResultsCache(shared=SqlTier.open("sqlite:///reviews.db"))
    report = cache.validate(engine, output, context)

Only policies with `cache: {results: true}` are cached. `SqlTier` (SQLAlchemy, cryptography: the `store`
extra) loads on first use. See docs/caching.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrails.results_cache.key import CacheKey, derive
from guardrails.results_cache.memory import MemoryTier
from guardrails.results_cache.results import CacheStats, ResultsCache
from guardrails.results_cache.tiers import Found, SharedTier, Tiers

if TYPE_CHECKING:
    from guardrails.results_cache.shared import SqlTier

__all__ = [
    "CacheKey",
    "CacheStats",
    "Found",
    "MemoryTier",
    "ResultsCache",
    "SharedTier",
    "SqlTier",
    "Tiers",
    "derive",
]


def __getattr__(name: str) -> Any:
    if name == "SqlTier":
        from guardrails.results_cache.shared import SqlTier

        return SqlTier
    raise AttributeError(f"module 'guardrails.results_cache' has no attribute {name!r}")
