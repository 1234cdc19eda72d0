"""The data model every layer speaks: spans, edits, fixes, findings, verdicts and the Report.

This is the bottom layer: it imports nothing else from guardrails. One pydantic schema serves the
library, the CLI's JSON output and the sidecar's HTTP answers, so they agree byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
from collections.abc import Collection, Iterator, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    field_serializer,
    model_validator,
)

REPORT_SCHEMA_VERSION = "1"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class Action(StrEnum):
    """What a rule asks for when it matches. `warn` only records; the others escalate the verdict."""

    WARN = "warn"
    REPAIR = "repair"
    REVIEW = "review"
    REGENERATE = "regenerate"
    BLOCK = "block"


class Verdict(StrEnum):
    """Ordered: pass < repaired < review < regenerate < block."""

    PASS = "pass"
    REPAIRED = "repaired"
    REVIEW = "review"
    REGENERATE = "regenerate"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]

    @staticmethod
    def strongest(verdicts: list[Verdict]) -> Verdict:
        return max(verdicts, key=lambda v: v.rank, default=Verdict.PASS)

    @staticmethod
    def for_action(action: Action) -> Verdict:
        return _ACTION_VERDICT[action]

    @property
    def needs_action(self) -> bool:
        """True when the caller cannot use the output as delivered."""
        return self.rank >= Verdict.REVIEW.rank


_VERDICT_RANK = {v: i for i, v in enumerate(Verdict)}
_ACTION_VERDICT = {
    Action.WARN: Verdict.PASS,
    Action.REPAIR: Verdict.REPAIRED,
    Action.REVIEW: Verdict.REVIEW,
    Action.REGENERATE: Verdict.REGENERATE,
    Action.BLOCK: Verdict.BLOCK,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_M = TypeVar("_M", bound=_Model)
_new = object.__new__
_set = object.__setattr__


def assemble(cls: type[_M], values: dict[str, Any], fields_set: set[str]) -> _M:
    """A model from `values` that already are what validating them would give (every field, in schema order, of
    the right type and within its constraints), with `fields_set` the fields a caller gave: the same object
    `model_validate` makes, at a fifth of its cost. Only for the engine's hot path, where the values come from
    validated models (rules, Evidence, Fix) and the checks it has just made; pydantic's own `model_construct`
    is slower than validating."""
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", fields_set)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


class Span(_Model):
    """Half-open character range [start, end) into a text, plus where it sits in parsed views."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    pointer: str | None = Field(default=None, description="JSON pointer (RFC 6901) when the span is a JSON value")
    path: str | None = Field(default=None, description="Element path when the span is an HTML/XML element")
    line: int | None = Field(default=None, description="1-based line of start, filled in by the engine")
    column: int | None = Field(default=None, description="1-based column of start, filled in by the engine")

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end < self.start:
            raise ValueError(f"span end {self.end} is before start {self.start}")
        return self

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


class Edit(_Model):
    """Replace text[start:end] with `replacement`. An insertion has start == end."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    replacement: str
    code: str | None = Field(default=None, description="Code of the rule whose fix this edit belongs to")

    @model_validator(mode="after")
    def _ordered(self) -> Edit:
        if self.end < self.start:
            raise ValueError(f"edit end {self.end} is before start {self.start}")
        return self

    def conflicts(self, other: Edit) -> bool:
        """Edits conflict when their ranges overlap or both insert at the same point (order unknown)."""
        if self.start == self.end == other.start == other.end:
            return True
        return self.start < other.end and other.start < self.end


class Fix(_Model):
    """A repair proposal: non-overlapping edits. Unsafe fixes apply only when the policy allows them."""

    title: str
    edits: list[Edit]
    safe: bool = True
    redacts: bool = Field(
        default=False,
        description="The edits hide a value (PII, a secret): overlapping redactions merge so no part of one shows",
    )

    @model_validator(mode="after")
    def _no_overlap(self) -> Fix:
        ordered = sorted(self.edits, key=lambda e: (e.start, e.end))
        for a, b in itertools.pairwise(ordered):
            if a.conflicts(b):
                raise ValueError(
                    f"fix {self.title!r} has overlapping edits at {a.start}..{a.end} and {b.start}..{b.end}"
                )
        return self


class Evidence(_Model):
    """Why a finding fired. Known fields are typed; check-specific extras go in `details`."""

    score: float | None = None
    threshold: float | None = None
    pattern: str | None = None
    matched: str | None = Field(
        default=None,
        description="The matched text (its shape for PII findings; masked in a redacted report when sensitive)",
    )
    fact: dict[str, Any] | None = Field(default=None, description="The known-facts row a claim contradicts")
    source: str | None = Field(default=None, description="Recognizer, model, schema or source the evidence came from")
    details: dict[str, Any] = Field(default_factory=dict)


DOCS_URL_ENV = "OUTGUARD_DOCS_URL"


@functools.cache
def rule_doc_url(code: str) -> str:
    """A rule's page: $OUTGUARD_DOCS_URL with `{code}` filled in, or a site root to which `CODE/` is added;
    unset, the page's path in the source tree. Cached per code, so a finding pays a dict lookup for it."""
    base = os.environ.get(DOCS_URL_ENV) or "docs/reference/rules/{code}.md"
    return base.replace("{code}", code) if "{code}" in base else f"{base.rstrip('/')}/{code}/"


class FindingStatus(StrEnum):
    OPEN = "open"
    REPAIRED = "repaired"
    SUPPRESSED = "suppressed"


class Finding(_Model):
    code: str
    rule_id: str
    check: str
    severity: Severity
    action: Action
    message: str
    span: Span
    evidence: Evidence = Field(default_factory=Evidence)
    fix: Fix | None = None
    fingerprint: str
    status: FindingStatus = FindingStatus.OPEN
    doc_url: str = Field(
        default_factory=lambda data: rule_doc_url(data["code"]),
        description="The rule's reference page (base from $OUTGUARD_DOCS_URL, read once per process)",
    )


def fingerprint(rule_id: str, matched_text: str, anchor: str = "") -> str:
    """Stable across runs and offsets: the rule, an anchor (JSON pointer, element path) and the text matched.

    Offsets are left out on purpose so that an unrelated edit earlier in the output does not
    invalidate a reviewer's suppression.
    """
    # surrogatepass: a caller may fingerprint text with lone surrogates (surrogateescape-decoded bytes).
    digest = hashlib.blake2b(
        f"{rule_id}\x1f{anchor}\x1f{matched_text}".encode("utf-8", "surrogatepass"), digest_size=10
    )
    return digest.hexdigest()


class RegenerationItem(_Model):
    code: str
    rule_id: str
    message: str
    instruction: str = Field(description="What the model must change, phrased as an instruction")
    span: Span | None = None
    excerpt: str | None = Field(
        default=None, description="The offending text, cut to a short window (masked in a redacted report)"
    )


class RegenerationRequest(_Model):
    """Everything a Guard needs to re-ask the model, as data."""

    reasons: list[RegenerationItem]
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="The JSON Schema the output must satisfy"
    )
    template: str | None = Field(default=None, description="The HTML template excerpt the output must fit")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CheckTiming(_Model):
    rule_id: str
    check: str
    ms: float


class DegradedReason(StrEnum):
    ERROR = "error"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


class Degraded(_Model):
    rule_id: str
    check: str
    reason: DegradedReason
    detail: str


class AppliedEdit(_Model):
    """An edit the engine applied, with the repair round it ran in (round 1 edits the original text)."""

    round: int
    edit: Edit
    fix_title: str
    safe: bool


_REDACTION_NOTE = (
    " In a report that left the process (sidecar and proxy answers, review queue, CLI JSON by default) every"
    " value a PII or sensitive finding detected is masked here, length kept (see `masked`)."
)


class Report(_Model):
    """What the engine decided about one output.

    In-process callers get every value as it was. Every report that leaves the process is `redacted()` first:
    no value a PII (or `sensitive`-tagged) finding detected appears anywhere in it, and `masked` says so.
    """

    schema_version: str = REPORT_SCHEMA_VERSION
    verdict: Verdict
    output: str = Field(
        description="The delivered output: repaired when repairs applied, else the original." + _REDACTION_NOTE
    )
    original: str = Field(description="The output as it was given to the engine." + _REDACTION_NOTE)
    findings: list[Finding] = Field(description="Findings on the original text, with their status after repair")
    residual: list[Finding] = Field(
        default_factory=list, description="Findings still open on the repaired output (spans index `output`)"
    )
    edits: list[AppliedEdit] = Field(default_factory=list)
    regeneration: RegenerationRequest | None = None
    review_id: str | None = None
    timings: list[CheckTiming] = Field(default_factory=list)
    degraded: list[Degraded] = Field(default_factory=list)
    policy: str
    policy_version: str
    elapsed_ms: float
    masked: bool = Field(
        default=False,
        description=(
            "True when the report was redacted: every value a PII or sensitive finding detected is masked"
            " wherever the report quotes it (output, original, messages, evidence, edits, excerpts), letters and"
            " digits turned into '*', length and separators kept so spans still line up"
        ),
    )
    cached: bool = Field(
        default=False,
        description="True when the report was served from the result cache (guardrails.results_cache): the report"
        " an earlier validation of the same output and context made, timings and elapsed_ms included",
    )

    # A report whose timings were never read holds them as RecordedTimings rows (see below): every way out of the
    # object sees CheckTiming objects. No return annotation on purpose: pydantic would take one as the field's
    # serialization schema and serialize the handler's output a second time.
    @field_serializer("timings", mode="wrap")
    def _timings_out(self, value: Any, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        return handler(self.timings if isinstance(value, RecordedTimings) else value)

    if not TYPE_CHECKING:  # mypy keeps BaseModel's signature

        def __iter__(self) -> Iterator[tuple[str, Any]]:
            self.timings  # noqa: B018  (built and stored: pydantic's __iter__ reads __dict__)
            return super().__iter__()

    def redacted(self, sensitive_rules: Collection[str] = ()) -> Report:
        """A copy safe to send out of the process: see guardrails.redaction.redact_report."""
        from guardrails.redaction import redact_report  # imported here: redaction builds on this module

        return redact_report(self, sensitive_rules)

    @property
    def open_findings(self) -> list[Finding]:
        """Findings still open on the delivered output."""
        if self.edits:
            return list(self.residual)
        return [f for f in self.findings if f.status is FindingStatus.OPEN]

    @property
    def passed(self) -> bool:
        return not self.verdict.needs_action


_TIMING_LIST = TypeAdapter(list[CheckTiming]).validator  # the validator itself: TypeAdapter's wrapper costs ~1 us


class RecordedTimings:
    """A Report's timings as the engine recorded them, (rule id, check, ms) rows, until someone reads them.

    A CheckTiming costs about half a microsecond to build, so `default`'s 68 rules spent ~35 us a validation (a
    clean 100-character output under a five-rule pack ~3 us of ~14) on objects most callers never read. The
    engine stores this in the report's `timings` field; the first read of `report.timings` builds the list once
    and puts it in the field's place. Every other way out sees the list too: serialization through the field's
    serializer, ==, repr and dict() through the methods below and Report.__iter__, pickles and copies carry the
    rows."""

    __slots__ = ("rows",)
    __hash__ = None  # type: ignore[assignment]  # unhashable, like the list it stands for

    def __init__(self, rows: Sequence[tuple[str, str, float]]) -> None:
        self.rows = rows

    def build(self) -> list[CheckTiming]:
        built: list[CheckTiming] = _TIMING_LIST.validate_python(
            [{"rule_id": r, "check": c, "ms": ms} for r, c, ms in self.rows]
        )
        return built

    def __eq__(self, other: object) -> bool:
        return self.build() == (other.build() if isinstance(other, RecordedTimings) else other)

    def __repr__(self) -> str:
        return repr(self.build())

    def __reduce__(self) -> tuple[type[RecordedTimings], tuple[list[tuple[str, str, float]]]]:
        return RecordedTimings, (list(self.rows),)


class _TimingsField:
    """Report.timings as a data descriptor, so a read of a report holding RecordedTimings builds them once; the
    frozen model's __setattr__ still refuses writes before this is reached."""

    def __get__(self, report: Report | None, owner: type | None = None) -> list[CheckTiming]:
        if report is None:
            raise AttributeError("timings")  # as pydantic leaves it: no class attribute by a field's name
        value = report.__dict__["timings"]
        if type(value) is RecordedTimings:
            value = report.__dict__["timings"] = value.build()
        return value  # type: ignore[no-any-return]

    def __set__(self, report: Report, value: object) -> None:
        raise AttributeError("Report is frozen")


type.__setattr__(Report, "timings", _TimingsField())


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of the Report, shared by CLI JSON output and the HTTP API."""
    return Report.model_json_schema(by_alias=True)
