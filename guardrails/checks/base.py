"""The check protocol: one module per kind under guardrails/checks, heavy setup in __init__, pure run().

A check module named after its kind exposes `CHECK = TheCheckClass`. The engine never imports a check
module until a rule of that kind is loaded, so importing guardrails stays light (no torch, no presidio).
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from guardrails.checks._rulefiles import building_from as _building_from_files
from guardrails.checks._rulefiles import read_limited, rule_files
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Evidence, Fix, RegenerationItem


class CheckParams(BaseModel):
    """Base for every check's params: unknown keys fail at rule load with file, rule id and key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlineExceeded(Exception):
    """Raised by a check (or by `Deadline.check`) that has run past its deadline."""


class Deadline:
    """A cooperative deadline. Long loops call `check()`; regex calls pass `timeout=remaining()`."""

    __slots__ = ("at",)

    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else time.perf_counter() + seconds

    def remaining(self) -> float | None:
        if self.at is None:
            return None
        return max(0.0, self.at - time.perf_counter())

    def expired(self) -> bool:
        return self.at is not None and time.perf_counter() >= self.at

    def check(self) -> None:
        if self.expired():
            raise DeadlineExceeded("check ran past its deadline")


NO_DEADLINE = Deadline(None)


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a check's run() gets besides the document: the caller's context and its deadline."""

    context: Context
    deadline: Deadline = NO_DEADLINE


@dataclass(slots=True)
class Hit:
    """One thing a check found. The engine turns it into a Finding using the rule's code and message.

    `values` fill the rule's message template (`{matched}` is always available). `anchor` (a JSON
    pointer or element path) keeps the fingerprint stable when offsets shift.
    """

    start: int
    end: int
    values: dict[str, Any] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)
    fix: Fix | None = None
    pointer: str | None = None
    path: str | None = None
    regeneration: RegenerationItem | None = None
    message: str | None = None


class Check(ABC):
    """Subclasses set `kind` and `Params`, do heavy setup in __init__, and keep run() pure."""

    kind: ClassVar[str]
    Params: ClassVar[type[CheckParams]] = CheckParams
    # Plain attributes, not ClassVar: an instance may turn streaming off for params that need the whole text.
    streaming: bool = False
    """True when run() can judge any prefix of an output (the stream validator relies on it)."""
    lookbehind: int = 0
    """For streaming checks: how many characters before new text a match can start (hold-back window). With a
    `boundary`, counted back from the start of the unit still being written instead of from the end of the text."""
    boundary: Literal["token", "sentence", "paragraph"] | None = None
    """For streaming checks whose matches may be longer than `lookbehind` but never start before the unit still
    being written: a token (no whitespace, quote or angle bracket: a URL, an e-mail address, a secret value), a
    sentence, a paragraph. Text is settled for this check `lookbehind` characters before that unit's start."""
    rechecks: Literal["local", "whole"] = "whole"
    """After a repair: "local" when each hit depends only on the text within `lookbehind` characters of it, so
    the engine re-runs the check only around the edits; "whole" (the safe default) re-runs it on all the text."""

    def __init__(self, params: CheckParams) -> None:
        self.params = params

    @abstractmethod
    def run(self, doc: Document, ctx: RunContext) -> Iterable[Hit]:
        """Yield hits for this document. Must not mutate doc or ctx; may raise DeadlineExceeded."""

    def stream_lookbehind(self, context: Context) -> int | None:
        """The lookbehind for a stream under `context`; None when the check cannot flag anything under it (no
        system prompt, no canaries, nothing to cite against), so the stream validator neither waits for it nor
        runs it on prefixes."""
        return self.lookbehind

    def bind(self, siblings: Sequence[Check]) -> None:  # noqa: B027 - an optional hook, not abstract
        """Called once a policy is compiled, with all its checks: a check may share work with its siblings."""

    def regeneration_extras(self, context: Context | None = None) -> dict[str, Any]:
        """Schema or template a regeneration request should carry for this check (keys: schema, template).

        `context` is the call's context (the engine passes it; None when asked outside a validation)."""
        return {}

    def examples_context(self) -> Context | None:
        return None


@contextmanager
def building_from(*files: str | Path | None, roots: Sequence[str | Path] = ()) -> Iterator[None]:
    """While a check is built, let it resolve files named in its params relative to these files' folders.

    The compiler passes the rule's file and, when a policy overrides the rule's params, the policy's file, and
    the rules directories (`roots`): files the params name must lie inside the one holding each file.
    """
    with _building_from_files(files, roots):
        yield


def resolve_rule_path(path: str) -> Path:
    """A path from a rule's params: absolute as given, else relative to the folder of the policy that
    overrides the rule's params (when the file is there), else to the rule file's folder. Read it with
    `read_rule_file`, which refuses it outside the rules directory tree.

    Outside rule loading (a check built by hand) relative paths resolve against the working directory.
    """
    p = Path(path)
    if p.is_absolute():
        return p
    candidates = [f.parent / p for f in rule_files()]
    if not candidates:
        return p
    return next((c for c in candidates if c.exists()), candidates[0])


def read_rule_file(path: Path, key: str, max_bytes: int | None = None) -> bytes:
    """The bytes of a file a rule's params name (resolved by `resolve_rule_path`): inside the rules directory
    tree, symlinks resolved (unless OUTGUARD_RULE_FILES_ANYWHERE=1), a regular file (no device or FIFO), at most
    OUTGUARD_RULE_FILE_MAX_BYTES (16 MB) or `max_bytes`. Problems are ValueErrors naming `key`, which the rule
    compiler reports with file and rule id."""
    return read_limited(path, key, max_bytes)


class UnknownCheckKind(LookupError):
    pass


def check_class(kind: str) -> type[Check]:
    """Resolve a kind to its class: `guardrails.checks.<kind>` or an import path `package.module:Class`.

    Every way an import can fail (a missing module or attribute, a module raising on import) is an
    UnknownCheckKind, which the rule compiler reports with file, rule id and key `check`."""
    if ":" in kind:
        module_name, _, attr = kind.partition(":")
        if not all(part.isidentifier() for part in module_name.split(".")) or not attr.isidentifier():
            raise UnknownCheckKind(f"check kind {kind!r} is not an import path `package.module:Class`")
    else:
        if not kind.isidentifier():
            raise UnknownCheckKind(f"unknown check kind {kind!r}")
        module_name, attr = f"guardrails.checks.{kind}", "CHECK"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            hint = available_kinds_hint() if ":" not in kind else "is the package installed?"
            raise UnknownCheckKind(f"unknown check kind {kind!r}: no module {module_name!r} ({hint})") from exc
        raise UnknownCheckKind(
            f"check kind {kind!r}: importing {module_name!r} failed: no module {exc.name!r} (install it)"
        ) from exc
    except Exception as exc:  # a plugin's own import-time error: report it as data, not a traceback
        raise UnknownCheckKind(
            f"check kind {kind!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise UnknownCheckKind(f"check kind {kind!r}: module {module_name!r} has no attribute {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise UnknownCheckKind(f"{module_name}:{attr} is not a Check subclass")
    return cls


def builtin_kinds() -> list[str]:
    import pkgutil
    from pathlib import Path

    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_") and m.name != "base")


def available_kinds_hint() -> str:
    return "built-in kinds: " + ", ".join(builtin_kinds())


def iter_hits(check: Check, doc: Document, ctx: RunContext) -> Iterator[Hit]:
    """Run a check and validate each hit's span against the text (a bad span is a bug, not a finding)."""
    n = len(doc.text)
    for hit in check.run(doc, ctx):
        if not 0 <= hit.start <= hit.end <= n:
            raise ValueError(f"check {check.kind} produced span {hit.start}..{hit.end} outside text of length {n}")
        yield hit
