"""An incremental JSON scanner: where a streamed JSON text may be cut without splitting a token.

The stream validator releases JSON only up to `safe`: the end of the last complete value inside a container
(or of the whole document). A consumer therefore never sees half a string, half a number or a key without its
value; every prefix it holds can be closed (append the closers `take` returns) into valid JSON whose
values are final. On a syntax error the scanner stops (`error` says where) and nothing further is released
until the whole output has been validated.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

_WS = frozenset(" \t\r\n")
_NUMBER = frozenset("0123456789+-.eE")
_LITERALS = {"t": "true", "f": "false", "n": "null"}

# What an open container expects next.
_KEY, _COLON, _VALUE, _COMMA = "key", "colon", "value", "comma"
# Just after an opening bracket, where the container may also close at once.
_KEY0, _VALUE0 = "key0", "value0"


@dataclass(frozen=True, slots=True)
class _Node:
    closer: str
    parent: _Node | None


class JSONStreamScanner:
    __slots__ = (
        "_boundaries",
        "_escape",
        "_expect",
        "_literal",
        "_pos",
        "_stack",
        "_state",
        "_top",
        "done",
        "error",
        "safe",
    )

    def __init__(self) -> None:
        self._pos = 0
        self._stack: list[str] = []  # "{" or "["
        self._expect: list[str] = []  # per open container: key / colon / value / comma
        self._state = "start"  # start | string | key | number | literal | between | end
        self._escape = False
        self._literal = ""
        self.safe = 0
        """Offset up to which the text can be released: it ends on a complete value."""
        # Open containers as a linked list, so a boundary can keep its own (shared) chain in O(1).
        self._top: _Node | None = None
        self._boundaries: list[tuple[int, _Node | None]] = []  # value ends not yet taken
        self.done = False
        """The top-level value is complete."""
        self.error: str | None = None

    def _closers_of(self, node: _Node | None) -> str:
        out = []
        while node is not None:
            out.append(node.closer)
            node = node.parent
        return "".join(out)

    def feed(self, chunk: str) -> None:
        for ch in chunk:
            if self.error is not None:
                return
            self._step(ch)
            self._pos += 1

    def _fail(self, why: str) -> None:
        self.error = f"{why} at offset {self._pos}"

    def _value_done(self, end: int) -> None:
        """A value ended just before `end`: inside a container, expect a comma; at top level, the end."""
        if self._stack:
            self._expect[-1] = _COMMA
        else:
            self.done = True
        self.safe = end
        self._boundaries.append((end, self._top))
        self._state = "between" if self._stack else "end"

    def _step(self, ch: str) -> None:
        state = self._state
        if state in ("string", "key"):
            if self._escape:
                self._escape = False
            elif ch == "\\":
                self._escape = True
            elif ch == '"':
                if state == "key":
                    self._expect[-1] = _COLON
                    self._state = "between"
                else:
                    self._value_done(self._pos + 1)
            elif ch < " ":
                self._fail("control character in string")
            return
        if state == "number":
            if ch in _NUMBER:
                return
            self._value_done(self._pos)
            state = self._state
        elif state == "literal":
            self._literal += ch
            word = _LITERALS[self._literal[0]]
            if not word.startswith(self._literal):
                self._fail(f"invalid literal {self._literal!r}")
            elif self._literal == word:
                self._value_done(self._pos + 1)
            return
        if ch in _WS:
            return
        if state == "end":
            self._fail("text after the JSON value")
            return
        expect = self._expect[-1] if self._stack else _VALUE
        if expect in (_KEY, _KEY0):
            if ch == '"':
                self._state = "key"
            elif ch == "}" and expect == _KEY0:
                self._close()
            else:
                self._fail("expected a key")
        elif expect == _VALUE0 and ch == "]":
            self._close()
        elif expect == _COLON:
            if ch == ":":
                self._expect[-1] = _VALUE
            else:
                self._fail("expected ':'")
        elif expect == _COMMA:
            if ch == ",":
                self._expect[-1] = _KEY if self._stack[-1] == "{" else _VALUE
            elif ch in "}]":
                self._close_matching(ch)
            else:
                self._fail("expected ',' or a closing bracket")
        else:
            self._start_value(ch)

    def _start_value(self, ch: str) -> None:
        if ch in "{[":
            self._stack.append(ch)
            self._top = _Node("}" if ch == "{" else "]", self._top)
            self._expect.append(_KEY0 if ch == "{" else _VALUE0)
            self._state = "between"
        elif ch == '"':
            self._state = "string"
        elif ch in "-0123456789":
            self._state = "number"
        elif ch in _LITERALS:
            self._state = "literal"
            self._literal = ch
        else:
            self._fail(f"unexpected {ch!r}")

    def _close_matching(self, ch: str) -> None:
        if (ch == "}") != (self._stack[-1] == "{"):
            self._fail(f"mismatched {ch!r}")
            return
        self._close()

    def _close(self) -> None:
        self._stack.pop()
        self._expect.pop()
        self._top = self._top.parent if self._top is not None else None
        self._value_done(self._pos + 1)

    def take(self, limit: int) -> tuple[int, str] | None:
        """The last value end at or before `limit` (with its closers); earlier ones are forgotten."""
        bounds = self._boundaries
        i = bisect.bisect_right(bounds, limit, key=lambda b: b[0])
        if not i:
            return None
        offset, node = bounds[i - 1]
        del bounds[:i]
        return offset, self._closers_of(node)

    def finish(self) -> None:
        """The text ended: a number at the very end is complete; an unfinished structure is an error."""
        if self.error is None and self._state == "number" and not self._stack:
            self._value_done(self._pos)
        if self.error is None and not self.done:
            self._fail("JSON text ended before its value was complete")
