"""One Hyperscan pass that tells which of a policy's regex patterns can match a text at all.

The `regex` module tries each pattern at every character, one pattern after another: a policy of a dozen
secret patterns pays a dozen scans of every output, though most outputs hold none. Hyperscan compiles all
of them into one automaton and walks the text once. It runs in prefilter mode (HS_FLAG_PREFILTER): what it
cannot express (lookarounds, possessive quantifiers, back-references) is relaxed so that it matches a
superset of what the pattern matches. So its answer is only "pattern k may match here"; a pattern with no
candidate is skipped, and every candidate is confirmed, span and all, by the `regex` module, whose semantics
stay the reference. A pattern Hyperscan refuses, or one it would take long to compile, stays on the plain
path (always run), so the set only ever removes work, never findings.

Hyperscan walks UTF-8 bytes: a text that is not valid UTF-8 (lone surrogates, which the engine replaces
before any check runs, but a check built by hand may see) is not scanned and every pattern runs.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import regex


@functools.cache
def _hyperscan() -> ModuleType | None:
    """The hyperscan module (the `fast` extra), imported on first use: ~35 ms that a policy without regex
    rules never pays. Without it every pattern runs as before."""
    try:
        import hyperscan
    except ImportError:  # pragma: no cover - exercised where the extra is not installed
        return None
    return hyperscan


# Patterns longer than this stay on the plain path: Hyperscan's compile time grows steeply with large
# alternations under Unicode case folding (tens of seconds for a 700-character prose pattern, measured),
# and the policy compiles at start-up. The long prose patterns carry anchors (an Aho-Corasick prefilter) anyway.
MAX_PATTERN_CHARS = 400

_UNICODE_ESCAPE = regex.compile(r"(?<!\\)((?:\\\\)*)\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))")
_NAMED_CHAR = regex.compile(r"(?<!\\)(?:\\\\)*\\N\{")


def _hyperscan_syntax(pattern: str) -> str | None:
    """The pattern in Hyperscan's (PCRE) syntax, or None when a construct would need a real translation."""
    if _NAMED_CHAR.search(pattern):
        return None
    return _UNICODE_ESCAPE.sub(lambda m: m.group(1) + "\\x{" + (m.group(2) or m.group(3)) + "}", pattern)


def _flags(hyperscan: Any, regex_flags: int) -> int:
    flags: int = (
        hyperscan.HS_FLAG_UTF8
        | hyperscan.HS_FLAG_UCP
        | hyperscan.HS_FLAG_PREFILTER
        | hyperscan.HS_FLAG_SINGLEMATCH
        | hyperscan.HS_FLAG_ALLOWEMPTY
    )
    if regex_flags & regex.IGNORECASE:
        flags |= hyperscan.HS_FLAG_CASELESS
    if regex_flags & regex.MULTILINE:
        flags |= hyperscan.HS_FLAG_MULTILINE
    if regex_flags & regex.DOTALL:
        flags |= hyperscan.HS_FLAG_DOTALL
    return flags


class PatternSet:
    """Patterns (with `regex` flags) compiled into one Hyperscan database; `candidates(text)` scans once.

    `scanned[k]` says whether pattern k is in the database. Patterns that are not always count as
    candidates, so callers need not tell the two apart."""

    def __init__(self, patterns: Sequence[tuple[str, int]]) -> None:
        self.size = len(patterns)
        self.scanned: tuple[bool, ...] = (False,) * self.size
        self._db: Any = None
        self._local = threading.local()
        hyperscan = _hyperscan() if patterns else None
        if hyperscan is None:
            return
        self._hs = hyperscan
        accepted: list[tuple[bytes, int, int]] = []
        for k, (pattern, flags) in enumerate(patterns):
            expr = self._expression(pattern, flags)
            if expr is not None:
                accepted.append((expr, k, _flags(hyperscan, flags)))
        db = _compiled(hyperscan, accepted)
        if db is None:
            # Some pattern is refused: find which one at a time (compiles cost tens of ms each, so only now),
            # and compile the others without it.
            accepted = [a for a in accepted if _compiled(hyperscan, [a]) is not None]
            db = _compiled(hyperscan, accepted)
        if db is None:
            return
        self._db = db
        ids = {k for _, k, _ in accepted}
        self.scanned = tuple(k in ids for k in range(self.size))
        self._always = frozenset(k for k in range(self.size) if k not in ids)

    @staticmethod
    def _expression(pattern: str, flags: int) -> bytes | None:
        """The pattern in Hyperscan's syntax, or None when it stays on the plain path."""
        if len(pattern) > MAX_PATTERN_CHARS:
            return None
        text = _hyperscan_syntax(pattern)
        if text is None:
            return None
        if flags & regex.VERBOSE:
            text = "(?x)" + text
        return text.encode("utf-8")

    @property
    def active(self) -> bool:
        return self._db is not None

    def candidates(self, text: str) -> frozenset[int] | None:
        """Indexes of the patterns that may match `text` (plus those never scanned); None: all may."""
        db = self._db
        if db is None:
            return None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return None
        found: set[int] = set(self._always)
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            # One scratch per thread: a scratch in use by another thread's scan makes Hyperscan refuse.
            scratch = self._local.scratch = self._hs.Scratch(db)
        db.scan(data, match_event_handler=_collect, context=found, scratch=scratch)
        return frozenset(found)


def _compiled(hyperscan: Any, accepted: list[tuple[bytes, int, int]]) -> Any:
    """One database of (expression, id, flags), or None when there is none or Hyperscan refuses one of them."""
    if not accepted:
        return None
    return _compiled_once(hyperscan, tuple(accepted))


# A compile costs tens of milliseconds (hundreds on a busy machine), and the same policy is compiled again by every
# engine a process builds (a sidecar's policies, batch workers, tests). A compiled database is read-only and its
# scans use per-thread scratch, so engines can share it.
@functools.lru_cache(maxsize=128)
def _compiled_once(hyperscan: Any, accepted: tuple[tuple[bytes, int, int], ...]) -> Any:
    db = hyperscan.Database()
    try:
        db.compile(
            expressions=[e for e, _, _ in accepted],
            ids=[k for _, k, _ in accepted],
            elements=len(accepted),
            flags=[f for _, _, f in accepted],
        )
    except hyperscan.error:
        return None
    return db


def _collect(pattern_id: int, _start: int, _end: int, _flags: int, found: set[int]) -> None:
    found.add(pattern_id)
