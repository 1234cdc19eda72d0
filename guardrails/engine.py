"""Compile a policy once, then validate outputs many times: run checks, repair, decide a verdict."""

from __future__ import annotations

import os
import random
import re
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from guardrails.checks.base import Check, Deadline, DeadlineExceeded, Hit, RunContext
from guardrails.context import Context
from guardrails.document import Document
from guardrails.engine_pool import MAX_CHUNK, BatchCollector, WorkerSetup, chunk_size, validate_on_pool
from guardrails.errors import OutguardError
from guardrails.findings import (
    REPORT_SCHEMA_VERSION,
    Action,
    AppliedEdit,
    Degraded,
    DegradedReason,
    Edit,
    Evidence,
    Finding,
    FindingStatus,
    Fix,
    RecordedTimings,
    RegenerationItem,
    RegenerationRequest,
    Report,
    Severity,
    Span,
    Verdict,
    assemble,
    fingerprint,
    rule_doc_url,
)
from guardrails.repair import apply_edits, carry_over, choose_fixes, exposed_redactions, shift_hit, touched_regions
from guardrails.rules.compile import CompiledPolicy, CompiledRule, compile_policy
from guardrails.rules.loader import RuleSet, load_ruleset
from guardrails.rules.model import Policy, Rule
from guardrails.telemetry import record_validation, tracing

Suppressor = Callable[[str, str, str], bool]
"""(policy name, rule id, fingerprint) -> True when a reviewer marked that finding a false positive."""

# Built-in rules for what goes wrong in the engine itself. They are findings like any other, so a
# crashed or late check can never read as a pass.
ENGINE_RULES = {
    "check-failed": Rule(
        id="check-failed",
        code="ENG001",
        check="engine",
        severity=Severity.HIGH,
        action=Action.BLOCK,
        message="Check {check} of rule {rule} failed: {error}",
        description="A check raised an exception. The policy's on_error action applies (fail closed).",
    ),
    "check-deadline-exceeded": Rule(
        id="check-deadline-exceeded",
        code="ENG002",
        check="engine",
        severity=Severity.HIGH,
        action=Action.BLOCK,
        message="Check {check} of rule {rule} ran past its {deadline_ms} ms deadline",
        description="A check ran longer than its deadline. The policy's on_error action applies.",
    ),
    "output-too-large": Rule(
        id="output-too-large",
        code="ENG003",
        check="engine",
        severity=Severity.HIGH,
        action=Action.BLOCK,
        message="Output of {length} characters exceeds the policy limit of {limit}",
        description="The output is larger than the policy's max_output_chars; no check ran.",
    ),
}

_MATCHED_MAX = 120

_SPAN_FIELDS = frozenset(Span.model_fields)
_FINDING_GIVEN = frozenset(Finding.model_fields) - {"status", "doc_url"}


# The fields a validation gives the Report (its fields-set, as validating them would record it): a clean output's,
# and one with findings, whose report also names what repair did and what to ask for again.
_CLEAN_FIELDS = frozenset(
    ("verdict", "output", "original", "findings", "timings", "degraded", "policy", "policy_version", "elapsed_ms")
)
_FULL_FIELDS = _CLEAN_FIELDS | {"residual", "edits", "regeneration"}


def _assembled_report(fields: dict[str, Any], given: frozenset[str]) -> Report:
    """The Report of `fields` (the `given` ones), each already a validated model, a list of them or a plain value
    of the type the schema wants (the engine made each): put together as validating would, in a fraction of its
    time (on a clean short output, building the report was a third of a five-rule pack's cost)."""
    return assemble(Report, fields, set(given))


def _validated_already(hit: Any, message: object, start: object, end: object) -> bool:
    """True when the values of a hit's Finding need no validation: typed as the model wants them (a check from a
    plugin may hand anything; it then goes through pydantic, which rejects what does not fit)."""
    return (
        type(start) is int
        and type(end) is int
        and 0 <= start <= end
        and type(message) is str
        and (hit.pointer is None or type(hit.pointer) is str)
        and (hit.path is None or type(hit.path) is str)
        and (hit.fix is None or isinstance(hit.fix, Fix))
        and isinstance(hit.evidence, Evidence)
    )


def _evidence(evidence: Evidence, matched: str, instruction: str | None) -> Evidence:
    """A hit's validated Evidence as the Finding holds it: with `matched` (the spanned text) when the check left it
    unset, and the check's regeneration instruction in `details`; otherwise the same object. What validating the
    set fields plus those would make: containers copied as validation copies them, defaults for the rest."""
    fields_set = evidence.__pydantic_fields_set__
    adds = evidence.matched is None and "matched" not in fields_set
    if not adds and not instruction:
        return evidence
    values = dict(evidence.__dict__)  # every field, in schema order; the unset ones hold their defaults
    given = set(fields_set)
    if adds:
        values["matched"] = matched
        given.add("matched")
    if instruction:
        values["details"] = {**values["details"], "instruction": instruction}
        given.add("details")
    else:
        values["details"] = dict(values["details"]) if "details" in fields_set else {}
    if values["fact"] is not None:
        values["fact"] = dict(values["fact"])
    return assemble(Evidence, values, given)


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """Replace lone surrogates (what a surrogateescape decode of broken bytes leaves) with U+FFFD.

    They cannot be encoded as UTF-8, so no report holding them could be serialised or delivered; as
    U+FFFD they stay visible (rule TXT001 flags them) instead of crashing the JSON and HTTP paths.
    """
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


class _SafeValues(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_message(template: str, values: dict[str, Any]) -> str:
    if "{" not in template:  # nothing to fill (a lone "}" would make format_map raise: the template stays)
        return template
    try:
        return template.format_map(_SafeValues(values))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template


class Engine:
    """A compiled policy. Thread-safe: validate() keeps all per-call state on the stack."""

    def __init__(self, compiled: CompiledPolicy, *, suppressor: Suppressor | None = None) -> None:
        self.compiled = compiled
        self.policy: Policy = compiled.policy
        self.suppressor = suppressor
        self._superseded_by = _supersession(compiled.rules)
        self._has_local = any(c.check.rechecks == "local" for c in compiled.rules)
        # Per rule, what the loop in _findings_for reads, looked up once here rather than once a rule a validation.
        self._plan = tuple(
            (i, c, c.rule, c.check, c.check.rechecks == "local", c.deadline_s, c.rule.id, c.rule.check)
            for i, c in enumerate(compiled.rules)
        )

    @classmethod
    def from_policy(
        cls,
        policy: str = "default",
        rules_dirs: Sequence[Path | str] = (),
        *,
        ruleset: RuleSet | None = None,
        suppressor: Suppressor | None = None,
    ) -> Engine:
        """Load rules (bundled plus `rules_dirs`) and compile the named policy or policy file."""
        rs = ruleset or load_ruleset(rules_dirs)
        pol, path = rs.policy(policy)
        return cls(compile_policy(pol, rs, path), suppressor=suppressor)

    @property
    def rules(self) -> tuple[CompiledRule, ...]:
        return self.compiled.rules

    def drop_superseded(self, findings: list[Finding]) -> list[Finding]:
        """One finding per problem, as validate() reports them: drop findings a superseding rule also made."""
        return _drop_superseded(findings, self._superseded_by) if self._superseded_by else findings

    # -- one pass -------------------------------------------------------------------------------

    def _findings_for(
        self,
        doc: Document,
        ctx: Context,
        timings: list[tuple[str, str, float]],
        degraded: list[Degraded],
        local: _LocalHits | None = None,
    ) -> list[Finding]:
        """Run every rule's check on `doc`. Timings are collected as (rule id, check, ms) rows: the Report makes
        them CheckTiming objects only when they are read (findings.RecordedTimings).

        With `local` (a re-check after a repair round), a check that declares `rechecks = "local"` runs only
        around the edits and keeps its earlier hits elsewhere; `local` then records this pass's hits."""
        findings: list[Finding] = []
        n = len(doc.text)
        clock = time.perf_counter
        # One Deadline per pass, re-armed before each rule (each rule still gets its own full budget): checks
        # are run to completion one after the other, so no check can see another's deadline.
        deadline = Deadline(None)
        run_ctx = RunContext(ctx, deadline)
        rechecking = local is not None and local.edits is not None
        # One clock reading per rule: the end of a rule that found nothing is the start of the next.
        t0 = clock()
        for index, compiled, rule, check, is_local, deadline_s, rule_id, check_name in self._plan:
            deadline.at = t0 + deadline_s
            late = False
            try:
                if local is None or not is_local:
                    hits = check.run(doc, run_ctx)
                    if type(hits) is not tuple:  # a generator runs here, inside the try; () is a pass
                        hits = list(hits)
                elif rechecking:
                    hits = local.rerun(index, check, doc, run_ctx)
                else:
                    hits = local.hits[index] = list(check.run(doc, run_ctx))
                for hit in hits:
                    if not 0 <= hit.start <= hit.end <= n:
                        raise ValueError(f"check produced span {hit.start}..{hit.end} outside text of length {n}")
            except DeadlineExceeded:
                hits, late = [], True
                if local is not None:
                    local.forget(index)
                self._late(
                    doc, compiled, f"stopped at its {compiled.deadline_s * 1000:g} ms deadline", findings, degraded
                )
            except Exception as exc:  # any crash is a finding, never a silent pass
                hits = []
                if local is not None:
                    local.forget(index)
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
                findings.append(self._engine_finding("check-failed", doc, rule, error=error))
                degraded.append(Degraded(rule_id=rule.id, check=rule.check, reason=DegradedReason.ERROR, detail=error))
            t1 = clock()
            elapsed = t1 - t0
            timings.append((rule_id, check_name, elapsed * 1000))
            if elapsed > deadline_s and not late:
                # Ran to completion but late: keep what it found, and still fail closed on the lateness.
                self._late(doc, compiled, f"took {elapsed * 1000:.1f} ms", findings, degraded)
                t1 = clock()
            if hits:
                for hit in hits:
                    findings.append(self._finding(rule, hit.start, hit.end, doc, hit))
                t1 = clock()  # the findings' bookkeeping is not the next rule's time
            t0 = t1
        if self._superseded_by:
            findings = _drop_superseded(findings, self._superseded_by)
        return findings

    def _late(
        self, doc: Document, compiled: CompiledRule, detail: str, findings: list[Finding], degraded: list[Degraded]
    ) -> None:
        rule = compiled.rule
        deadline_ms = round(compiled.deadline_s * 1000, 3)
        findings.append(self._engine_finding("check-deadline-exceeded", doc, rule, deadline_ms=deadline_ms))
        degraded.append(Degraded(rule_id=rule.id, check=rule.check, reason=DegradedReason.TIMEOUT, detail=detail))

    def _finding(self, rule: Rule, start: int, end: int, doc: Document, hit: Any) -> Finding:
        matched = doc.text[start:end]
        short = matched[:_MATCHED_MAX]
        line, col = doc.line_col(start)
        evidence = hit.evidence
        # The check knows better than a generic template what must change; kept for _regeneration.
        instruction = hit.regeneration.instruction if hit.regeneration is not None else None
        key = matched if hit.fingerprint_key is None else hit.fingerprint_key
        message = hit.message or render_message(rule.message, {"matched": short, **hit.values})
        if _validated_already(hit, message, start, end):
            # Every value is a validated model's or one just checked: the Finding is put together as validation
            # would (a few us less a finding: most of a regex pack's bookkeeping).
            span = {"start": start, "end": end, "pointer": hit.pointer, "path": hit.path, "line": line, "column": col}
            fields = {
                "code": rule.code,
                "rule_id": rule.id,
                "check": rule.check,
                "severity": rule.severity,
                "action": rule.action,
                "message": message,
                "span": assemble(Span, span, set(_SPAN_FIELDS)),
                "evidence": _evidence(evidence, short, instruction),
                "fix": hit.fix,
                "fingerprint": fingerprint(rule.id, key, hit.anchor or ""),
                "status": FindingStatus.OPEN,
                "doc_url": rule_doc_url(rule.code),
            }
            return assemble(Finding, fields, set(_FINDING_GIVEN))
        # A plugin's values of other types: one validation of plain data (span and evidence nested), which rejects
        # what does not fit.
        set_fields = evidence.model_fields_set
        given: Evidence | dict[str, Any] = evidence
        if evidence.matched is None and "matched" not in set_fields:
            given = {k: getattr(evidence, k) for k in set_fields}
            given["matched"] = short
        if instruction:
            base = given if isinstance(given, dict) else {k: getattr(evidence, k) for k in set_fields}
            base["details"] = {**evidence.details, "instruction": instruction}
            given = base
        span = {"start": start, "end": end, "pointer": hit.pointer, "path": hit.path, "line": line, "column": col}
        return Finding.model_validate(
            {
                "code": rule.code,
                "rule_id": rule.id,
                "check": rule.check,
                "severity": rule.severity,
                "action": rule.action,
                "message": message,
                "span": span,
                "evidence": given,
                "fix": hit.fix,
                "fingerprint": fingerprint(rule.id, key, hit.anchor or ""),
            }
        )

    def finding_from_hit(self, rule: Rule, hit: Any, doc: Document) -> Finding:
        """The Finding the engine makes of a check's Hit on `doc` (the stream validator builds its own hits)."""
        return self._finding(rule, hit.start, hit.end, doc, hit)

    def _engine_finding(self, rule_id: str, doc: Document, failed: Rule | None = None, **values: Any) -> Finding:
        rule = ENGINE_RULES[rule_id]
        if failed is not None:
            values.update(check=failed.check, rule=failed.id)
        message = render_message(rule.message, values)
        return Finding(
            code=rule.code,
            rule_id=rule.id,
            check="engine",
            severity=rule.severity,
            action=self.policy.on_error,
            message=message,
            span=Span(start=0, end=len(doc.text), line=1, column=1),
            evidence=Evidence(source=failed.id if failed else None, details=values),
            fingerprint=fingerprint(rule.id, failed.id if failed else "", ""),
        )

    def _suppress(self, findings: list[Finding]) -> list[Finding]:
        if self.suppressor is None:
            return findings
        name = self.policy.name
        return [
            f.model_copy(update={"status": FindingStatus.SUPPRESSED})
            if self.suppressor(name, f.rule_id, f.fingerprint)
            else f
            for f in findings
        ]

    # -- validate ---------------------------------------------------------------------------------

    def validate(self, output: str, context: Context | dict[str, Any] | None = None) -> Report:
        """Check `output`, repair what the policy allows, and return the Report. Never raises on text."""
        t0 = time.perf_counter()
        ctx = Context.coerce(context)
        timings: list[tuple[str, str, float]] = []
        degraded: list[Degraded] = []
        if not isinstance(output, str):
            raise TypeError(f"output must be str, got {type(output).__name__}")
        output = without_lone_surrogates(output)
        doc = Document(output)
        # Hits of the checks that re-check locally, kept for the repair rounds (only those read them).
        local = _LocalHits() if self._has_local else None
        if len(output) > self.policy.max_output_chars:
            first = [
                self._engine_finding("output-too-large", doc, length=len(output), limit=self.policy.max_output_chars)
            ]
            degraded.append(Degraded(rule_id="*", check="*", reason=DegradedReason.SKIPPED, detail="output too large"))
        else:
            first = self._suppress(self._findings_for(doc, ctx, timings, degraded, local))
        if not first:  # nothing found: nothing to repair, weigh or ask for
            return self._report(t0, Verdict.PASS, output, output, first, timings=timings, degraded=degraded)
        text, applied, residual = self._repair(output, first, ctx, timings, degraded, local=local)
        if applied:
            residual_keys = {(f.rule_id, f.fingerprint) for f in residual if f.status is FindingStatus.OPEN}
            first = [
                f.model_copy(update={"status": FindingStatus.REPAIRED})
                if f.status is FindingStatus.OPEN and (f.rule_id, f.fingerprint) not in residual_keys
                else f
                for f in first
            ]
            open_findings = [f for f in residual if f.status is FindingStatus.OPEN]
        else:
            open_findings = [f for f in first if f.status is FindingStatus.OPEN]
        verdict = self._verdict(open_findings, bool(applied))
        regeneration = self._regeneration(open_findings, text, ctx) if verdict is Verdict.REGENERATE else None
        return self._report(
            t0,
            verdict,
            text,
            output,
            first,
            timings=timings,
            degraded=degraded,
            given=_FULL_FIELDS,
            residual=residual if applied else [],
            edits=applied,
            regeneration=regeneration,
        )

    def _report(
        self,
        t0: float,
        verdict: Verdict,
        output: str,
        original: str,
        findings: list[Finding],
        *,
        timings: list[tuple[str, str, float]],
        degraded: list[Degraded],
        given: frozenset[str] = _CLEAN_FIELDS,
        residual: list[Finding] | None = None,
        edits: list[AppliedEdit] | None = None,
        regeneration: RegenerationRequest | None = None,
    ) -> Report:
        """The Report of one validation begun at `t0`, traced when tracing is on."""
        fields = {  # in the schema's order, every field: what validation would store
            "schema_version": REPORT_SCHEMA_VERSION,
            "verdict": verdict,
            "output": output,
            "original": original,
            "findings": findings,
            "residual": [] if residual is None else residual,
            "edits": [] if edits is None else edits,
            "regeneration": regeneration,
            "review_id": None,
            "timings": RecordedTimings(timings) if timings else [],
            "degraded": degraded,
            "policy": self.policy.name,
            "policy_version": self.compiled.version,
            "elapsed_ms": (time.perf_counter() - t0) * 1000,
            "masked": False,
            "cached": False,
        }
        report = _assembled_report(fields, given)
        if tracing():  # spans made after the fact from the report's timings: untraced runs pay for this test only
            record_validation(report)
        return report

    def _repair(
        self,
        text: str,
        findings: list[Finding],
        ctx: Context,
        timings: list[tuple[str, str, float]],
        degraded: list[Degraded],
        *,
        local: _LocalHits | None = None,
    ) -> tuple[str, list[AppliedEdit], list[Finding]]:
        settings = self.policy.repair
        applied: list[AppliedEdit] = []
        current, open_now = text, [f for f in findings if f.status is FindingStatus.OPEN]
        seen = {text}
        held: list[Finding] = []  # redactions an edit cut into without covering: open to the end, never "repaired"
        limit = int(len(text) * settings.max_growth) + 1024
        if not settings.enabled or not any(f.fix is not None for f in open_now):
            return text, applied, []
        for round_no in range(1, settings.max_rounds + 1):
            chosen = choose_fixes(open_now, allow_unsafe=settings.allow_unsafe)
            if not chosen:
                break
            edits = [e for c in chosen for e in c.fix.edits]
            candidate = apply_edits(current, edits)
            if candidate in seen or len(candidate) > limit:
                break
            seen.add(candidate)
            held = [carry_over(f, edits, candidate) for f in [*held, *exposed_redactions(open_now, edits)]]
            applied.extend(
                AppliedEdit(
                    round=round_no,
                    edit=e.model_copy(update={"code": e.code or c.finding.code}),
                    fix_title=c.fix.title,
                    safe=c.fix.safe,
                )
                for c in chosen
                for e in c.fix.edits
            )
            current = candidate
            round_degraded: list[Degraded] = []
            if local is not None:
                local.edited(edits)
            open_now = [
                f
                for f in self._suppress(self._findings_for(Document(current), ctx, timings, round_degraded, local))
                if f.status is FindingStatus.OPEN
            ] + held
            degraded.extend(d for d in round_degraded if d not in degraded)
        return current, applied, open_now if applied else []

    def _verdict(self, open_findings: Iterable[Finding], repaired: bool) -> Verdict:
        verdicts = [Verdict.REPAIRED] if repaired else []
        for f in open_findings:
            action = self.policy.unrepaired_action if f.action is Action.REPAIR else f.action
            verdicts.append(Verdict.for_action(action))
        return Verdict.strongest(verdicts)

    def _regeneration(self, open_findings: list[Finding], text: str, ctx: Context) -> RegenerationRequest:
        by_id = {c.rule.id: c for c in self.compiled.rules}
        reasons: list[RegenerationItem] = []
        extras: dict[str, Any] = {}
        for f in open_findings:
            action = self.policy.unrepaired_action if f.action is Action.REPAIR else f.action
            if action is not Action.REGENERATE:
                continue
            compiled = by_id.get(f.rule_id)
            raw = text[f.span.start : f.span.end][:_MATCHED_MAX]
            # A check that masked its evidence (PII) must not have the raw value copied into the request.
            masked = f.evidence.matched is not None and f.evidence.matched[:_MATCHED_MAX] != raw
            instruction = str(f.evidence.details.get("instruction") or f"Fix: {f.message}")
            if compiled is not None:
                if compiled.rule.instruction and "instruction" not in f.evidence.details:
                    values = {
                        **f.evidence.details,
                        "pointer": f.span.pointer or "",
                        "path": f.span.path or "",
                        "matched": f.evidence.matched if masked else raw,
                    }
                    instruction = render_message(compiled.rule.instruction, values)
                for key, value in compiled.check.regeneration_extras(ctx).items():
                    extras.setdefault(key, value)
            excerpt = None
            if not masked and f.span.end <= len(text):
                excerpt = text[max(0, f.span.start - 30) : f.span.end + 30][:200]
            reasons.append(
                RegenerationItem(
                    code=f.code,
                    rule_id=f.rule_id,
                    message=f.message,
                    instruction=instruction,
                    span=f.span,
                    excerpt=excerpt,
                )
            )
        return RegenerationRequest(reasons=reasons, schema_=extras.get("schema"), template=extras.get("template"))

    def should_sample_for_review(self, report: Report, rng: random.Random | None = None) -> bool:
        """True when the report goes to the review queue: a review verdict, or the policy's sample rate."""
        if report.verdict is Verdict.REVIEW:
            return True
        rate = self.policy.review_sample_rate
        return rate > 0 and (rng or random).random() < rate

    # -- async and batch ----------------------------------------------------------------------------

    async def avalidate(self, output: str, context: Context | dict[str, Any] | None = None) -> Report:
        """validate() in a worker thread, so an event loop is never blocked by a slow check."""
        import asyncio  # here, not at the top: a caller awaiting this runs a loop, so it is imported already

        return await asyncio.to_thread(self.validate, output, context)

    def validate_many(
        self,
        outputs: Sequence[str],
        contexts: Sequence[Context | dict[str, Any] | None] | None = None,
        *,
        workers: int | None = None,
        chunksize: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Report]:
        """Validate a batch, on a process pool when `workers` > 1; reports come back in input order.

        Each worker compiles the policy again from its file and rules directories (compiled checks hold
        models and connections that do not pickle) and checks that it got the same policy version; the
        suppressor goes along pickled (the review store's as a snapshot of its set). When a worker cannot
        do that (a policy or ruleset built in memory, a suppressor that does not pickle), the batch runs in
        this process instead, with a warning: slower, never different. `progress(n)` is called as reports
        come back (n of them), for a progress bar. Outputs go to workers `chunksize` at a time (by default
        about four chunks per worker, at most 256 outputs each); see guardrails.engine_pool."""
        ctxs: list[Context | dict[str, Any] | None] = list(contexts) if contexts is not None else [None] * len(outputs)
        if len(ctxs) != len(outputs):
            raise ValueError(f"got {len(outputs)} outputs but {len(ctxs)} contexts")
        workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
        chunksize = chunksize or chunk_size(len(outputs), workers)
        if workers <= 1 or len(outputs) < 2 * chunksize:
            return self._validate_serially(outputs, ctxs, progress)
        try:
            setup = WorkerSetup.of(self)
        except Exception as exc:  # a lambda or a closure: pickle raises more than PicklingError
            warnings.warn(f"validate_many: suppressor does not pickle ({exc}); validating here", stacklevel=2)
            return self._validate_serially(outputs, ctxs, progress)
        try:
            return validate_on_pool(setup, outputs, ctxs, workers=workers, chunksize=chunksize, progress=progress)
        except WorkerSetupError as exc:
            warnings.warn(f"validate_many: {exc}; validating in this process", stacklevel=2)
            return self._validate_serially(outputs, ctxs, progress)

    def _validate_serially(
        self,
        outputs: Sequence[str],
        ctxs: Sequence[Context | dict[str, Any] | None],
        progress: Callable[[int], None] | None = None,
    ) -> list[Report]:
        reports: list[Report] = []
        with BatchCollector() as collector:  # collections would walk every report kept so far: see engine_pool
            for start in range(0, len(outputs), MAX_CHUNK):
                end = start + MAX_CHUNK
                chunk = [self.validate(o, c) for o, c in zip(outputs[start:end], ctxs[start:end], strict=True)]
                reports += chunk
                collector.chunk_done()
                if progress is not None:
                    progress(len(chunk))
        return reports


class _LocalHits:
    """The hits of each `rechecks = "local"` rule on the latest text, so a repair round re-runs such a rule only
    around its edits: a hit depends on at most `lookbehind` characters (its match) plus as many around it
    (lookarounds), so the check runs on windows reaching 3 x lookbehind past each edit, keeps what it finds
    within lookbehind of an edit, and keeps its earlier hits, shifted, everywhere else. When the windows would
    cover the whole text anyway, or a match cap is near, the rule simply runs on the whole text."""

    __slots__ = ("edits", "hits", "windows")

    def __init__(self) -> None:
        self.hits: dict[int, list[Hit]] = {}
        self.edits: list[Edit] | None = None  # the last round's edits (offsets into the text before it)
        # This round's window Documents by span: rules with the same reach share one, and with it its views
        # (the policy's multi-pattern scan is built once a window, not once a rule).
        self.windows: dict[tuple[int, int], Document] = {}

    def edited(self, edits: list[Edit]) -> None:
        self.edits = sorted(edits, key=lambda e: (e.start, e.end))
        self.windows = {}

    def forget(self, index: int) -> None:
        self.hits.pop(index, None)

    def rerun(self, index: int, check: Check, doc: Document, ctx: RunContext) -> list[Hit]:
        before = self.hits.get(index)
        hits = None
        if before is not None and self.edits is not None:
            hits = self._around_edits(check, doc, ctx, before, self.edits, windows_seen=self.windows)
        if hits is None:
            hits = list(check.run(doc, ctx))
        self.hits[index] = hits
        return hits

    @staticmethod
    def _around_edits(
        check: Check,
        doc: Document,
        ctx: RunContext,
        before: list[Hit],
        edits: list[Edit],
        *,
        windows_seen: dict[tuple[int, int], Document],
    ) -> list[Hit] | None:
        reach = max(check.lookbehind, 1)
        cap = getattr(check.params, "max_matches", None)
        text = doc.text
        regions = touched_regions(edits)  # each edit's replacement, in the new text's offsets
        windows = _merged([(max(0, s - 3 * reach), min(len(text), e + 3 * reach)) for s, e in regions])
        if sum(b - a for a, b in windows) >= len(text) or (isinstance(cap, int) and len(before) >= cap):
            return None
        zones = [(s - reach, e + reach) for s, e in regions]

        def near(start: int, end: int) -> bool:
            return any(start <= z1 and z0 <= end for z0, z1 in zones)

        # A match longer than `reach` (a rule's lookbehind is what the stream needs, a run like `\uFFFD+` can be
        # longer) may reach past a window, which would cut it short: run the whole text instead.
        if any(hit.end - hit.start > reach for hit in before):
            return None
        hits: list[Hit] = []
        for a, b in windows:
            window = windows_seen.get((a, b))
            if window is None or window.text != text[a:b]:
                window = windows_seen[(a, b)] = Document(text[a:b])
            for hit in check.run(window, ctx):
                if hit.end - hit.start > reach:
                    return None
                moved = shift_hit(hit, a) if a else hit
                if near(moved.start, moved.end):
                    hits.append(moved)
        for hit in before:
            moved = shift_hit(hit, _delta(edits, hit.start))
            if not near(moved.start, moved.end):
                hits.append(moved)
        if isinstance(cap, int) and len(hits) >= cap:
            return None
        hits.sort(key=lambda h: h.start)
        return hits


def _delta(edits: list[Edit], offset: int) -> int:
    """How far the edits that end at or before `offset` moved it."""
    return sum(len(e.replacement) - (e.end - e.start) for e in edits if e.end <= offset)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _supersession(rules: Sequence[CompiledRule]) -> dict[str, frozenset[str]]:
    """Rule id -> ids of the policy's rules that supersede it (`Rule.supersedes`, by id or code)."""
    ids = {key: c.rule.id for c in rules for key in (c.rule.id, c.rule.code)}
    out: dict[str, set[str]] = {}
    for c in rules:
        for key in c.rule.supersedes:
            target = ids.get(key)
            if target is not None and target != c.rule.id:
                out.setdefault(target, set()).add(c.rule.id)
    return {k: frozenset(v) for k, v in out.items()}


def _drop_superseded(findings: list[Finding], superseded_by: dict[str, frozenset[str]]) -> list[Finding]:
    """One finding per problem: a finding goes when a rule superseding its rule found an overlapping span.
    The finding that stays lists the codes it stands for in `evidence.details["supersedes"]`."""
    winner_ids = set().union(*superseded_by.values())
    candidates = [(i, g) for i, g in enumerate(findings) if g.rule_id in winner_ids]
    kept: list[Finding] = []
    stands_for: dict[int, list[str]] = {}
    for f in findings:
        winners = superseded_by.get(f.rule_id)
        if winners and candidates:
            s, e = f.span.start, f.span.end
            i = next((i for i, g in candidates if g.rule_id in winners and g.span.start < e and s < g.span.end), None)
            if i is not None:
                stands_for.setdefault(i, []).append(f.code)
                continue
        kept.append(f)
    if not stands_for:
        return findings
    by_id = {id(findings[i]): sorted(set(codes)) for i, codes in stands_for.items()}
    return [_standing_for(f, by_id[id(f)]) if id(f) in by_id else f for f in kept]


def _standing_for(finding: Finding, codes: list[str]) -> Finding:
    details = {**finding.evidence.details, "supersedes": codes}
    return finding.model_copy(update={"evidence": finding.evidence.model_copy(update={"details": details})})


class WorkerSetupError(OutguardError, RuntimeError):
    """A pool worker could not compile the same policy as the parent process."""
