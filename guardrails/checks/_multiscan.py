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

Exact starts. Prefilter mode says only whether a pattern may match, so the `regex` module still walks the whole
text for it (an e-mail pattern opening with `[A-Za-z0-9._%+-]+` retries at every letter: most of a regex pack's
time). Patterns written in the syntax both engines read alike (printable ASCII; no lookarounds, inline flags,
back-references, POSIX classes or escapes beyond \\d \\w \\s \\b and punctuation; not verbose) are also compiled
exactly, with Hyperscan's leftmost start of match, into a second database that is scanned instead of the first
when the text is printable ASCII (where \\d, \\w, \\s, \\b and case folding mean the same in both engines). Every
match `regex` finds then has a report ending where it ends, whose start is at or before its own; so from any
offset, the smallest reported start among the reports ending past it bounds where the next match can begin,
and `regex` searches from there (`Scan.start_bound`): the same matches, without the walk. A pattern without
such a report after an offset has no match after it.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
from collections.abc import Callable, Sequence
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


def _flags(hyperscan: Any, regex_flags: int, *, exact: bool = False, ucp: bool = True) -> int:
    if exact:
        flags: int = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SOM_LEFTMOST
    else:
        flags = (
            hyperscan.HS_FLAG_UTF8
            | hyperscan.HS_FLAG_PREFILTER
            | hyperscan.HS_FLAG_SINGLEMATCH
            | hyperscan.HS_FLAG_ALLOWEMPTY
        )
        if ucp:
            flags |= hyperscan.HS_FLAG_UCP
    if regex_flags & regex.IGNORECASE:
        flags |= hyperscan.HS_FLAG_CASELESS
    if regex_flags & regex.MULTILINE:
        flags |= hyperscan.HS_FLAG_MULTILINE
    if regex_flags & regex.DOTALL:
        flags |= hyperscan.HS_FLAG_DOTALL
    return flags


# One token of a pattern: an escape, a group opening with its first character, `{,`, a POSIX class, or a character.
_TOKEN = regex.compile(r"\\(.)|\(\?(.?)|(\{,)|(\[:\^?[a-z]+:\])|(.)", regex.DOTALL)
# Escapes that mean the same to `regex` and Hyperscan on printable ASCII text (and what ASCII-only means below).
_SAME_ESCAPES = frozenset("dDwWsSbBtnrfv")
_PRINTABLE = regex.compile(r"[\t\n\x20-\x7e]*")
# What keeps a text from being one both engines read alike: anything but printable ASCII, tab, newline and carriage
# return (\x1c-\x1f, for one, is whitespace to `regex`'s \s and not to Hyperscan's). `re`: one pass in C.
_NOT_PLAIN = re.compile(r"[^\t\n\r\x20-\x7e]")


def _ascii_only(pattern: str, flags: int) -> bool:
    """True when the pattern can be compiled without Unicode properties for printable ASCII text: printable ASCII
    itself, no escape that names a code point or a property (case folding of one could reach an ASCII letter)."""
    if flags & regex.VERBOSE or not _PRINTABLE.fullmatch(pattern):
        return False
    return not any(
        m.group(1) is not None and m.group(1).isalnum() and m.group(1) not in _SAME_ESCAPES
        for m in _TOKEN.finditer(pattern)
    )


def _exact_syntax(pattern: str, flags: int) -> bool:
    """True when `regex` and Hyperscan (UTF-8, no UCP) give the same matches of the pattern on printable ASCII:
    ASCII-only, and no construct whose meaning differs or that Hyperscan only approximates (groups other than
    `(?:`, `{,n}`, POSIX classes)."""
    if not _ascii_only(pattern, flags):
        return False
    for m in _TOKEN.finditer(pattern):
        if m.group(2) is not None and m.group(2) != ":":
            return False
        if m.group(3) is not None or m.group(4) is not None:
            return False
    return True


# A repeat without bound at the end of a pattern: `+` or `{n,}`, lazy or not, after its last atom.
_TAIL_REPEAT = regex.compile(r"(?:(?<!\\)(?:\\\\)*)(?:(\+)|\{(\d+),\})\??$")


def _start_pattern(pattern: str) -> str:
    r"""A pattern that matches, from the start of every match of `pattern`, a non-empty part of it: `pattern` with
    the unbounded repeat at its end cut to its minimum (`https?://[^\s]+` -> `https?://[^\s]`, `x{2,}` -> `x{2}`;
    only the quantifier's text changes, whatever the atom before it). Its reports bound the starts as well, and
    there are far fewer of them (a link is reported once, not at each of its characters). Unchanged with an
    alternation anywhere (the repeat may close one branch only) or an escaped quantifier."""
    m = None if "|" in pattern else _TAIL_REPEAT.search(pattern)
    if m is None or m.start() == 0:
        return pattern
    head = pattern[: m.start(1) if m.group(1) is not None else m.start(2) - 1]
    return head if m.group(1) is not None else f"{head}{{{m.group(2)}}}"


class Scan:
    """What one scan of a text found: `found`, the patterns that may match it (plus those never scanned), and for
    the patterns scanned exactly, their reports (end, leftmost start) for `start_bound`."""

    __slots__ = ("_exact", "_reports", "found")

    def __init__(
        self,
        found: frozenset[int],
        exact: frozenset[int] = frozenset(),
        reports: dict[int, tuple[list[int], list[int]]] | None = None,
    ) -> None:
        self.found = found
        self._exact = exact
        self._reports = reports or {}

    def exact(self, k: int) -> bool:
        """True when pattern k was scanned exactly on this text (so `start_bound` applies)."""
        return k in self._exact

    def start_bound(self, k: int, pos: int) -> int | None:
        """For an exactly scanned pattern k: an offset at or before the start of its first non-empty match that
        starts at or after `pos` (never below `pos`); None when it has none."""
        reports = self._reports.get(k)
        if reports is None:
            return None
        ends, least_start = reports
        i = bisect.bisect_right(ends, pos)
        if i == len(ends):
            return None
        return max(pos, least_start[i])


def _exact_reports(starts: list[int], ends: list[int]) -> tuple[list[int], list[int]]:
    """(ends ascending, the least start among the reports from each one on) of one pattern's reports."""
    for i in range(len(starts) - 2, -1, -1):
        if ends[i] > ends[i + 1]:
            # Hyperscan reports in order of end; nothing here depends on it.
            pairs = sorted(zip(ends, starts, strict=True))
            return _exact_reports([s for _, s in pairs], [e for e, _ in pairs])
        starts[i] = min(starts[i], starts[i + 1])
    return ends, starts


# Reports an exact scan may make before it stops (a pattern like `\w+` reports at every character; the bench
# corpus's five patterns make one per 16 characters): past this the prefilter database answers, as if the patterns
# were not scanned exactly.
def _report_budget(size: int) -> int:
    return 64 + size // 4


class PatternSet:
    """Patterns (with `regex` flags) compiled into one Hyperscan database; `candidates(text)` scans once.

    `scanned[k]` says whether pattern k is in the database, `exact[k]` whether it is also scanned exactly on
    printable ASCII text. Patterns that are not scanned always count as candidates, so callers need not tell the
    two apart."""

    def __init__(self, patterns: Sequence[tuple[str, int]]) -> None:
        self.size = len(patterns)
        self.scanned: tuple[bool, ...] = (False,) * self.size
        self.exact: tuple[bool, ...] = (False,) * self.size
        self._db: Any = None
        self._ascii_db: Any = None
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
        self._compile_ascii(hyperscan, patterns, accepted)

    def _compile_ascii(
        self, hyperscan: Any, patterns: Sequence[tuple[str, int]], accepted: list[tuple[bytes, int, int]]
    ) -> None:
        """The database for printable ASCII text: exact where the syntax allows, prefilter (without Unicode
        properties where the pattern is ASCII-only: they cost most of a compile) elsewhere."""
        exact = [k for _, k, _ in accepted if _exact_syntax(*patterns[k])]
        if not exact or 2 * len(exact) < len(accepted):
            # The second database compiles the other patterns again: for one exact pattern among prefiltered ones
            # (the `secrets` pack's Slack webhook beside ten with lookarounds) that is ~120 ms more at policy
            # compile for a few microseconds a scan.
            return
        chosen: list[tuple[bytes, int, int]] = []
        for expr, k, flags in accepted:
            pattern, regex_flags = patterns[k]
            if k in exact:
                start_expr = self._expression(_start_pattern(pattern), regex_flags) or expr
                chosen.append((start_expr, k, _flags(hyperscan, regex_flags, exact=True)))
            elif _ascii_only(pattern, regex_flags):
                chosen.append((expr, k, _flags(hyperscan, regex_flags, ucp=False)))
            else:
                chosen.append((expr, k, flags))
        db = _compiled(hyperscan, chosen)
        if db is None:
            # An exact compile refused (SOM on some repeats): those patterns stay prefiltered here.
            refused = {k for expr, k, f in chosen if k in exact and _compiled(hyperscan, [(expr, k, f)]) is None}
            exact = [k for k in exact if k not in refused]
            chosen = [c if c[1] not in refused else next(a for a in accepted if a[1] == c[1]) for c in chosen]
            db = _compiled(hyperscan, chosen) if exact else None
        if db is None:
            return
        self._ascii_db = db
        self._exact_ids = frozenset(exact)
        self.exact = tuple(k in self._exact_ids for k in range(self.size))

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
        scan = self.scan(text)
        return None if scan is None else scan.found

    def scan(self, text: str) -> Scan | None:
        """One pass over `text`: which patterns may match, and the exact reports where there are any; None when
        nothing was scanned (every pattern may match)."""
        if self._db is None:
            return None
        if self._ascii_db is not None and text.isascii() and _NOT_PLAIN.search(text) is None:
            exact = self._scan_exact(text.encode("ascii"))
            if exact is not None:
                return exact
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return None
        found: set[int] = set(self._always)
        self._hs_scan(self._db, "scratch", data, _collect, found)
        return Scan(frozenset(found))

    def _scan_exact(self, data: bytes) -> Scan | None:
        reports: list[tuple[int, int, int]] = []
        append = reports.append
        budget = _report_budget(len(data))

        def collect(pattern_id: int, start: int, end: int, _flags: int, _context: object) -> bool:
            append((pattern_id, start, end))
            return len(reports) > budget  # True stops the scan

        try:
            self._hs_scan(self._ascii_db, "ascii_scratch", data, collect, None)
        except self._hs.ScanTerminated:
            return None
        if not reports:
            return Scan(self._always, self._exact_ids)
        found = set(self._always)
        starts: dict[int, list[int]] = {}
        ends: dict[int, list[int]] = {}
        for k, start, end in reports:
            found.add(k)
            if k not in self._exact_ids:
                continue
            at = starts.get(k)
            if at is None:
                starts[k], ends[k] = [start], [end]
                continue
            to = ends[k]
            if at[-1] == start and to[-1] <= end:
                # The same start reaching further (a URL's every character): a bound for fewer offsets.
                to[-1] = end
            else:
                at.append(start)
                to.append(end)
        return Scan(frozenset(found), self._exact_ids, {k: _exact_reports(at, ends[k]) for k, at in starts.items()})

    def _hs_scan(self, db: Any, slot: str, data: bytes, handler: Callable[..., Any], context: object) -> None:
        scratch = getattr(self._local, slot, None)
        if scratch is None:
            # One scratch per thread and database: a scratch in use by another thread's scan makes Hyperscan
            # refuse.
            scratch = self._hs.Scratch(db)
            setattr(self._local, slot, scratch)
        db.scan(data, match_event_handler=handler, context=context, scratch=scratch)


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
