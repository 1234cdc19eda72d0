"""Compiled `regex` patterns kept on disk, so a policy's compile does not parse them again in every process.

The `regex` module parses, optimises and encodes a pattern in Python and only then builds it in C: for presidio's
four URL patterns 0.081 s of CPU, 0.004 s of it in C (measured, issue 15). A compiled Pattern carries the
arguments of that C constructor (`_pickled_data`: the opcodes as bytes, group tables, required string), which is
what `regex` itself pickles a pattern as. So while a policy compiles (`compiled_patterns()`), `regex`'s internal
`_compile` is wrapped: a pattern found in the store is built from its arguments by `regex._regex.compile` and
registered in `regex`'s own cache (the same object a later `regex.compile` or `regex.search` of it returns), one
not found is compiled as usual and its arguments are kept. The Pattern is the one `regex` would build: same
constructor, same arguments (a parity test compares every bundled rule example with the store on and off).

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
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import regex

from guardrails.rules import cache

# regex's internals (its compile, caches and C constructor), which its type stubs do not describe.
_regex_main: Any = importlib.import_module("regex._main")

_FORMAT = b"outguard-regex-patterns-1\n"
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


def _path() -> Any:
    versions = f"python {sys.version}\0regex {getattr(regex, '__version__', '?')}".encode()
    return cache.cache_dir() / f"regex-{hashlib.sha256(_FORMAT + versions).hexdigest()[:40]}.marshal"


def _load() -> dict[_Key, tuple[Any, ...]]:
    payload = cache.read_checked(_path(), _FORMAT)
    if payload is None:
        return {}
    try:
        value = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


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
    if isinstance(data, tuple) and len(_known) + len(_added) < _MAX_ENTRIES:
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
            _known.clear()
            _known.update(_load())
            _original = _regex_main._compile
            _regex_main._compile = _compile
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _regex_main._compile = _original
                _original = None
                if _added:
                    merged = {**_load(), **_added}
                    _added.clear()
                    with contextlib.suppress(ValueError):  # marshal refuses a value: no store this time
                        cache.write_checked(_path(), _FORMAT, marshal.dumps(merged))
                _known.clear()
