"""Patterns from callers and model outputs (a JSON Schema's `pattern`, `patternProperties`, `format: regex`),
run so that none of them can outlast the running check's deadline.

Two hazards, two guards:

- Matching: a pattern like `^(a|a)*$` backtracks exponentially. Every search runs in the `regex` module with
  `timeout=` the check's remaining time; a timeout becomes `DeadlineExceeded`, which the engine reports as
  ENG002 and fails closed on. (The `regex` module measures that timeout in process CPU time: on a machine
  whose CPU is shared, the wall-clock overshoot grows with the contention.)
- Compiling: the `regex` module unrolls the minimum count of every repeat, so `(?:(?:a{100}){100}){100}`
  takes a second and a few more nested braces take all the memory; its compile also costs ~3-10 us per
  character. A pattern is refused (`UnsafePattern`, a ValueError naming the limit) when it is longer than
  `MAX_PATTERN_CHARS` or would unroll into more than `MAX_UNROLLED` items, before `regex` ever sees it.

A pattern must also parse as a stdlib `re` pattern (the dialect python-jsonschema accepts), so a schema means
the same thing here as anywhere else. Compiled patterns (and refusals) are cached, bounded.

The deadline comes from `deadline_scope(ctx.deadline)`, set by the check around the code that may reach a
pattern (jsonschema calls keyword functions that cannot take extra arguments).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import regex

from guardrails.checks.base import Deadline, DeadlineExceeded
from guardrails.errors import OutguardError

MAX_PATTERN_CHARS = 10_000
"""Longest caller pattern compiled (~0.1 s to compile in the worst shape measured, `(a|b)` repeated)."""
MAX_UNROLLED = 10_000
"""Most items a pattern may unroll into (each repeat's minimum count multiplies its body)."""
CACHE_SIZE = 512

_CURRENT: ContextVar[Deadline | None] = ContextVar("outguard_pattern_deadline", default=None)

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
_REPEATS |= {getattr(sre_constants, "POSSESSIVE_REPEAT", sre_constants.MAX_REPEAT)}


class UnsafePattern(OutguardError, ValueError):
    """A pattern refused before compiling: invalid, too long, or unrolling into too much."""


@contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[None]:
    """Patterns searched inside this block (in this thread) run under `deadline`."""
    token = _CURRENT.set(deadline)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def active() -> bool:
    """True inside `deadline_scope`: the caller is one of our checks, not another user of jsonschema."""
    return _CURRENT.get() is not None


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """The compiled pattern, or UnsafePattern saying why it is refused."""
    compiled = _compile(pattern)
    if isinstance(compiled, str):
        raise UnsafePattern(compiled)
    return compiled


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` occurs in `text`, under the current scope's deadline (none outside a scope)."""
    compiled = compile_pattern(pattern)
    deadline = _CURRENT.get()
    timeout = None
    if deadline is not None:
        deadline.check()
        timeout = deadline.remaining()
    try:
        return compiled.search(text, timeout=timeout) is not None
    except TimeoutError as exc:
        raise DeadlineExceeded(f"pattern {pattern[:60]!r} ran past the check's deadline") from exc


@lru_cache(maxsize=CACHE_SIZE)
def _compile(pattern: str) -> regex.Pattern[str] | str:
    """A compiled pattern, or the reason it is refused (cached too: a refused pattern costs one lookup)."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"pattern is {len(pattern)} characters long; at most {MAX_PATTERN_CHARS} are compiled"
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        return f"invalid regular expression: {exc}"
    except RecursionError:
        return "pattern nests too deeply"
    size = unrolled_size(parsed, MAX_UNROLLED)
    if size > MAX_UNROLLED:
        return (
            f"pattern unrolls into more than {MAX_UNROLLED} items (repeat counts multiply when nested); "
            "use open-ended repeats like + or {n,} instead of large fixed counts"
        )
    try:
        return regex.compile(pattern)
    except (regex.error, RecursionError, OverflowError) as exc:
        return f"invalid regular expression: {exc}"


def unrolled_size(parsed: Any, limit: int) -> int:
    """How many items compiling `parsed` (an sre_parse SubPattern) may unroll into; stops counting past `limit`."""
    total = 0
    stack: list[tuple[Any, int]] = [(parsed, 1)]
    while stack:
        sub, weight = stack.pop()
        for op, av in sub.data if hasattr(sub, "data") else sub:
            total += weight
            if total > limit:
                return total
            for child, factor in _children(op, av):
                stack.append((child, weight * factor))
    return total


def _children(op: Any, av: Any) -> list[tuple[Any, int]]:
    """The sub-patterns of one parsed item, each with how many times compiling repeats it."""
    if op in _REPEATS:
        lo, _hi, body = av
        return [(body, max(int(lo), 1))]
    if op is sre_constants.SUBPATTERN:
        return [(av[-1], 1)]
    if op is sre_constants.BRANCH:
        return [(b, 1) for b in av[1]]
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [(av[1], 1)]
    if op is getattr(sre_constants, "ATOMIC_GROUP", None):
        return [(av, 1)]
    if op is sre_constants.GROUPREF_EXISTS:
        return [(b, 1) for b in av[1:] if b is not None]
    return []
