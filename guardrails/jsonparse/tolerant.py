"""A tolerant JSON parser that reports every repair as an edit of the original text.

It reads almost-JSON the way an LLM writes it (trailing commas, single quotes, unquoted keys, comments,
Python literals, unescaped quotes, raw newlines, truncated endings...) and, instead of returning a
rewritten text, returns `Repair`s: an issue name, the span it covers and the edits that fix it. The
edits are then applied and the result is parsed by the strict C decoder: a repair is offered only when
it yields valid JSON, so a bad guess never reaches the caller as a "fix".

Single pass, explicit stack (no recursion: 100k nested brackets are a finding, not a crash), regexes
only for runs of plain characters, and a deadline check every few hundred steps: linear in the input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from guardrails.errors import OutguardError
from guardrails.jsonparse.strict import NonFiniteNumber, loads, raw_decode

# Issue names double as the `issue` param of the json_repair check; rules/json.yaml gives each a code.
Issue = Literal[
    "markdown-fence",
    "text-around-json",
    "trailing-comma",
    "single-quoted-string",
    "unquoted-string",
    "json-comment",
    "non-json-literal",
    "invalid-number",
    "non-finite-number",
    "truncated-json",
    "raw-control-character",
    "unescaped-quote",
    "missing-separator",
    "mismatched-bracket",
    "invalid-escape",
    "ellipsis-placeholder",
    "missing-value",
]
ISSUES: tuple[str, ...] = get_args(Issue)

_WS = re.compile(r"[ \t\n\r]*")
_PLAIN = {'"': re.compile(r'[^"\\\x00-\x1f]*'), "'": re.compile(r"[^'\"\\\x00-\x1f]*")}
_WORD = re.compile(r"[^\W\d]\w*|\$\w*")
_NUMBER_TOKEN = re.compile(r"[-+]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9_]*)?")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")
_UNQUOTED_VALUE_END = re.compile(r"[,}\]\n\r]")
_SWALLOWED = re.compile(r'"\s*[:,\]}]\s*["\[{]|"\s*[}\]]')
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_CLOSER_RUN = re.compile(r"[\]}][\]}\s]*\Z")
_ELEMENT_AHEAD = re.compile(r"(?:-?[0-9][0-9.eE+-]*|true|false|null)\s*(?:[,\]]|\Z)")

_LITERALS = {
    "True": "true",
    "TRUE": "true",
    "False": "false",
    "FALSE": "false",
    "None": "null",
    "NULL": "null",
    "Null": "null",
    "none": "null",
    "nil": "null",
    "undefined": "null",
}
_NON_FINITE = {"NaN", "Infinity", "inf", "Inf", "nan"}
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?|\d{1,2}:\d{2}(?::\d{2})?")  # bare, but plainly one value
_GLUED = ("true", "false", "null", "True", "False", "None")  # 'nullnull': two literals, a comma lost
# Shared with the lossless check (guardrails.jsonparse.lossless), which reads tokens the same way.
PYTHON_LITERALS = _LITERALS
NON_FINITE = frozenset(_NON_FINITE)
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}

# Parser states inside a container.
_OBJ_KEY, _OBJ_COLON, _OBJ_VALUE, _OBJ_NEXT, _ARR_VALUE, _ARR_NEXT = range(6)


class RepairAborted(OutguardError):
    """The input is too far from JSON to repair with confidence (or too deep)."""

    def __init__(self, pos: int, message: str, *, too_deep: bool = False) -> None:
        super().__init__(message)
        self.pos = pos
        self.too_deep = too_deep


@dataclass(frozen=True, slots=True)
class TextEdit:
    start: int
    end: int
    replacement: str


@dataclass(frozen=True, slots=True)
class Repair:
    """One thing wrong with the JSON and how to fix it: its edits all lie inside [start, end]."""

    issue: str
    start: int
    end: int
    edits: tuple[TextEdit, ...]
    safe: bool
    note: str


@dataclass(slots=True)
class RepairResult:
    ok: bool
    """True when applying every repair gives valid JSON (`value` holds it)."""
    start: int
    end: int
    """The JSON's region in the text: the value starts at `start`; repairs lie inside [start, end]."""
    repairs: list[Repair] = field(default_factory=list)
    value: Any = None
    repaired: str = ""
    """text[start:end] with every repair applied."""
    problem: str | None = None
    problem_pos: int | None = None
    too_deep: bool = False
    cuts: tuple[int, ...] = ()
    """For a truncated value: where each open container's last complete member ends (innermost first), the
    places to close it instead of guessing at the cut-off tail (schema-guided repair tries them)."""


@dataclass(slots=True)
class _Frame:
    opener: str  # "{", "[" or "(" (a Python tuple, read as an array)
    open_pos: int
    state: int
    comma: int = -1  # position of a comma not yet followed by a member
    after_value: int = -1  # end of the last complete member, where a missing comma goes
    member_start: int = -1  # where the current member starts (its comma, or its key)
    key_end: int = -1
    value_start: int = -1  # where the current (array) element starts
    set_literal: bool = False  # "{'a', 'b'}": a Python set, read as an array


class _Parser:
    def __init__(self, text: str, start: int, end: int, deadline: Any, max_depth: int) -> None:
        self.text = text
        self.end = end
        self.start = start
        self.deadline = deadline
        self.max_depth = max_depth
        self.repairs: list[Repair] = []
        self.string_mark = 0
        self.stack: list[_Frame] = []
        self.steps = 0
        self.cuts: tuple[int, ...] = ()
        self.last_string: tuple[int, int] | None = None

    # -- helpers ------------------------------------------------------------------------------

    def add(self, issue: str, start: int, end: int, edits: list[TextEdit], note: str, *, safe: bool = True) -> None:
        self.repairs.append(Repair(issue, start, end, tuple(edits), safe, note))

    def tick(self) -> None:
        self.steps += 1
        if self.steps & 255 == 0 and self.deadline is not None:
            self.deadline.check()

    def skip(self, pos: int) -> int:
        """Skip whitespace and comments (each comment becomes a repair)."""
        text, end = self.text, self.end
        while True:
            pos = _WS.match(text, pos, end).end()  # type: ignore[union-attr]
            if pos >= end:
                return pos
            c = text[pos]
            if c == "/" and pos + 1 < end and text[pos + 1] in "/*":
                if text[pos + 1] == "/":
                    stop = _line_end(text, pos, end)
                else:
                    close = text.find("*/", pos + 2, end)
                    stop = end if close < 0 else close + 2
            elif c == "#":
                stop = _line_end(text, pos, end)
            else:
                return pos
            self.add("json-comment", pos, stop, [TextEdit(pos, stop, "")], "removed a comment")
            pos = stop

    def next_significant(self, pos: int) -> int:
        return _WS.match(self.text, pos, self.end).end()  # type: ignore[union-attr]

    # -- driver -------------------------------------------------------------------------------

    def parse(self) -> int:
        """Parse one value from self.start; returns the end of the region the repairs cover."""
        pos = self.skip(self.start)
        if pos >= self.end:
            raise RepairAborted(pos, "no JSON value")
        pos = self.value(pos, "top")
        while self.stack:
            self.tick()
            pos = self.skip(pos)
            if pos >= self.end:
                return self.truncated(pos, None)
            pos = self.step(pos)
        return pos

    def step(self, pos: int) -> int:
        frame = self.stack[-1]
        c = self.text[pos]
        state = frame.state
        if c in "}])":
            return self.close(frame, pos)
        if c == ",":
            return self.comma(frame, pos)
        if state == _OBJ_KEY:
            return self.key(frame, pos)
        if state == _OBJ_COLON:
            if c == ":":
                frame.state = _OBJ_VALUE
                return pos + 1
            if c in "=":
                self.add("missing-separator", pos, pos + 1, [TextEdit(pos, pos + 1, ":")], "replaced '=' with ':'")
                frame.state = _OBJ_VALUE
                return pos + 1
            self.add(
                "missing-separator",
                frame.key_end,
                pos,
                [TextEdit(frame.key_end, frame.key_end, ":")],
                "inserted the missing ':' after a key",
            )
            frame.state = _OBJ_VALUE
            return pos
        if state in (_OBJ_VALUE, _ARR_VALUE):
            if c == "." and self.text.startswith("...", pos) and state == _ARR_VALUE:
                return self.ellipsis(frame, pos)
            frame.value_start = pos
            return self.value(pos, "value")
        # _OBJ_NEXT or _ARR_NEXT: a member follows without a comma.
        if c == ":" and state == _ARR_NEXT:
            return self.pair_in_array(frame, pos)
        if c == "." and self.text.startswith("...", pos) and state == _ARR_NEXT:
            return self.ellipsis(frame, pos)
        at = frame.after_value
        # '""",20"' or '-2.25",0.5': a quote glued to the value before it is as likely a stray quote (one that
        # swallows the members after it into a string) as a lost comma: a guess. With a space between, a
        # lost comma is the plain reading.
        glued = at == pos and (c in "\"'" or self.text[at - 1] in "\"'")
        note = "inserted the missing ',' between members" + (" (a quote glued to the value before)" if glued else "")
        self.add("missing-separator", at, pos, [TextEdit(at, at, ",")], note, safe=not glued)
        frame.state = _OBJ_KEY if state == _OBJ_NEXT else _ARR_VALUE
        frame.member_start = at
        return pos

    # -- structure ------------------------------------------------------------------------------

    def push(self, opener: str, pos: int) -> int:
        if len(self.stack) >= self.max_depth:
            raise RepairAborted(pos, f"nesting deeper than {self.max_depth} levels", too_deep=True)
        state = _OBJ_KEY if opener == "{" else _ARR_VALUE
        self.stack.append(_Frame(opener, pos, state))
        return pos + 1

    def value_done(self, end: int) -> None:
        if self.stack:
            frame = self.stack[-1]
            frame.state = _OBJ_NEXT if frame.opener == "{" else _ARR_NEXT
            frame.after_value = end
            frame.comma = -1

    def close(self, frame: _Frame, pos: int) -> int:
        c = self.text[pos]
        if frame.state in (_OBJ_COLON, _OBJ_VALUE):
            at = frame.key_end if frame.state == _OBJ_COLON else pos
            insert = ": null" if frame.state == _OBJ_COLON else "null"
            self.add(
                "missing-value",
                frame.member_start,
                pos,
                [TextEdit(at, at, insert)],
                "a key has no value: null",
                safe=False,
            )
        elif frame.comma >= 0:
            self.add(
                "trailing-comma",
                frame.comma,
                pos,
                [TextEdit(frame.comma, frame.comma + 1, "")],
                "removed a trailing ','",
            )
        want = "}" if frame.opener == "{" else "]"
        if frame.set_literal and c == "}":
            self.add("non-json-literal", pos, pos + 1, [TextEdit(pos, pos + 1, "]")], "a Python set becomes an array")
        elif frame.opener == "(":
            if c != ")":
                raise RepairAborted(pos, f"tuple opened at {frame.open_pos} closed by {c!r}")
            self.add(
                "non-json-literal",
                frame.open_pos,
                pos + 1,
                [TextEdit(frame.open_pos, frame.open_pos + 1, "["), TextEdit(pos, pos + 1, "]")],
                "a Python tuple becomes an array",
            )
        elif c != want and self.closes_parent(c, pos):
            # '{"a": [1, 2}': the array was never closed; '}' belongs to the object. A container with nothing
            # in it ('[{]') may as well be a stray opener: closing it invents an empty value, so not safe.
            empty = frame.after_value < 0 and frame.state in (_OBJ_KEY, _ARR_VALUE)
            if empty and self.stack[-2].state == _ARR_VALUE:
                # In an array, the stray-opener reading drops one character that holds no value, where
                # closing it invents a container: both are guesses, this one invents nothing.
                self.add(
                    "mismatched-bracket",
                    frame.open_pos,
                    pos + 1,
                    [TextEdit(frame.open_pos, frame.open_pos + 1, "")],
                    f"dropped the {frame.opener!r} at offset {frame.open_pos}: nothing in it, and {c!r} closes"
                    " the array around it (a stray opener, or an empty value lost)",
                    safe=False,
                )
                self.stack.pop()
                return pos
            self.add(
                "mismatched-bracket",
                pos,
                pos + 1,
                [TextEdit(pos, pos, want)],
                f"inserted the missing {want!r} for {frame.opener!r} opened at offset {frame.open_pos}"
                + (" (an empty value: the opener may be stray)" if empty else ""),
                safe=not empty,
            )
            self.stack.pop()
            self.value_done(pos)
            return pos
        elif c != want:
            self.add(
                "mismatched-bracket",
                pos,
                pos + 1,
                [TextEdit(pos, pos + 1, want)],
                f"{c!r} closes {frame.opener!r} opened at offset {frame.open_pos}: replaced with {want!r}",
            )
        self.stack.pop()
        self.value_done(pos + 1)
        return pos + 1

    def closes_parent(self, c: str, pos: int) -> bool:
        """A closer that does not match the innermost container but matches its parent.

        Usually the inner container was left open, unless closing the parent would end the whole value
        while a ',' follows: then the closer was a typo for the inner one ('["a", "b"}, "k2": ...').
        """
        if len(self.stack) < 2:
            return False
        parent = self.stack[-2]
        if c != ("}" if parent.opener == "{" else "]"):
            return False
        if len(self.stack) == 2:
            j = self.next_significant(pos + 1)
            return not (j < self.end and self.text[j] == ",")
        return True

    def comma(self, frame: _Frame, pos: int) -> int:
        state = frame.state
        if state in (_OBJ_NEXT, _ARR_NEXT):
            frame.state = _OBJ_KEY if state == _OBJ_NEXT else _ARR_VALUE
            frame.comma = pos
            frame.member_start = pos
            return pos + 1
        if state in (_OBJ_KEY, _ARR_VALUE):
            self.add("trailing-comma", pos, pos + 1, [TextEdit(pos, pos + 1, "")], "removed a stray ','")
            return pos + 1
        if state == _OBJ_VALUE:
            self.add(
                "missing-value",
                frame.member_start,
                pos,
                [TextEdit(pos, pos, "null")],
                "a key has no value: null",
                safe=False,
            )
            self.value_done(pos)
            return pos
        if state == _OBJ_COLON and frame.after_value < 0 and frame.opener == "{":
            # "{'a', 'b'}": a Python set literal; read it as an array.
            self.add(
                "non-json-literal",
                frame.open_pos,
                frame.open_pos + 1,
                [TextEdit(frame.open_pos, frame.open_pos + 1, "[")],
                "a Python set becomes an array",
            )
            frame.opener, frame.set_literal = "[", True
            frame.state, frame.after_value = _ARR_NEXT, frame.key_end
            return pos
        raise RepairAborted(pos, "a key is followed by ',' instead of ':'")

    def pair_in_array(self, frame: _Frame, pos: int) -> int:
        """'["key": "value"]': a key-value pair written straight into an array; wrap it in an object."""
        start = frame.value_start
        if start < 0 or self.text[start] not in "\"'" or len(self.stack) >= self.max_depth:
            raise RepairAborted(pos, "':' inside an array")
        self.add(
            "mismatched-bracket",
            start,
            pos,
            [TextEdit(start, start, "{")],
            "a key-value pair inside an array: opened an object for it",
        )
        self.stack.append(_Frame("{", start, _OBJ_VALUE, member_start=start, key_end=frame.after_value))
        return pos + 1

    def ellipsis(self, frame: _Frame, pos: int) -> int:
        stop = pos + 3
        if frame.comma >= 0:  # "[1, 2, ...]": drop ", ..."
            start = frame.comma
            frame.state, frame.comma = _ARR_NEXT, -1
        elif frame.state == _ARR_NEXT:  # "[1 ...]"
            start = frame.after_value
        else:  # "[..., 1]": drop "..., "
            start = pos
            after = self.next_significant(stop)
            if after < self.end and self.text[after] == ",":
                stop = after + 1
        self.add(
            "ellipsis-placeholder", start, stop, [TextEdit(start, stop, "")], "removed a '...' placeholder", safe=False
        )
        return stop

    def key(self, frame: _Frame, pos: int) -> int:
        c = self.text[pos]
        frame.member_start = frame.comma if frame.comma >= 0 else pos
        if c in "\"'":
            end = self.string(pos, c, "key")
        else:
            m = _WORD.match(self.text, pos, self.end) or _NUMBER_TOKEN.match(self.text, pos, self.end)
            if m is None:
                raise RepairAborted(pos, f"expected a key, got {c!r}")
            end = m.end()
            if end >= self.end:
                return self.truncated(end, None)
            word = m.group()
            if self.text[end] == '"':
                # 'e":' : the key lost its opening quote; its closing quote is there.
                self.add("unquoted-string", pos, end + 1, [TextEdit(pos, pos, '"')], f"quoted the key {word}")
                end += 1
            else:
                self.add(
                    "unquoted-string",
                    pos,
                    end,
                    [TextEdit(pos, end, json.dumps(word, ensure_ascii=False))],
                    f"quoted the key {word}",
                )
        frame.state = _OBJ_COLON
        frame.key_end = end
        frame.comma = -1
        return end

    # -- values -------------------------------------------------------------------------------

    def value(self, pos: int, role: str) -> int:
        text = self.text
        c = text[pos]
        if c in "{[":
            if self.stack and len(self.stack) <= _C_SKIP_DEPTH:
                # Most of a broken document is valid JSON: a container the C decoder reads whole needs no
                # repair, and reading it character by character here was most of the cost. Bounded depth:
                # each level may scan to the error once (in C), so the cost stays linear.
                end = _valid_container_end(text, pos, self.end)
                if end > 0:
                    self.value_done(end)
                    return end
            return self.push(c, pos)
        if c == "(":
            return self.push("(", pos)
        if c in "\"'":
            end = self.string(pos, c, role)
            self.value_done(end)
            return end
        if c in "+-":
            word = _WORD.match(text, pos + 1, self.end)
            if word is not None and word.group() in _NON_FINITE:
                return self.non_finite(pos, word.end(), c + word.group())
        m = _NUMBER_TOKEN.match(text, pos, self.end)
        if m is not None:
            return self.number(pos, m.group())
        m = _WORD.match(text, pos, self.end)
        if m is not None:
            return self.word(pos, m.group(), role)
        if c in "}])" and not self.stack:
            raise RepairAborted(pos, f"unexpected {c!r}")
        raise RepairAborted(pos, f"unexpected character {c!r} where a value should start")

    def number(self, pos: int, token: str) -> int:
        end = pos + len(token)
        if end < self.end and (self.text[end].isalpha() or self.text[end] in "_-:/"):
            return self.unquoted_value(pos)  # "12abc", an unquoted date or time: a bare string
        if self.stack and _ONLY_BLANK.match(self.text, end, self.end):
            # "[1, 23" may have been "[1, 234]": keeping 23 is a guess (json-repair's), so only ever unsafe.
            fixed = token if _JSON_NUMBER.match(token) else normalise_number(token)
            if fixed is None or fixed != token:
                return self.truncated(pos, None, unsafe=True)
            self.value_done(end)
            return self.truncated(end, None, unsafe=True, note="kept a number the text ends in (it may be cut)")
        if _JSON_NUMBER.match(token):
            self.value_done(end)
            return end
        fixed = normalise_number(token)
        if fixed is None:
            if end >= self.end:
                return self.truncated(pos, None, unsafe=True)
            raise RepairAborted(pos, f"{token!r} is not a number")
        # Leading zeros ('007', or '00' from '0, 0' with the comma lost) may be an id or two numbers: a guess.
        zeros = re.match(r"[-+]?0[0-9_]", token) is not None
        note = f"{token} written as {fixed}" + (" (leading zeros dropped)" if zeros else "")
        self.add("invalid-number", pos, end, [TextEdit(pos, end, fixed)], note, safe=not zeros)
        self.value_done(end)
        return end

    def non_finite(self, pos: int, end: int, token: str) -> int:
        self.add(
            "non-finite-number", pos, end, [TextEdit(pos, end, "null")], f"{token} has no JSON form: null", safe=False
        )
        self.value_done(end)
        return end

    def word(self, pos: int, word: str, role: str) -> int:
        end = pos + len(word)
        if word in ("true", "false", "null"):
            self.value_done(end)
            if self.stack and _ONLY_BLANK.match(self.text, end, self.end):
                # Like a number the text ends in: 'true' may be the start of '"true..."' that lost its quote.
                return self.truncated(end, None, unsafe=True, note="kept a literal the text ends in (it may be cut)")
            return end
        if word in _LITERALS:
            fixed = _LITERALS[word]
            self.add("non-json-literal", pos, end, [TextEdit(pos, end, fixed)], f"{word} written as {fixed}")
            self.value_done(end)
            return end
        if word in _NON_FINITE:
            return self.non_finite(pos, end, word)
        if end >= self.end and any(lit.startswith(word) for lit in ("true", "false", "null")):
            return self.truncated(pos, None, unsafe=True)
        if not self.stack:
            raise RepairAborted(pos, f"{word!r} is not JSON")
        return self.unquoted_value(pos)

    def unquoted_value(self, pos: int) -> int:
        m = _UNQUOTED_VALUE_END.search(self.text, pos, self.end)
        stop = self.end if m is None else m.start()
        raw = self.text[pos:stop]
        end = pos + len(raw.rstrip())
        word = self.text[pos:end]
        # A bare run of several words, or one the text ends in, may be prose the JSON ran into: a guess.
        at_end = m is None or _ONLY_BLANK.match(self.text, end, self.end) is not None
        glued = any(g in word for g in _GLUED) or (word[0] in "-+0123456789" and not _DATE_TIME.fullmatch(word))
        # 'yoh:0.001' is a key and its value that lost their quotes and braces, not one word.
        glued = glued or (":" in word and not _DATE_TIME.fullmatch(word))
        # "X1'" : a string that lost its opening quote; the closing one is not part of the value.
        sentence = any(ch.isspace() for ch in word) or at_end or glued or word[-1] in "'\""
        self.add(
            "unquoted-string",
            pos,
            end,
            [TextEdit(pos, end, json.dumps(word, ensure_ascii=False))],
            f"quoted the bare {'text' if sentence else 'word'} {word[:40]}",
            safe=not sentence,
        )
        self.value_done(end)
        return end

    def string(self, pos: int, quote: str, role: str) -> int:
        """Read a string opened at `pos`; returns the offset after its closing quote."""
        text, limit = self.text, self.end
        plain = _PLAIN[quote]
        single = quote == "'"
        edits: list[TextEdit] = [TextEdit(pos, pos + 1, '"')] if single else []
        inner: list[TextEdit] = []  # quotes the model forgot to escape
        self.string_mark = len(self.repairs)
        i = pos + 1
        while True:
            self.tick()
            i = plain.match(text, i, limit).end()  # type: ignore[union-attr]
            if i >= limit:
                self.flush_string(pos, i, edits, single, inner, closed=False)
                return self.truncated(i, (pos, role))
            ch = text[i]
            if ch == "\\":
                if i + 1 >= limit:
                    self.flush_string(pos, i, edits, single, inner, closed=False)
                    return self.truncated(i, (pos, role))
                nx = text[i + 1]
                if nx in '"\\/bfnrt':
                    i += 2
                elif nx == "u" and _HEX4.match(text, i + 2, limit):
                    i += 6
                elif nx == "'":
                    self.add("invalid-escape", i, i + 2, [TextEdit(i, i + 2, "'")], "\\' is not a JSON escape")
                    i += 2
                else:
                    self.add("invalid-escape", i, i + 1, [TextEdit(i, i, "\\")], f"\\{nx} is not a JSON escape")
                    i += 1
            elif ch < " ":
                fixed = _CONTROL_ESCAPES.get(ch, f"\\u{ord(ch):04x}")
                self.add("raw-control-character", i, i + 1, [TextEdit(i, i + 1, fixed)], f"escaped a raw {fixed}")
                i += 1
            elif ch == '"' and single:
                edits.append(TextEdit(i, i, "\\"))
                i += 1
            elif self.closes(i, role, pos):
                if single:
                    edits.append(TextEdit(i, i + 1, '"'))
                self.flush_string(pos, i + 1, edits, single, inner)
                self.last_string = (pos, i + 1)
                return i + 1
            else:
                if not single:
                    inner.append(TextEdit(i, i, "\\"))
                i += 1

    def flush_string(
        self, pos: int, end: int, edits: list[TextEdit], single: bool, inner: list[TextEdit], *, closed: bool = True
    ) -> None:
        if single and closed:
            # One edit per string, not one per quote: a report stays readable and the engine has fewer
            # edits to check against each other. Fixes found inside the string fold into it.
            folded = self.repairs[self.string_mark :]
            del self.repairs[self.string_mark :]
            body = self.text[pos + 1 : end - 1]
            if not folded and "\\" not in body:
                # The edits are the two quotes and a backslash before each '"' inside: written directly,
                # without sorting and applying them one by one (most of the cost on long single-quoted text).
                new = '"' + body.replace('"', '\\"') + '"'
            else:
                new = apply(self.text, pos, end, [*folded, Repair("", pos, end, tuple(edits), True, "")])
            extra = f" (and {len(folded)} fix{'es' if len(folded) > 1 else ''} inside)" if folded else ""
            note = f"single quotes become double quotes{extra}"
            safe = all(r.safe for r in folded)
            self.add("single-quoted-string", pos, end, [TextEdit(pos, end, new)], note, safe=safe)
        elif single:
            self.add("single-quoted-string", pos, end, edits, "single quotes become double quotes")
        if inner:
            # Where a string ends is a guess once quotes go unescaped. Trust it only when the inner quotes
            # pair up and do not look like JSON structure ("k": "v" swallowed into one string).
            body = self.text[pos:end]
            # Two quotes glued inside ('"dq""fswuz"') are as likely two strings with the separator lost.
            safe = closed and len(inner) % 2 == 0 and _SWALLOWED.search(body) is None and '""' not in body[1:-1]
            n = len(inner)
            note = f"escaped {n} quote{'s' if n > 1 else ''} inside a string"
            self.add("unescaped-quote", pos, end, inner, note, safe=safe)

    def closes(self, i: int, role: str, opened: int) -> bool:
        """Is the quote at `i` the string's closing quote, or a quote the model forgot to escape?"""
        j = self.next_significant(i + 1)
        if j >= self.end or role == "top":
            return True
        c = self.text[j]
        if role == "key":
            return c in ":,}"
        in_object = self.stack[-1].opener == "{"
        if c == "}" and in_object and self.brace_in_string(opened, i, j):
            return False
        if c in "\"'" or c == ("}" if in_object else "]") or (c == ")" and not in_object):
            return True
        if c == ":" and not in_object:  # '["key": "value"]': the quote closed a key
            k = self.next_significant(j + 1)
            return k < self.end and self.text[k] in "\"'{[-0123456789tfn"
        if c in "}])":  # another container's closer: only when the structure continues after it
            k = self.next_significant(j + 1)
            return k >= self.end or self.text[k] in ",}])"
        if c == "/" and self.text.startswith(("//", "/*"), j):
            return True
        if c != ",":
            # '["a" "b" "c" 1': in an array, a number or literal after the quote, then a separator or the end,
            # is the next element (a comma lost), not the string going on.
            return not in_object and _ELEMENT_AHEAD.match(self.text, j, self.end) is not None
        k = self.next_significant(j + 1)
        if k >= self.end:
            return True
        nxt = self.text[k]
        if in_object:
            return nxt in "\"'}" or _looks_like_bare_key(self.text, k, self.end)
        return True

    def brace_in_string(self, opened: int, i: int, j: int) -> bool:
        """'"answer is {"k": "5"}, correct is 4."': the '}' after a quote closes a brace the string opened,
        not the object, when the string holds an unclosed '{' and what follows the '}' is no member (a ','
        then prose). The inner quotes stay a guess (unescaped-quote judges them)."""
        body = self.text[opened + 1 : i]
        if body.count("{") <= body.count("}"):
            return False
        k = self.next_significant(j + 1)
        if k >= self.end or self.text[k] != ",":
            return False
        m = self.next_significant(k + 1)
        if m >= self.end or self.text[m] in "\"'}{[":
            return False
        return not _looks_like_bare_key(self.text, m, self.end)

    # -- the end ------------------------------------------------------------------------------

    def truncated(self, pos: int, open_string: tuple[int, str] | None, *, unsafe: bool = False, note: str = "") -> int:
        """The text ends inside the value: drop a dangling key or comma, close the string and brackets."""
        end = self.end
        cut = pos if pos < end else end
        closing = ""
        safe = not unsafe
        notes = []
        frame = self.stack[-1] if self.stack else None
        if open_string is not None:
            start, role = open_string
            if role == "key":
                assert frame is not None
                cut, safe = frame.member_start, False
                notes.append("dropped a key cut off mid-name")
            elif pos <= start + 1 and not self.text.startswith("\\", start + 1):
                # Cut right after the opening quote: close at the last complete member. A guess all the same:
                # '[1, "' is as likely '[1, ""]' with its last quote and bracket lost (the 100,000-example
                # property found it), and dropping an empty string loses a value.
                cut = frame.comma if frame is not None and frame.comma >= 0 else start
                safe = False
                notes.append("dropped a lone quote at the end (a string cut off at once, or an empty string?)")
            else:
                cut = pos  # a dangling backslash goes too
                closing = '"'
                # '"Pet' may have been "Peter": the string's end is lost, and closing it delivers a fragment.
                safe = False
                notes.append("closed a string cut off mid-way")
                run = _CLOSER_RUN.search(self.text, start + 1, pos)
                needed = "".join("}" if f.opener == "{" else "]" for f in reversed(self.stack))
                if run is not None and run.group().replace(" ", "").strip() == needed:
                    # '{"key": ["value]}': the closers the value needs end the text; the quote before them
                    # was lost. A guess still (the string may hold brackets), so it stays unsafe.
                    cut = run.start()
                    notes[-1] = "closed a string before the closers it swallowed"
                elif any(c in self.text[start:pos] for c in "]}"):
                    notes.append("the cut-off string contains brackets")
        elif unsafe:
            notes.append(note or "dropped a value cut off mid-token")
        elif self.ends_in_open_quote(end):
            safe = False
            notes.append("the quote the text ends in may open a string rather than close one")
        elif self.text[self.start : end].rstrip().endswith(("}", "]", ")")):
            # The text ends like complete JSON yet a container is still open: a closer went missing
            # somewhere before, and where it belonged ('[[, null]': [[], null] or [[null]]) is a guess.
            safe = False
            notes.append("a closer is missing before the end, where is a guess")
        if frame is not None and open_string is None:
            if frame.state in (_OBJ_COLON, _OBJ_VALUE):
                cut, safe = frame.member_start, False
                notes.append("dropped a key with no value")
            elif frame.comma >= 0:
                cut = frame.comma
        for f in reversed(self.stack):
            closing += "}" if f.opener == "{" else "]"
        self.cuts = self.complete_cuts()
        cut = min(cut, pos)
        span_start = self.stack[0].open_pos if self.stack else (open_string[0] if open_string else cut)
        # Repairs inside the dropped tail are void (a tuple's "(" still needs its "[", added below).
        self.repairs = [r for r in self.repairs if all(e.end <= cut and not e.start == e.end == cut for e in r.edits)]
        for f in self.stack:
            if f.opener == "(":
                self.add(
                    "non-json-literal",
                    f.open_pos,
                    f.open_pos + 1,
                    [TextEdit(f.open_pos, f.open_pos + 1, "[")],
                    "a Python tuple becomes an array",
                )
        note = "; ".join([*notes, f"closed with {closing!r}" if closing else "closed"])
        self.add("truncated-json", min(span_start, cut), end, [TextEdit(cut, end, closing)], note, safe=safe)
        self.stack.clear()
        return end

    def ends_in_open_quote(self, end: int) -> bool:
        """'["Y,"': the text ends with a quote that closed a string ending in a separator; read the other
        way, "Y lost its closing quote and the last quote opens a value that was cut off."""
        if self.last_string is None:
            return False
        s0, s1 = self.last_string
        if _ONLY_BLANK.match(self.text, s1, end) is None:
            return False
        return _ENDS_IN_SEPARATOR.search(self.text, s0 + 1, s1 - 1) is not None

    def complete_cuts(self) -> tuple[int, ...]:
        """Ends of the last complete member of each open container, innermost first (an empty innermost
        container closes right after its opener); what a truncated value keeps when closed there."""
        cuts: list[int] = []
        for depth, f in enumerate(reversed(self.stack)):
            if f.after_value >= 0:
                cuts.append(f.after_value)
            elif depth == 0:
                cuts.append(f.open_pos + 1)
        return tuple(sorted(set(cuts), reverse=True))


_C_SKIP_DEPTH = 8
_C_SKIP_WINDOW = 8192
_ENDS_IN_SEPARATOR = re.compile(r"[,:{}\[\]]\s*\Z")  # the content of '"Y,"', searched up to an endpos
_ONLY_BLANK = re.compile(r"[ \t\n\r`]*\Z")  # matched up to an endpos: O(1) where text follows, no slice


def _valid_container_end(text: str, pos: int, end: int) -> int:
    """End of the strict JSON container at `pos` if it lies within `end`, else -1.

    The decoder reads a window, not the rest of the text: a JSONDecodeError counts the lines before the
    error (str.count from 0), so a failing read of the whole rest for every container was quadratic. A
    container longer than the window is read here character by character; its children still go to C.
    """
    window = text[pos : min(end, pos + _C_SKIP_WINDOW)]
    try:
        _, stop = raw_decode(window, 0)
    except (ValueError, RecursionError):  # JSONDecodeError and NonFiniteNumber are ValueErrors
        return -1
    return pos + stop


def _line_end(text: str, pos: int, end: int) -> int:
    stop = text.find("\n", pos, end)
    return end if stop < 0 else stop


def _looks_like_bare_key(text: str, pos: int, end: int) -> bool:
    m = _WORD.match(text, pos, end) or _NUMBER_TOKEN.match(text, pos, end)  # '{1: "a", 2: "b"}' too
    if m is None:
        return False
    j = _WS.match(text, m.end(), end).end()  # type: ignore[union-attr]
    return j < end and text[j] == ":"


def normalise_number(token: str) -> str | None:
    """82_461_110 -> 82461110, +1 -> 1, 01 -> 1, .5 -> 0.5, 1. -> 1.0; None when still not a number."""
    s = token.replace("_", "")
    if s.startswith("+"):
        s = s[1:]
    sign = ""
    if s.startswith("-"):
        sign, s = "-", s[1:]
    if s.startswith("."):
        s = "0" + s
    mant, e, exp = s.partition("e") if "e" in s else s.partition("E")
    if mant.endswith("."):
        mant += "0"
    whole, dot, frac = mant.partition(".")
    whole = whole.lstrip("0") or "0"
    fixed = sign + whole + dot + frac + e + exp
    return fixed if _JSON_NUMBER.match(fixed) else None


def apply(text: str, start: int, end: int, repairs: list[Repair]) -> str:
    """text[start:end] with every repair's edits applied (edits are absolute offsets)."""
    edits = sorted((e for r in repairs for e in r.edits), key=lambda e: (e.start, e.end))
    parts = []
    pos = start
    for e in edits:
        if e.start < pos:
            raise ValueError(f"overlapping repair edits at {e.start}")
        parts.append(text[pos : e.start])
        parts.append(e.replacement)
        pos = e.end
    parts.append(text[pos:end])
    return "".join(parts)


def repair_region(
    text: str, start: int, end: int | None = None, *, deadline: Any = None, max_depth: int = 512
) -> RepairResult:
    """Repair the JSON value starting at `start` (within text[:end]); verified by the strict decoder."""
    stop = len(text) if end is None else end
    parser = _Parser(text, start, stop, deadline, max_depth)
    try:
        value_end = parser.parse()
    except RepairAborted as exc:
        return RepairResult(False, start, stop, problem=str(exc), problem_pos=exc.pos, too_deep=exc.too_deep)
    repairs = sorted(parser.repairs, key=lambda r: (r.start, r.end))
    try:
        repaired = apply(text, start, value_end, repairs)
        value = loads(repaired)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and NonFiniteNumber are ValueErrors
        pos = exc.pos if isinstance(exc, json.JSONDecodeError) else None
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return RepairResult(
            False, start, value_end, problem=f"repair did not give valid JSON: {msg}", problem_pos=pos, cuts=parser.cuts
        )
    return RepairResult(True, start, value_end, repairs, value, repaired, cuts=parser.cuts)


__all__ = ["ISSUES", "NonFiniteNumber", "Repair", "RepairResult", "TextEdit", "apply", "repair_region"]
