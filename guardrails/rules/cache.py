"""The loaded-rules cache on disk: what remains expensive to build at start and is safe to reuse.

Measured after the import fixes (issue 15): of the `default` policy's ~1.3 s cold start, parsing and
validating the rule files (YAML through a pure-Python SafeLoader, then pydantic) takes ~0.17 s, and
unpickling the same RuleSet ~5 ms. The rest is imports and compiling regular expressions, which no
cache can keep (a compiled pattern pickles as its source and compiles again on load). So this caches
the RuleSet, nothing else: no check instance, nothing a caller sent.

- Key: the cache format, Python, outguard's and pydantic's versions, the bytes of the modules that
  read rules, the OUTGUARD_* environment (file limits decide what loads), and every rule and policy
  file (path and SHA-256 of its bytes). A changed file, version
  or loader makes another key: a stale entry is never read, only replaced.
- Integrity: the file holds a SHA-256 of its payload, checked before anything is unpickled; the cache
  is written only by this process (atomically, in a 0700 directory) and read only when the file and
  its directory belong to the current user and nobody else may write them.
- Where: `$OUTGUARD_CACHE_DIR`, else `$XDG_CACHE_HOME/outguard`, else `~/.cache/outguard`.
- Off: `OUTGUARD_POLICY_CACHE=0` (also `false`, `no`, `off`). Any cache problem falls back to loading.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardrails.rules.loader import RuleSet

CACHE_ENV = "OUTGUARD_POLICY_CACHE"
DIR_ENV = "OUTGUARD_CACHE_DIR"
_FORMAT = b"outguard-ruleset-cache-1\n"
_DIGEST = hashlib.sha256().digest_size
_MAX_FILE_BYTES = 64 * 1024 * 1024


def enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def cache_dir() -> Path:
    explicit = os.environ.get(DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "outguard"


def _versions() -> list[str]:
    from importlib import metadata

    import pydantic

    try:
        ours = metadata.version("outguard")
    except metadata.PackageNotFoundError:
        ours = "unknown"
    return [f"python {sys.version}", f"outguard {ours}", f"pydantic {pydantic.VERSION}"]


def _loader_sources() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here / "loader.py", here / "model.py", here / "errors.py", here.parent / "checks" / "_rulefiles.py"]


def _rule_files(dirs: Sequence[Path]) -> list[Path] | None:
    """Every file the loader would read, in its order; None when one is not a regular file (the loader
    reports it, or reads it under its own limits: not something to hash here)."""
    out: list[Path] = []
    for directory in dirs:
        for folder in (directory, directory / "policies"):
            if not folder.is_dir():
                continue
            for path in sorted(p for p in folder.glob("*.y*ml") if p.suffix in {".yaml", ".yml"}):
                try:
                    st = path.stat()
                except OSError:
                    return None
                if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_FILE_BYTES:
                    return None
                out.append(path)
    return out


def cache_key(dirs: Sequence[Path]) -> str | None:
    files = _rule_files(dirs)
    if files is None:
        return None
    h = hashlib.sha256(_FORMAT)
    if not all(d.is_absolute() for d in dirs):
        h.update(f"cwd {Path.cwd()}".encode("utf-8", "surrogateescape") + b"\0")  # relative paths are kept as given
    for line in _versions():
        h.update(line.encode() + b"\0")
    for name, value in sorted(os.environ.items()):  # e.g. OUTGUARD_RULE_FILE_MAX_BYTES decides what loads
        if name.startswith("OUTGUARD_") and name not in {CACHE_ENV, DIR_ENV}:
            h.update(f"{name}={value}".encode("utf-8", "surrogateescape") + b"\0")
    try:
        for path in [*_loader_sources(), *files]:
            h.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    except OSError:
        return None
    return h.hexdigest()


def _private(path: Path, st: os.stat_result) -> bool:
    """Owned by us and writable by nobody else (where the platform has owners)."""
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read_checked(path: Path, fmt: bytes) -> bytes | None:
    """The payload of a file this module's writer made (`fmt`, its SHA-256, the payload), or None when it is
    missing, too large, not private, torn or tampered with."""
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_FILE_BYTES:
                return None
            if not _private(path, st) or not _private(path.parent, path.parent.stat()):
                return None
            blob = fh.read(_MAX_FILE_BYTES + 1)
    except OSError:
        return None
    head = len(fmt)
    if not blob.startswith(fmt) or len(blob) < head + _DIGEST:
        return None
    digest, payload = blob[head : head + _DIGEST], blob[head + _DIGEST :]
    if hashlib.sha256(payload).digest() != digest:
        return None  # torn or tampered: rebuilt
    return payload


def write_checked(path: Path, fmt: bytes, payload: bytes) -> None:
    """Write `fmt`, the payload's SHA-256 and the payload atomically in a private directory (silently not at all
    when that cannot be done: a cache that cannot be written is no cache, not an error)."""
    if len(payload) > _MAX_FILE_BYTES:
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(path.parent, path.parent.stat()):
            return
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ruleset-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(fmt + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return


def _read(path: Path) -> RuleSet | None:
    payload = read_checked(path, _FORMAT)
    if payload is None:
        return None
    from guardrails.rules.loader import RuleSet

    try:
        # Written by this code for this key (checked above): the payload is a RuleSet we pickled ourselves.
        value = pickle.loads(payload)
    except Exception:
        return None
    return value if isinstance(value, RuleSet) else None


def _write(path: Path, ruleset: RuleSet) -> None:
    try:
        payload = pickle.dumps(ruleset, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return  # a cache that cannot be written is no cache, not an error
    write_checked(path, _FORMAT, payload)


def load_cached(dirs: Sequence[Path], load: Callable[[], RuleSet]) -> RuleSet:
    """The RuleSet of `dirs` from the cache when a valid entry exists, else `load()` (then cached)."""
    if not enabled():
        return load()
    key = cache_key(dirs)
    if key is None:
        return load()
    path = cache_dir() / f"ruleset-{key[:40]}.pickle"
    found = _read(path)
    if found is not None:
        return found
    ruleset = load()
    _write(path, ruleset)
    _prune(path)
    return ruleset


_KEEP = 16


def _prune(written: Path) -> None:
    """Keep the most recent entries: each edit of a rule file leaves one stale entry behind."""
    try:
        entries = sorted(written.parent.glob("ruleset-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[_KEEP:]:
            if old != written:
                old.unlink(missing_ok=True)
    except OSError:
        return
