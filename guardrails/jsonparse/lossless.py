"""Is a repair lossless? Compare the value tokens of the broken text with those of the repaired value.

A repair is *safe* only when every value the input's text holds (every string, number and literal token,
keys included) is still in the repaired value, in the same order, at the same nesting depth, and no
container was invented or changed kind (a `(...)` that became an array, an object opened around a pair).
Closing what was left open, or replacing a closer by the right one, keeps every token at its depth and
passes; a stray `}` that ends the object early moves the members after it (or drops them) and fails.

The check is independent of the tolerant parser on purpose: the parser guesses, this module verifies the
guess with a plain tokeniser, so a bug in a heuristic shows up as a loss instead of a silent `repaired`.
Linear: one regex pass over the text and one iterative walk of the value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from guardrails.jsonparse.tolerant import NON_FINITE, PYTHON_LITERALS, normalise_number

# Whitespace and separators are not tokens: `search` skips them in C, and the separator before a token is
# read from the gap when needed (it decides key or value position). Strings are unrolled loops.
_TOKEN = re.compile(
    r"""(?P<comment>//[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/)?|\#[^\n]*)
    |(?P<dq>"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z))
    |(?P<sq>'[^'\\]*(?:\\.[^'\\]*)*(?:'|\\?\Z))
    |(?P<open>[{\[(])
    |(?P<close>[}\])])
    |(?P<ellipsis>\.\.\.)
    |(?P<num>[-+]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9_]*)?)
    |(?P<word>[^\W\d]\w*|\$\w*)
    |(?P<other>[^\s,:=])""",
    re.X | re.S,
)
_VALUE_END = re.compile(r"[,}\]\n\r\"]")
_OPENER_OF = {"}": "{", "]": "[", ")": "("}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
# A quote next to JSON punctuation inside what became one string: members swallowed, not quotes unescaped.
_STRUCTURE_QUOTE = re.compile(r"""["']\s*[,:{}\[\]]|[,:{}\[\]]\s*["']""")


class Token(NamedTuple):
    """A value token of the input (NamedTuples: built per token, a frozen dataclass costs 3x to make)."""

    kind: str  # "str", "num", "lit", "nonfinite", "ellipsis"
    value: Any
    depth: int
    start: int
    end: int
    inner: tuple[int, int]  # the content's span (inside the quotes)


@dataclass(frozen=True, slots=True)
class Loss:
    """What a candidate repair loses: `what` is for people (a Fix title, a regeneration message)."""

    what: str
    pos: int


def _decode(raw: str) -> str:
    if "\\" not in raw:
        return raw  # nothing to unescape: most strings, and json.loads per string was half this module's cost
    try:
        out = json.loads(f'"{raw}"', strict=False)
        if isinstance(out, str):
            return out
    except ValueError:
        pass

    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] == "u" and len(e) == 5:
            return chr(int(e[1:], 16))
        return _SIMPLE_ESCAPES.get(e, "\\" + e)  # an escape JSON does not know keeps its backslash

    return _ESCAPE.sub(one, raw)


def input_tokens(text: str, start: int = 0, end: int | None = None) -> tuple[list[Token], list[tuple[str, int]]]:
    """Value tokens of (possibly broken) JSON text, and the openers in order with their offsets."""
    stop = len(text) if end is None else end
    tokens: list[Token] = []
    openers: list[tuple[str, int]] = []
    stack: list[str] = []
    last = ""  # the last structural character: decides key or value position for a bare word
    pos = start
    search = _TOKEN.search
    while pos < stop:
        m = search(text, pos, stop)
        if m is None:
            break  # only whitespace and separators left
        if m.start() > pos:
            gap = text[pos : m.start()].rstrip()
            if gap:
                last = gap[-1]  # the gap holds only whitespace and separators: its last separator
            pos = m.start()
        kind, tok_end = m.lastgroup, m.end()
        depth = len(stack)
        if kind in ("dq", "sq"):
            q = text[pos]
            closed = tok_end - pos >= 2 and text[tok_end - 1] == q and not _escaped(text, pos, tok_end - 1)
            inner = (pos + 1, tok_end - 1 if closed else tok_end)
            raw = text[inner[0] : inner[1]]
            if raw.endswith("\\") and not closed:
                raw = raw[:-1]
            if closed or raw:  # a lone quote at the very end opened no value yet
                tokens.append(Token("str", _decode(raw), depth, pos, tok_end, inner))
        elif kind == "open":
            stack.append(text[pos])
            openers.append((text[pos], pos))
            last = text[pos]
        elif kind == "close":
            # A closer for the container below the innermost one closes both: the inner was left open.
            if len(stack) >= 2 and stack[-1] != _OPENER_OF[text[pos]] == stack[-2]:
                stack.pop()
            if stack:
                stack.pop()
            last = text[pos]
        elif kind == "ellipsis":
            tokens.append(Token("ellipsis", "...", depth, pos, tok_end, (pos, tok_end)))
        elif kind in ("num", "word", "other"):
            in_key = bool(stack) and stack[-1] == "{" and last in "{,"
            word = m.group()
            nxt = text[tok_end] if tok_end < stop else ""
            bare_run = kind == "other" or (
                (kind == "num" and nxt != "" and (nxt.isalpha() or nxt in "_-:/")) or (kind == "word" and not in_key)
            )
            if kind == "word" and word in ("true", "false", "null"):
                tokens.append(Token("lit", word, depth, pos, tok_end, (pos, tok_end)))
            elif kind == "word" and word in PYTHON_LITERALS and not in_key:
                tokens.append(Token("lit", PYTHON_LITERALS[word], depth, pos, tok_end, (pos, tok_end)))
            elif kind == "word" and word in NON_FINITE:
                tokens.append(Token("nonfinite", word, depth, pos, tok_end, (pos, tok_end)))
            elif kind == "num" and not bare_run:
                fixed = normalise_number(word)
                if fixed is None:
                    tokens.append(Token("str", word, depth, pos, tok_end, (pos, tok_end)))
                else:
                    tokens.append(Token("num", json.loads(fixed), depth, pos, tok_end, (pos, tok_end)))
            else:
                if bare_run and not in_key:
                    vm = _VALUE_END.search(text, pos, stop)
                    tok_end = pos + len(text[pos : stop if vm is None else vm.start()].rstrip())
                tokens.append(Token("str", text[pos:tok_end], depth, pos, tok_end, (pos, tok_end)))
        pos = max(tok_end, pos + 1)
    return tokens, openers


def _escaped(text: str, start: int, i: int) -> bool:
    n = 0
    while i - 1 - n > start and text[i - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


class _Out(NamedTuple):
    kind: str
    value: Any
    depth: int


def value_tokens(value: Any) -> tuple[list[_Out], list[str]]:
    """Leaves (keys included) of a parsed value in document order with their depth, and its openers."""
    out: list[_Out] = []
    openers: list[str] = []
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            openers.append("{")
            items: list[tuple[Any, int]] = []
            for k, v in node.items():
                items.append((_Key(k), depth + 1))
                items.append((v, depth + 1))
            stack.extend(reversed(items))
        elif isinstance(node, list):
            openers.append("[")
            stack.extend((v, depth + 1) for v in reversed(node))
        elif isinstance(node, _Key):
            out.append(_Out("str", node.name, depth))
        elif isinstance(node, str):
            out.append(_Out("str", node, depth))
        elif node is None or isinstance(node, bool):
            out.append(_Out("lit", _LIT_TEXT[node], depth))
        else:
            out.append(_Out("num", node, depth))
    return out, openers


@dataclass(frozen=True, slots=True)
class _Key:
    name: str


_LIT_TEXT = {None: "null", True: "true", False: "false"}


def _same(t: Token, o: _Out) -> bool:
    if t.kind != o.kind or t.depth != o.depth:
        return False
    if t.kind == "num":
        return bool(t.value == o.value)
    return bool(t.value == o.value)


def _merge(text: str, tokens: list[Token], i: int, o: _Out) -> int:
    """Quotes the model forgot to escape: tokens i..k-1 read as one string. Returns k, or i when not."""
    if o.kind != "str" or tokens[i].kind != "str" or tokens[i].depth != o.depth or tokens[i].value == "":
        return i  # an empty string next to another is two values ('"""a"'), not an escaped quote
    begin = tokens[i].inner[0]
    k = i + 1
    quotes = 0
    while k < len(tokens) and tokens[k].start - begin <= 4 * len(o.value) + 8:
        raw = text[begin : tokens[k].inner[1]]
        gaps = text[tokens[k - 1].inner[1] : tokens[k].inner[0]]
        if gaps.strip(" \t\"'") or tokens[k].kind not in ("str", "num", "lit") or tokens[k].value == "":
            return i  # something else than quotes between them: separate values
        quotes += gaps.count('"') + gaps.count("'")
        if _decode(raw.replace('"', '\\"')) == o.value or _decode(raw) == o.value:
            # Inner quotes that pair up ('<a href="x">') were quotes; an odd one out, or one next to JSON
            # punctuation, was a string's end: the repair merged two values.
            paired = quotes % 2 == 0
            return k + 1 if paired and _STRUCTURE_QUOTE.search(raw) is None else i
        k += 1
    return i


def _show(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v)
    return json.dumps(s[:40], ensure_ascii=False) if isinstance(v, str) else s[:40]


# The same tokens as _TOKEN, as plain strings (findall runs in C); the brackets are tokens too, so two equal
# lists have every value at the same depth in the same kind of container.
_ALTERNATIVES = r"""//[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/)?|\#[^\n]*
    |"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)
    |'[^'\\]*(?:\\.[^'\\]*)*(?:'|\\?\Z)
    |[{\[(]|[}\])]|\.\.\.
    |(?>[-+]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9_]*)?)(?![^\W\d]|[_\-:/])
    |[-+]?[0-9_.][^\s,=\[\]{}()"']*
    |KEY
    |[^\W\d]\w*|\$\w*
    |[^\s,:=]"""
# Separators and whitespace are skipped by a possessive run before each token (one C loop, not every
# alternative tried at every blank: 8x faster on indented JSON). A word before ':' is one token with it;
# whether it is a key depends on the separator before it, which only _FLAT_KEYS sees (slower, used when
# such a token turns up).
_FLAT = re.compile(r"[\s,:=]*+(" + _ALTERNATIVES.replace("KEY", r"[^\W\d]\w*[ \t\n\r]*:") + r"|\Z)", re.X | re.S)
_FLAT_KEYS = re.compile(_ALTERNATIVES.replace("KEY", r"(?<=[{,])[ \t\n\r]*[^\W\d]\w*[ \t\n\r]*:"), re.X | re.S)
# `|\Z`: a run of separators at the end is one empty token (dropped), not retried from each of its characters.


def _flat(pattern: re.Pattern[str], text: str, start: int = 0, end: int | None = None) -> list[str]:
    found = pattern.findall(text, start, len(text) if end is None else end)
    while found and found[-1] == "":
        found.pop()
    return found


# A number glued to a letter or one of '_-:/' ('12-05', '3rd') is a bare run to `input_tokens`, not a number:
# here it is one token that no strict JSON token equals, so the lists differ and the full comparison reads it.
# A bare word right after '{' or ',' and before ':' ('{id: 1}') is one token with its colon: a key, when the
# innermost container is an object and no comment came just before (checked where it is read).
_BARE_KEY = re.compile(r"[ \t\n\r]*([^\W\d]\w*)[ \t\n\r]*:\Z")
_NOT_KEYS = frozenset({"true", "false", "null", *NON_FINITE})
_OPEN_SQ = re.compile(r"'[^'\"\\]+\Z")
_CLOSED_DQ = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"\Z')
_PLAIN_SQ = re.compile(r"'[^'\"\\]*'\Z")
_FLAT_LITERALS = {**{k: v for k, v in PYTHON_LITERALS.items()}, "true": "true", "false": "false", "null": "null"}
_CLOSERS = frozenset("}]")
_STRICT_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")


def _same_tokens(text: str, start: int, end: int, repaired: str, value: Any) -> bool:
    return _quick(text, start, end, repaired, value) == (True, None)


def _quick(
    text: str, start: int, end: int, repaired: str, value: Any, *, keys: bool = False
) -> tuple[bool, Loss | None]:
    """A sufficient test for "nothing lost", at C speed: the input's tokens, read plainly, are the repaired
    text's tokens, or their start with only closers after (closing what was left open).

    Where a repair touched a value ('True' -> true and 'x' -> "x" are read plainly here; a bare word, a cut
    string, a merged quote are not), the lists differ and `compare` decides token by token. Equal lists
    cannot hide a loss: every token, bracket included, is the same text in the same order.

    Returns (decided, loss). One loss is decided here too: a truncated value closed before its last values
    (strings, numbers or literals after every complete one), the common unsafe cut; the message is the one
    the full comparison gives, from `input_tokens` of that tail alone."""
    flat = _FLAT_KEYS if keys else _FLAT
    ours = _flat(_FLAT, repaired)
    # The text is not the value: a key written twice keeps one member ('{"a": 1, "a": 2}' is {"a": 2}).
    dumped = json.dumps(value, ensure_ascii=False, separators=(",", ":")) if "{" in repaired else None
    if dumped is not None and len(_flat(_FLAT, dumped)) != len(ours):
        return False, None
    theirs = _flat(flat, text, start, end)
    if theirs == ours:
        return True, None
    plain: list[str] = []
    src: list[int] = []  # where each plain token came from in `theirs`
    last = len(theirs) - 1
    stack: list[str] = []
    for i, t in enumerate(theirs):
        c = t[0]
        if c in "{[":
            stack.append(c)
        elif c in "}]" and stack:
            stack.pop()
        if c == '"' and i == last and _CLOSED_DQ.match(t) is None:
            # Cut off inside a string (the region's last token): its text so far, as `input_tokens` reads it.
            raw = t[1:-1] if t.endswith("\\") else t[1:]
            if raw:
                plain.append(f'"{raw}"')
                src.append(i)
        elif c == '"' or c in "{[]}":
            plain.append(t)
            src.append(i)
        elif c == "-" or c.isdigit():
            plain.append(t)
            src.append(i if _STRICT_NUMBER.match(t) else -1)  # '95:f' reads as a key or a value
        elif c in "/#":
            continue  # a comment: not a value (the repair removes it)
        elif c == "'":
            if _PLAIN_SQ.match(t) is not None:
                plain.append(f'"{t[1:-1]}"')
                src.append(i)
            elif i == last and _OPEN_SQ.match(t) is not None:
                plain.append(f'"{t[1:]}"')  # cut off inside the string
                src.append(i)
            elif i != last or t != "'":
                return False, None  # quotes or escapes inside: the full comparison reads them
        elif t[-1] == ":":
            if not keys:
                return _quick(text, start, end, repaired, value, keys=True)
            key = _BARE_KEY.match(t)
            if key is None or key.group(1) in _NOT_KEYS or not stack or stack[-1] != "{":
                return False, None
            if i > 0 and theirs[i - 1][0] in "/#":
                return False, None  # the '{' or ',' before it may end a comment
            plain.append(f'"{key.group(1)}"')
            src.append(-1)  # a bare key: how it reads depends on what came before
        else:
            lit = _FLAT_LITERALS.get(t)
            if lit is None:
                return False, None  # a bare word, '...', '(' or another character: read token by token
            plain.append(lit)
            src.append(i if t in ("true", "false", "null") else -1)  # 'None' reads as a key or a value
    n = len(plain)
    if plain == ours[:n] and len(ours) >= n:
        return all(t in _CLOSERS for t in ours[n:]), None
    m = len(ours)
    while m > 0 and ours[m - 1] in _CLOSERS:
        m -= 1
    if not 0 < m < n or plain[:m] != ours[:m] or -1 in src[m:] or any(t[0] in "{[]}" for t in plain[m:]):
        return False, None
    # The repaired value keeps the first m tokens and closes; the input goes on with plain values only.
    at = src[m]
    for k, found in enumerate(flat.finditer(text, start, end)):
        if k == at:
            tail, openers = input_tokens(text, found.start(found.lastindex or 0), end)
            if openers or len(tail) != n - m or tail[0].kind not in ("str", "num", "lit"):
                return False, None
            rest = len(tail) - 1
            more = f" and {rest} more value{'s' if rest > 1 else ''}" if rest else ""
            return True, Loss(f"{_show(tail[0].value)} at offset {tail[0].start}{more} dropped", tail[0].start)
    return False, None


def compare(
    text: str, start: int, end: int, value: Any, *, same_kinds: bool = True, repaired: str | None = None
) -> Loss | None:
    """None when `value` keeps every value token of text[start:end] in order; else what it loses.

    `same_kinds=False` lets a container change kind ('(1, 2)' read as an array): for a reading a schema
    confirmed, where the kind is the schema's to say. `repaired`, the JSON text `value` was parsed from,
    lets the common case (nothing touched a value) be settled at C speed."""
    if repaired is not None:
        decided, loss = _quick(text, start, end, repaired, value)
        if decided:
            return loss
    tokens, in_openers = input_tokens(text, start, end)
    out, out_openers = value_tokens(value)
    for (kind, pos), got in zip(in_openers, out_openers, strict=False):
        if kind != got and same_kinds:
            if kind == "(":
                return Loss(f"a parenthesised value at offset {pos} became an array", pos)
            return Loss(f"{kind!r} at offset {pos} became {got!r}", pos)
    if len(in_openers) != len(out_openers):
        pos = in_openers[len(out_openers)][1] if len(in_openers) > len(out_openers) else end
        n = abs(len(in_openers) - len(out_openers))
        verb = "dropped" if len(in_openers) > len(out_openers) else "invented"
        return Loss(f"{n} container{'s' if n > 1 else ''} {verb} (near offset {pos})", pos)
    i = j = 0
    while i < len(tokens) and j < len(out):
        t, o = tokens[i], out[j]
        if _same(t, o):
            i, j = i + 1, j + 1
            continue
        k = _merge(text, tokens, i, o)
        if k > i:
            i, j = k, j + 1
            continue
        if t.kind == "nonfinite":
            return Loss(f"{t.value} at offset {t.start} became {_show(o.value)}", t.start)
        if t.kind == "ellipsis":
            return Loss(f"a '...' placeholder at offset {t.start} dropped", t.start)
        if t.kind == o.kind and t.value == o.value:
            return Loss(f"{_show(t.value)} at offset {t.start} moved to another container", t.start)
        if o.kind == "str" and isinstance(o.value, str) and _show(t.value).strip('"') in o.value:
            return Loss(f"{_show(t.value)} at offset {t.start} was merged into the string {_show(o.value)}", t.start)
        return Loss(f"{_show(t.value)} at offset {t.start} is not in the repaired value", t.start)
    if i < len(tokens):
        t = tokens[i]
        rest = len(tokens) - i - 1
        more = f" and {rest} more value{'s' if rest > 1 else ''}" if rest else ""
        return Loss(f"{_show(t.value)} at offset {t.start}{more} dropped", t.start)
    if j < len(out):
        return Loss(f"the value {_show(out[j].value)} invented", end)
    return None


def lost_tokens(text: str, value: Any) -> str | None:
    """For evals: what `value` loses from text's first `{`/`[` to its last `}`/`]` (prose outside is free)."""
    m = re.search(r"[\[{]", text)
    start = m.start() if m else 0
    end = max(text.rfind("}"), text.rfind("]")) + 1
    loss = compare(text, start, end if end > start else len(text), value)
    return None if loss is None else loss.what


__all__ = ["Loss", "Token", "compare", "input_tokens", "lost_tokens", "value_tokens"]
