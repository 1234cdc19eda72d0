"""JSON pointer -> character span, computed on demand from the text.

Nothing is indexed up front: a passing output never pays for locations. To find `/a/3/b` we walk the
text from the root, skipping sibling values with the C decoder (`raw_decode`), so the cost is that of
one C-speed scan of what precedes the target, and only for outputs that have a finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]

from guardrails.jsonparse.strict import raw_decode, skip_ws


@dataclass(frozen=True, slots=True)
class Located:
    start: int
    end: int
    key_start: int | None = None
    """For object members: where the member's key starts (so a finding can cover `"key": value`)."""


def pointer_from_path(parts: Iterable[str | int]) -> str:
    """RFC 6901 pointer for a path of keys and indexes: ~ and / are escaped."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def path_from_pointer(pointer: str) -> list[str]:
    if not pointer:
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _member(text: str, pos: int, key: str) -> tuple[int, int] | None:
    """In the object starting at `pos`, (key start, value start) of the LAST member named `key`."""
    found = None
    pos = skip_ws(text, pos + 1)
    if text[pos] == "}":
        return None
    while True:
        key_start = pos
        name, pos = scanstring(text, pos + 1)
        pos = skip_ws(text, pos)
        pos = skip_ws(text, pos + 1)  # the colon
        if name == key:
            found = (key_start, pos)  # duplicates: json.loads keeps the last one, so do we
        _, pos = raw_decode(text, pos)
        pos = skip_ws(text, pos)
        if text[pos] != ",":
            return found
        pos = skip_ws(text, pos + 1)


def _element(text: str, pos: int, index: int) -> int | None:
    pos = skip_ws(text, pos + 1)
    if text[pos] == "]":
        return None
    for _ in range(index):
        _, pos = raw_decode(text, pos)
        pos = skip_ws(text, pos)
        if text[pos] != ",":
            return None
        pos = skip_ws(text, pos + 1)
    return pos


def locate(text: str, root: int, path: Sequence[str | int]) -> Located | None:
    """Span of the value at `path` in the valid JSON value starting at `root`; None when absent."""
    pos = skip_ws(text, root)
    key_start: int | None = None
    try:
        for part in path:
            opener = text[pos]
            if opener == "{":
                member = _member(text, pos, str(part))
                if member is None:
                    return None
                key_start, pos = member
            elif opener == "[":
                try:
                    index = int(part)
                except ValueError:
                    return None
                if index < 0:
                    return None
                element = _element(text, pos, index)
                if element is None:
                    return None
                key_start, pos = None, element
            else:
                return None
        _, end = raw_decode(text, pos)
    except (ValueError, IndexError, RecursionError):
        return None
    return Located(pos, end, key_start)


def pointer_at(text: str, root: int, offset: int) -> list[str | int] | None:
    """The path of the innermost value whose span contains `offset` (span -> pointer); None outside the JSON.

    Walks down from the root, skipping sibling values with the C decoder: for checks that find something at
    a character offset (a PII match, a banned word) and want to say which field it is in.
    """
    pos = skip_ws(text, root)
    path: list[str | int] = []
    try:
        _, end = raw_decode(text, pos)
        if not pos <= offset < end:
            return None
        while text[pos] in "{[":
            inside = None
            if text[pos] == "{":
                pos = skip_ws(text, pos + 1)
                while text[pos] != "}":
                    name, after = scanstring(text, pos + 1)
                    start = skip_ws(text, skip_ws(text, after) + 1)
                    _, stop = raw_decode(text, start)
                    if start <= offset < stop:
                        inside = (name, start)
                        break
                    pos = skip_ws(text, stop)
                    if text[pos] == ",":
                        pos = skip_ws(text, pos + 1)
            else:
                pos = skip_ws(text, pos + 1)
                index = 0
                while text[pos] != "]":
                    _, stop = raw_decode(text, pos)
                    if pos <= offset < stop:
                        inside = (index, pos)
                        break
                    index += 1
                    pos = skip_ws(text, stop)
                    if text[pos] == ",":
                        pos = skip_ws(text, pos + 1)
            if inside is None:
                return path  # on the container's own punctuation or a key
            path.append(inside[0])
            pos = inside[1]
    except (ValueError, IndexError, RecursionError):
        return None
    return path
