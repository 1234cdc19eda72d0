"""Cache keys: what identifies a validation's result, hashed so that no key can stand for another.

A key is derived from length-prefixed parts (so no two part lists hash alike by shifting a separator) into two
values: `id`, the lookup id a store indexes, and `secret`, the key the shared tier encrypts the entry with. Both
come from the same material by separate hashes, so a database reader who has the id cannot derive the secret:
only a caller holding the very output, context and policy can read what it cached.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardrails.context import Context
    from guardrails.engine import Engine
    from guardrails.rules.compile import CompiledPolicy

_FORMAT = b"outguard-cache-key-1"
_HASH_FILE_MAX = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CacheKey:
    id: str
    """Hex lookup id (64 characters): what the stores index."""
    secret: bytes
    """32 bytes the shared tier encrypts the entry with; never stored."""


def derive(namespace: str, parts: Iterable[bytes | str]) -> CacheKey:
    h = hashlib.sha256(_FORMAT)
    for part in (namespace, *parts):
        raw = part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)
    material = h.digest()
    return CacheKey(
        id=hashlib.sha256(b"id\0" + material).hexdigest(),
        secret=hashlib.sha256(b"secret\0" + material).digest(),
    )


@lru_cache(maxsize=1)
def code_digest() -> str:
    """outguard's own code: a replica running other code never reads results this one cached (or back)."""
    from importlib import metadata

    try:
        version = metadata.version("outguard")
    except metadata.PackageNotFoundError:
        version = "unknown"
    h = hashlib.sha256(f"outguard {version}".encode())
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _file_digest(path: Path) -> bytes:
    st = path.stat()
    if st.st_size > _HASH_FILE_MAX:  # a model or data file this large is identified by size and time
        return f"{st.st_size}:{st.st_mtime_ns}".encode()
    return hashlib.sha256(path.read_bytes()).digest()


def _tree_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        out.extend(Path(folder) / f for f in sorted(files) if not f.startswith("."))
    return out


def policy_fingerprint(compiled: CompiledPolicy) -> str:
    """What identifies a compiled policy's results: its version (the policy plus its effective rules), its source,
    and the bytes of every file in its rules directories (the schemas, templates and lists rule params name
    live there, and their content is not in the version), plus outguard's own code."""
    h = hashlib.sha256(code_digest().encode())
    for line in (compiled.policy.name, compiled.version, compiled.source):
        h.update(line.encode("utf-8", "surrogatepass") + b"\0")
    roots = [Path(d) for d in compiled.rules_dirs]
    source = Path(compiled.source)
    files = [p for r in roots if r.is_dir() for p in _tree_files(r)]
    if source.is_file():
        files.append(source)
    for path in files:
        h.update(str(path).encode("utf-8", "surrogatepass") + b"\0")
        try:
            h.update(_file_digest(path))
        except OSError:
            h.update(b"unreadable")
    return h.hexdigest()


StateProbe = Callable[[], str]


def state_probes(compiled: CompiledPolicy) -> tuple[StateProbe, ...]:
    """The checks' `cache_state()` methods: state their results depend on beyond params and the call (the facts
    store's revision). One per check instance (rules sharing a check share its state)."""
    seen: dict[int, StateProbe] = {}
    for rule in compiled.rules:
        probe = getattr(rule.check, "cache_state", None)
        if callable(probe) and id(rule.check) not in seen:
            seen[id(rule.check)] = probe
    return tuple(seen.values())


class _SuppressionDigest:
    """A stable digest of a suppressor's set, recomputed only when the set object changes (a reload)."""

    def __init__(self) -> None:
        self._of: object = None
        self._digest = ""

    def __call__(self, keys: frozenset[tuple[str, str, str]]) -> str:
        if keys is not self._of:
            h = hashlib.sha256()
            for key in sorted(keys):
                h.update("\x1f".join(key).encode("utf-8", "surrogatepass") + b"\0")
            self._of, self._digest = keys, h.hexdigest()
        return self._digest


def suppression_reader(suppressor: object) -> Callable[[], str] | None:
    """How to name the suppressions an engine applies, or None when its suppressor cannot say (such an engine's
    results are not cached: a reviewer's false-positive mark must take effect at once)."""
    if suppressor is None:
        return lambda: ""
    digest = _SuppressionDigest()
    snapshot = getattr(suppressor, "snapshot", None)
    if callable(snapshot) and callable(suppressor):

        def current() -> str:
            # The review store's set refreshes (in the background) when it is called past its TTL, and a replica
            # serving only hits would never call it: ask once per key, so other replicas' marks reach this one.
            suppressor("", "", "")
            return digest(snapshot().keys)

        return current
    keys = getattr(suppressor, "keys", None)
    if isinstance(keys, frozenset):
        return lambda: digest(keys)
    return None


@dataclass(frozen=True)
class EngineKeying:
    """Everything about one engine that goes into its results' keys, computed once per engine."""

    fingerprint: str
    probes: tuple[StateProbe, ...]
    suppressions: Callable[[], str]

    @classmethod
    def of(cls, engine: Engine) -> EngineKeying | None:
        suppressions = suppression_reader(engine.suppressor)
        if suppressions is None:
            return None
        return cls(policy_fingerprint(engine.compiled), state_probes(engine.compiled), suppressions)

    def key(self, output: str, ctx: Context, scope: str, today: dt.date | None = None) -> CacheKey:
        """The key of validating `output` in `ctx` for `scope` now. Raises what a state probe raises (the facts
        store is down): the caller then validates without the cache, and the check fails closed."""
        # The request id names the call, not what is checked: no check reads it, and the report does not hold it.
        context = (
            b""
            if ctx.model_fields_set <= {"request_id"}
            else ctx.model_dump_json(by_alias=True, exclude={"request_id"}).encode("utf-8", "surrogatepass")
        )
        state: Sequence[Any] = [probe() for probe in self.probes]
        return derive(
            "results",
            [
                scope,
                self.fingerprint,
                # Checks default their reference date to today: a result holds for the day it was made.
                (today or dt.date.today()).isoformat(),
                self.suppressions(),
                "\x1f".join(state),
                context,
                output,
            ],
        )
