"""Where a streamed HTML output may be cut: after a top-level element closes, never inside a tag.

`HTMLStreamScanner.feed` reads chunks as they arrive and records *boundaries*: offsets at which every element
opened so far is closed (and no tag, comment or raw-text element is open). The stream validator releases HTML
only up to a boundary, so a consumer never holds half a tag or an element a later chunk could still change.
Markup that never returns to depth 0 (an unclosed `<p>`) offers no boundary: it is released at the end.
"""

from __future__ import annotations

import re

# Elements without an end tag (HTML's void elements): they never open a level.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
# Elements whose content is raw text: a "<" inside them opens no tag.
_RAW = frozenset({"script", "style", "textarea", "title"})
_NAME = re.compile(r"/?\s*([A-Za-z][A-Za-z0-9:-]*)")


class HTMLStreamScanner:
    """Feed chunks in order; `boundaries` lists the cut points found so far (drop the ones you used)."""

    __slots__ = ("_depth", "_pos", "_quote", "_raw", "_state", "_tag", "boundaries")

    def __init__(self) -> None:
        self.boundaries: list[int] = []
        self._pos = 0
        self._state = "text"  # text | tag | raw
        self._tag: list[str] = []
        self._quote = ""
        self._depth = 0
        self._raw = ""  # the raw-text element we are inside (its end tag ends it)

    def feed(self, chunk: str) -> None:
        for ch in chunk:
            self._pos += 1
            if self._state == "text":
                if ch == "<":
                    self._state, self._tag = "tag", []
            elif self._state == "tag":
                self._in_tag(ch)
            else:
                self._tag.append(ch)
                tail = "".join(self._tag[-len(self._raw) - 2 :]).lower()
                if tail == "</" + self._raw:
                    self._state, self._tag = "tag", ["/", *self._raw]

    def _in_tag(self, ch: str) -> None:
        tag = self._tag
        if self._quote:
            if ch == self._quote:
                self._quote = ""
        elif ch in "\"'" and tag and tag[-1] in "= \t\n" and tag[0] not in "!?":
            self._quote = ch
        elif ch == ">" and not (len(tag) >= 3 and tag[:3] == ["!", "-", "-"] and tag[-2:] != ["-", "-"]):
            self._close("".join(tag))
            return
        tag.append(ch)

    def _close(self, tag: str) -> None:
        self._state, self._tag = "text", []
        m = _NAME.match(tag)
        name = m.group(1).lower() if m else ""
        if tag.startswith("/"):
            self._depth = max(0, self._depth - 1)
        elif name and name not in _VOID and not tag.rstrip().endswith("/"):
            self._depth += 1
            if name in _RAW:
                self._state, self._raw = "raw", name
        if self._depth == 0:
            self.boundaries.append(self._pos)

    def take(self, cut: int) -> int | None:
        """The last boundary at or before `cut` (boundaries before it are dropped); None when there is none."""
        best = None
        keep = 0
        for i, b in enumerate(self.boundaries):
            if b > cut:
                break
            best, keep = b, i + 1
        del self.boundaries[:keep]
        return best
