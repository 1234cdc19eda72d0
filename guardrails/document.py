"""The output under check: its text, an offset <-> line:col index, and lazily built shared views.

Checks that parse the text (JSON, HTML) register their view under a key with `Document.view`, so a
text is parsed once per validation however many rules read it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Document:
    __slots__ = ("_line_starts", "_views", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._line_starts: list[int] | None = None
        self._views: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.text)

    def view(self, key: str, build: Callable[[Document], T]) -> T:
        """Return the view stored under `key`, building it from this document the first time."""
        try:
            return self._views[key]  # type: ignore[no-any-return]
        except KeyError:
            value = build(self)
            self._views[key] = value
            return value

    def cached(self, key: str) -> Any:
        """The view stored under `key`, or None when none was built yet (one dict lookup, for hot paths)."""
        return self._views.get(key)

    def _starts(self) -> list[int]:
        if self._line_starts is None:
            starts = [0]
            find = self.text.find
            pos = find("\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._line_starts = starts
        return self._line_starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; offsets past the end clamp to the end."""
        offset = max(0, min(offset, len(self.text)))
        starts = self._starts()
        line = bisect.bisect_right(starts, offset) - 1
        return line + 1, offset - starts[line] + 1

    def offset(self, line: int, column: int) -> int:
        """Character offset of a 1-based (line, column); raises ValueError outside the text."""
        starts = self._starts()
        if not 1 <= line <= len(starts):
            raise ValueError(f"line {line} is outside 1..{len(starts)}")
        off = starts[line - 1] + column - 1
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        if not starts[line - 1] <= off <= end:
            raise ValueError(f"column {column} is outside line {line}")
        return off

    def excerpt(self, start: int, end: int, width: int = 40) -> str:
        """The text of [start, end) with up to `width` characters either side, for messages."""
        lo = max(0, start - width)
        hi = min(len(self.text), end + width)
        return self.text[lo:hi]
