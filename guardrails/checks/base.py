"""The check protocol: one module per kind under guardrails/checks, heavy setup in __init__, pure run().

A check module named after its kind exposes `CHECK = TheCheckClass`. The engine never imports a check
module until a rule of that kind is loaded, so importing guardrails stays light (no torch, no presidio).
Third-party kinds arrive through the `outguard.checks` entry-point group (see `guardrails.plugins`), looked
up only when a rule names a kind no built-in module has. The public names are re-exported by
`guardrails.checks`; docs/writing-checks.md walks through writing one.
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from guardrails.checks._rulefiles import building_from as _building_from_files
from guardrails.checks._rulefiles import read_limited, rule_files
from guardrails.context import Context
from guardrails.document import Document
from guardrails.errors import OutguardError
from guardrails.findings import Evidence, Fix, RegenerationItem


class CheckParams(BaseModel):
    """Base for every check's params: a frozen pydantic model built from the rule's `params` mapping.

    Unknown keys fail at rule load with file, rule id and key (`extra="forbid"`). Give each field a
    `Field(description=...)`: the docs site's parameter table per check kind is generated from it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=CheckParams, default=CheckParams)
"""The params model a `Check[P]` is built with (a bare `Check` means `Check[CheckParams]`)."""

TemplateValue = str | int | float | bool | None
"""What a hit's `values` may hold: scalars the rule's message template formats."""


class DeadlineExceeded(OutguardError):
    """Raised by a check (or by `Deadline.check`) that has run past its deadline."""


class Deadline:
    """A cooperative deadline. Long loops call `check()`; regex calls pass `timeout=remaining()`.

    The engine gives each check its policy deadline; a check that runs past it (raising `DeadlineExceeded`
    or returning late) becomes a `check-deadline-exceeded` finding, never a silent pass.
    """

    __slots__ = ("at",)

    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else time.perf_counter() + seconds

    def remaining(self) -> float | None:
        """Seconds left (never negative), None for no deadline: pass it as `timeout=` to `regex` calls."""
        if self.at is None:
            return None
        return max(0.0, self.at - time.perf_counter())

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self.at is not None and time.perf_counter() >= self.at

    def check(self) -> None:
        """Raise `DeadlineExceeded` once the deadline has passed: call it in long loops."""
        if self.expired():
            raise DeadlineExceeded("check ran past its deadline")


NO_DEADLINE = Deadline(None)


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a check's run() gets besides the document: the caller's context and its deadline.

    `context` carries what the caller sent with the output (system prompt, canaries, sources, schema,
    template, reference date); `deadline` is this check's share of the policy's time budget.
    """

    context: Context
    deadline: Deadline = NO_DEADLINE


@dataclass(slots=True)
class Hit:
    """One thing a check found. The engine turns it into a Finding using the rule's code and message.

    - `start`, `end`: the span, character offsets into `doc.text` (checked against the text's length).
    - `values`: scalars that fill the rule's message template (`{matched}`, the spanned text, is always
      there). Values are for people: they never change the fingerprint.
    - `evidence`: why it was flagged (score, threshold, pattern, fact id, source, details), as data.
    - `fix`: non-overlapping edits with a title and a `safe` flag; unsafe fixes apply only when the policy
      allows them.
    - `pointer` (a JSON pointer) or `path` (an element path): where in the structure the hit lies; the first
      one set is the hit's `anchor`.
    - `fingerprint_key`: what identifies the bad thing for suppression and dedupe, when the spanned text does
      not (a canary's index rather than its bytes, an entity and value rather than their spelling). None:
      the spanned text.
    - `regeneration`: what a regeneration request should say about this hit; `message`: a message that
      replaces the rule's rendered template.
    """

    start: int
    end: int
    values: dict[str, TemplateValue] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)
    fix: Fix | None = None
    pointer: str | None = None
    path: str | None = None
    regeneration: RegenerationItem | None = None
    message: str | None = None
    fingerprint_key: str | None = None

    @property
    def anchor(self) -> str | None:
        """The structural place of the hit (its JSON pointer, else its element path), None when it has none.

        The fingerprint hashes the rule, the `fingerprint_key` (or spanned text) and the anchor, not the
        offsets, so it stays stable when text before the hit grows or shrinks."""
        return self.pointer or self.path


class Check(ABC, Generic[P]):
    """A check kind: subclass `Check[MyParams]`, set `kind`, do heavy setup in __init__, keep run() pure.

    `class MyCheck(Check[MyParams])` sets `Params` (the model a rule's params are validated against) from
    the type argument, and types `self.params` as `MyParams`. One instance serves many validations, from
    several threads: run() must not change the instance, the document or the context.
    """

    kind: ClassVar[str]
    Params: ClassVar[type[CheckParams]] = CheckParams
    params: P
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Params" in cls.__dict__:
            return
        for base in cls.__dict__.get("__orig_bases__", ()):
            args = get_args(base) if get_origin(base) is Check else ()
            if args and isinstance(args[0], type) and issubclass(args[0], CheckParams):
                cls.Params = args[0]

    def __init__(self, params: P) -> None:
        """Build the check from validated params: compile patterns, load models and files here, once."""
        self.params = params

    @abstractmethod
    def run(self, doc: Document, ctx: RunContext) -> Iterable[Hit]:
        """Yield hits for this document. Must not mutate doc or ctx; may raise DeadlineExceeded."""

    def stream_lookbehind(self, context: Context) -> int | None:
        """The lookbehind for a stream under `context`; None when the check cannot flag anything under it (no
        system prompt, no canaries, nothing to cite against), so the stream validator neither waits for it nor
        runs it on prefixes."""
        return self.lookbehind

    def bind(self, siblings: Sequence[Check]) -> None:
        """Called once a policy is compiled, with all its checks: a check may share work with its siblings."""

    def regeneration_extras(self, context: Context | None = None) -> dict[str, Any]:
        """Schema or template a regeneration request should carry for this check (keys: schema, template).

        `context` is the call's context (the engine passes it; None when asked outside a validation)."""
        return {}

    def examples_context(self) -> Context | None:
        """The context the rule's examples are validated under (a system prompt for a leak check), if any."""
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


class UnknownCheckKind(OutguardError, LookupError):
    pass


def check_class(kind: str) -> type[Check]:
    """Resolve a kind to its class: `guardrails.checks.<kind>`, else an installed plugin's `outguard.checks`
    entry point of that name, or an import path `package.module:Class`.

    Built-in kinds come first (a plugin cannot replace one) and plugins are looked up only for a kind no
    built-in module has, so policies of built-in kinds never scan installed packages. Every way an import can
    fail (a missing module or attribute, a module raising on import) is an UnknownCheckKind, which the rule
    compiler reports with file, rule id and key `check`."""
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
            if ":" not in kind:
                return _plugin_class(kind, exc)
            raise UnknownCheckKind(
                f"unknown check kind {kind!r}: no module {module_name!r} (is the package installed?)"
            ) from exc
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


def _plugin_class(kind: str, missing: ModuleNotFoundError) -> type[Check]:
    from guardrails.plugins import PluginError, check_plugin  # reads installed metadata: only when needed

    try:
        cls = check_plugin(kind)
    except PluginError as exc:
        raise UnknownCheckKind(f"check kind {kind!r}: {exc}") from exc
    if cls is None:
        raise UnknownCheckKind(f"unknown check kind {kind!r} ({available_kinds_hint()})") from missing
    return cls


def builtin_kinds() -> list[str]:
    import pkgutil
    from pathlib import Path

    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_") and m.name != "base")


def available_kinds_hint() -> str:
    from guardrails.plugins import CHECKS_GROUP, names

    hint = "built-in kinds: " + ", ".join(builtin_kinds())
    plugged = names(CHECKS_GROUP)
    return hint + (f"; from plugins: {', '.join(plugged)}" if plugged else "; no plugin declares one")


def iter_hits(check: Check, doc: Document, ctx: RunContext) -> Iterator[Hit]:
    """Run a check and validate each hit's span against the text (a bad span is a bug, not a finding)."""
    n = len(doc.text)
    for hit in check.run(doc, ctx):
        if not 0 <= hit.start <= hit.end <= n:
            raise ValueError(f"check {check.kind} produced span {hit.start}..{hit.end} outside text of length {n}")
        yield hit
