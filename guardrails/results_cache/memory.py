"""The in-process tier: an LRU of encoded entries, bounded by count and by bytes, each with its own expiry."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

# Per entry, beyond its value: the id string, the tuple and the dict slot (measured ~200 bytes; rounded up).
ENTRY_OVERHEAD = 256


class MemoryTier:
    """Thread-safe. `max_entry_bytes` (default: a sixteenth of `max_bytes`) keeps one huge report from evicting
    everything else: an entry larger than that is not kept at all."""

    def __init__(
        self, max_entries: int = 10_000, max_bytes: int = 64 * 1024 * 1024, max_entry_bytes: int | None = None
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_bytes, max_entry_bytes if max_entry_bytes is not None else max_bytes // 16)
        self._items: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        """What the entries take, as counted against `max_bytes` (values plus a fixed overhead each)."""
        return self._bytes

    def get(self, key_id: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key_id)
            if item is None:
                return None
            value, expires = item
            if time.monotonic() >= expires:
                self._drop(key_id)
                return None
            self._items.move_to_end(key_id)
            return value

    def put(self, key_id: str, value: bytes, ttl_s: float) -> bool:
        """Keep `value`; False when it is larger than `max_entry_bytes` (then nothing is kept or evicted)."""
        size = len(value) + ENTRY_OVERHEAD
        if size > self.max_entry_bytes:
            return False
        with self._lock:
            if key_id in self._items:
                self._drop(key_id)
            self._items[key_id] = (value, time.monotonic() + ttl_s)
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                oldest = next(iter(self._items))
                self._drop(oldest)
                self.evictions += 1
        return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _drop(self, key_id: str) -> None:
        value, _ = self._items.pop(key_id)
        self._bytes -= len(value) + ENTRY_OVERHEAD
