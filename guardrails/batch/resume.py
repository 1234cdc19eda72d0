"""Skipping the rows an earlier run of the same output already wrote.

The output is written in input order, so a rerun over the same input meets the written ids in the same order:
it walks the two side by side, holding one id at a time, however long the output. Only when the input's order
differs (it was edited, or sorted since) does it fall back to a set of the ids not yet met, and say so.
"""

from __future__ import annotations

from collections.abc import Iterator


class Skipper:
    def __init__(self, written: Iterator[str], count: int) -> None:
        self._written = written
        self._next: str | None = next(written, None) if count else None
        self._rest: set[str] | None = None
        self.skipped = 0
        self.reordered = False

    def seen(self, key: str) -> bool:
        """True when `key` is already in the output (and is not to be validated again)."""
        if self._rest is None:
            if self._next is None:
                return False
            if key == self._next:
                self._next = next(self._written, None)
                self.skipped += 1
                return True
            # Out of step: from here on, match by id (memory grows with the ids still unmatched).
            self._rest = {self._next, *self._written}
            self._next = None
            self.reordered = True
        if key in self._rest:
            self._rest.discard(key)
            self.skipped += 1
            return True
        return False

    @property
    def unmatched(self) -> int:
        """Written ids the input never offered (only known once the input is read to its end)."""
        if self._rest is not None:
            return len(self._rest)
        return 0 if self._next is None else 1 + sum(1 for _ in self._written)
