"""Memory first, then the shared tier: one lookup and one store for the result cache and the proxy's."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from guardrails.results_cache.key import CacheKey
from guardrails.results_cache.memory import MemoryTier


class Found(StrEnum):
    """Where a lookup was answered (the `result` label of the hit/miss metrics)."""

    MEMORY = "hit"
    SHARED = "shared_hit"
    MISS = "miss"


class SharedTier(Protocol):
    max_entry_bytes: int

    def get(self, key: CacheKey) -> bytes | None: ...

    def put(self, key: CacheKey, value: bytes, ttl_s: float) -> bool: ...


# A shared hit is kept in memory this long at most: the replica that wrote it chose its expiry, unknown here.
PROMOTED_TTL_S = 60.0


class Tiers:
    def __init__(self, memory: MemoryTier | None = None, shared: SharedTier | None = None) -> None:
        self.memory = memory if memory is not None else MemoryTier()
        self.shared = shared

    def get(self, key: CacheKey, ttl_s: float, *, local_only: bool = False) -> tuple[bytes | None, Found]:
        value = self.memory.get(key.id)
        if value is not None:
            return value, Found.MEMORY
        if self.shared is None or local_only:
            return None, Found.MISS
        value = self.shared.get(key)
        if value is None:
            return None, Found.MISS
        self.memory.put(key.id, value, min(ttl_s, PROMOTED_TTL_S))
        return value, Found.SHARED

    def put(self, key: CacheKey, value: bytes, ttl_s: float) -> bool:
        """Keep `value` in every tier whose size bound it fits; False when it fit none."""
        kept = self.memory.put(key.id, value, ttl_s)
        if self.shared is not None:
            kept = self.shared.put(key, value, ttl_s) or kept
        return kept
