"""Compiled `regex` patterns kept on disk, so a policy's compile does not parse them again in every process.

The `regex` module parses, optimises and encodes a pattern in Python and only then builds it in C: for presidio's
four URL patterns 0.081 s of CPU, 0.004 s of it in C (measured, issue 15). A compiled Pattern carries the
arguments of that C constructor (`_pickled_data`: the opcodes as bytes, group tables, required string), which is
what `regex` itself pickles a pattern as. So while a policy compiles (`compiled_patterns()`), `regex`'s internal
`_compile` is wrapped: a pattern found in the store is built from its arguments by `regex._regex.compile` and
registered in `regex`'s own cache (the same object a later `regex.compile` or `regex.search` of it returns), one
not found is compiled as usual and its arguments are kept. The Pattern is the one `regex` would build: same
constructor, same arguments (a parity test compares every bundled rule example with the store on and off).

The standard library's `re` parses in Python as well: `re_compile` does the same for the patterns a check
compiles with it (phonenumbers' validity patterns in the PII check: one alternation of ~14,500 characters for
calling code 1), from the arguments of `_sre.compile`, which checks the code it is given. `derived` keeps plain
values read from a parsed pattern (the PII driver's required literals).

- Key: the store's format, Python's and `regex`'s versions (file name); each entry by pattern, flags and
  `regex.DEFAULT_VERSION`. Patterns with named lists, bytes patterns and locale-dependent ones (the LOCALE
  flag or an inline `(?L)`) are never stored.
- Integrity and place: as the rules cache (guardrails/rules/cache.py): a SHA-256 of the payload checked before
  it is read, a private directory, atomic writes; `marshal`, plain data, not pickle. Any problem: compiled as usual.
- Off with `OUTGUARD_POLICY_CACHE=0`, like the rules cache. Outside a policy's compile nothing is wrapped.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import marshal
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import regex

from guardrails.checks import _patterns
from guardrails.rules import cache

# regex's internals (its compile, caches and C constructor), which its type stubs do not describe.
_regex_main: Any = importlib.import_module("regex._main")
# The standard library's: its parser, code generator and C constructor (what re._compiler.compile uses).
_re_parser: Any = importlib.import_module("re._parser")
_re_compiler: Any = importlib.import_module("re._compiler")
_sre: Any = importlib.import_module("_sre")

T = TypeVar("T")

_FORMAT = b"outguard-compiled-patterns-2\n"
# A store is read whole at the start of a compile: past this many entries (a process compiling generated
# patterns without end) nothing more is added.
_MAX_ENTRIES = 20_000
_UNSTORED_FLAGS = regex.LOCALE | regex.DEBUG

_Key = tuple[str, int, int]

_lock = threading.Lock()
_depth = 0
_original: Any = None
_known: dict[_Key, tuple[Any, ...]] = {}
_added: dict[_Key, tuple[Any, ...]] = {}
# The same for the standard library's `re` (its parser is Python too: phonenumbers' validity patterns), by
# (pattern, flags): the arguments of `_sre.compile`.
_known_re: dict[tuple[str, int], tuple[Any, ...]] = {}
_added_re: dict[tuple[str, int], tuple[Any, ...]] = {}
# Values derived from a pattern by parsing it (the PII driver's required literals), by (what, pattern, flags).
_known_derived: dict[tuple[str, str, int], Any] = {}
_added_derived: dict[tuple[str, str, int], Any] = {}


def _path() -> Path:
    versions = f"python {sys.version}\0regex {getattr(regex, '__version__', '?')}".encode()
    return cache.cache_dir() / f"regex-{hashlib.sha256(_FORMAT + versions).hexdigest()[:40]}.marshal"


_TABLES = ("regex", "re", "derived")


def _load() -> dict[str, dict[Any, Any]]:
    empty: dict[str, dict[Any, Any]] = {name: {} for name in _TABLES}
    payload = cache.read_checked(_path(), _FORMAT)
    if payload is None:
        return empty
    try:
        value = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return empty
    if not isinstance(value, dict) or not all(isinstance(value.get(name), dict) for name in _TABLES):
        return empty
    return value


def _register(pattern: str, flags: int, version: int, compiled: Any) -> None:
    """What `regex._compile` records for a pattern it compiled, so its later compiles and searches find it."""
    with _regex_main._cache_lock:
        if len(_regex_main._cache) >= _regex_main._MAXCACHE:
            _regex_main._shrink_cache(
                _regex_main._cache, _regex_main._named_args, _regex_main._locale_sensitive, _regex_main._MAXCACHE
            )
        _regex_main._locale_sensitive[(str, pattern)] = False
        _regex_main._named_args[(pattern, str, flags)] = frozenset()
        _regex_main._cache[(pattern, str, flags, frozenset(), version, None)] = compiled


def _compile(pattern: Any, flags: int, ignore_unused: bool, kwargs: dict[str, Any], cache_it: bool) -> Any:
    original = _original
    if kwargs or type(pattern) is not str or flags & _UNSTORED_FLAGS or original is None:
        return (original or _regex_main._compile)(pattern, flags, ignore_unused, kwargs, cache_it)
    version = regex.DEFAULT_VERSION
    key = (pattern, int(flags), int(version))  # plain ints: marshal refuses enum members
    if not _regex_main._locale_sensitive.get((str, pattern), True):
        found = _regex_main._cache.get((pattern, str, flags, frozenset(), version, None))
        if found is not None:
            # Compiled in this process already: regex's own cache, as without the store (and kept for the next).
            if key not in _known:
                _keep(key, found)
            return found
    data = _known.get(key)
    if data is not None:
        try:
            compiled = _regex_main._regex.compile(*data)
        except Exception:  # a bad entry is compiled again, never an error
            _known.pop(key, None)
        else:
            if cache_it:
                _register(pattern, flags, version, compiled)
            return compiled
    compiled = original(pattern, flags, ignore_unused, kwargs, cache_it)
    if not _regex_main._locale_sensitive.get((str, pattern), True):
        _keep(key, compiled)
    return compiled


def _keep(key: _Key, compiled: Any) -> None:
    data = getattr(compiled, "_pickled_data", None)
    if isinstance(data, tuple) and _room():
        _added[key] = data


@contextmanager
def compiled_patterns() -> Iterator[None]:
    """While a policy compiles: `regex` patterns come from the store and new ones join it (written at the end)."""
    global _depth, _original
    if not cache.enabled() or not hasattr(_regex_main, "_compile"):
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            stored = _load()
            _known.update(stored["regex"])
            _known_re.update(stored["re"])
            _known_derived.update(stored["derived"])
            _original = _regex_main._compile
            _regex_main._compile = _compile
            _patterns.store = _STORE
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _patterns.store = None
                _regex_main._compile = _original
                _original = None
                _flush()


def _flush() -> None:
    """Write what this compile added (merged with what another process may have written since), then forget."""
    added = {"regex": dict(_added), "re": dict(_added_re), "derived": dict(_added_derived)}
    for table in (_known, _added, _known_re, _added_re, _known_derived, _added_derived):
        table.clear()
    if any(added.values()):
        merged = _load()
        for name, entries in added.items():
            merged[name].update(entries)
        with contextlib.suppress(ValueError):  # marshal refuses a value: no store this time
            cache.write_checked(_path(), _FORMAT, marshal.dumps(merged))
        _prune(_path())


def _prune(current: Path) -> None:
    """Stores of other Python or `regex` versions (or formats) are never read again."""
    with contextlib.suppress(OSError):
        for old in current.parent.glob("regex-*.marshal"):
            if old != current:
                old.unlink(missing_ok=True)


def _room() -> bool:
    return len(_known) + len(_added) + len(_known_re) + len(_added_re) + len(_added_derived) < _MAX_ENTRIES


def re_compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile(pattern, flags)`; while a policy compiles (checks call it through checks/_patterns.py), built
    from the store's `_sre.compile` arguments when another process parsed the pattern already (an equal
    Pattern: same pattern, flags and code)."""
    if _depth == 0 or flags & re.DEBUG:
        return re.compile(pattern, flags)
    key = (pattern, int(flags))
    args = _known_re.get(key)
    if args is not None:
        try:
            built: re.Pattern[str] = _sre.compile(*args)
        except Exception:  # a bad entry is compiled again, never an error
            _known_re.pop(key, None)
        else:
            return built
    # What re._compiler.compile does, keeping the arguments it hands to _sre.compile.
    parsed = _re_parser.parse(pattern, flags)
    code = _re_compiler._code(parsed, flags)
    groupindex = parsed.state.groupdict
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    # Plain ints: the opcodes are named int constants and the flags enum members, which marshal refuses.
    plain = [int(c) for c in code]
    groups = parsed.state.groups - 1
    args = (pattern, int(flags | parsed.state.flags), plain, groups, dict(groupindex), tuple(indexgroup))
    compiled: re.Pattern[str] = _sre.compile(*args)
    if _room():
        _added_re[key] = args
    return compiled


def derived(what: str, pattern: str, flags: int, build: Callable[[], T]) -> T:
    """`build()`, a value read from a pattern by parsing it (plain data), kept in the store by (what, pattern,
    flags) while a policy compiles."""
    if _depth == 0:
        return build()
    key = (what, pattern, int(flags))
    if key in _known_derived:
        found: T = _known_derived[key]
        return found
    value = build()
    if _room():
        _added_derived[key] = value
    return value


class _Store:
    """This module as checks/_patterns.py's `Store`."""

    re_compile = staticmethod(re_compile)
    derived = staticmethod(derived)


_STORE = _Store()
