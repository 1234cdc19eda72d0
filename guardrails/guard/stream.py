"""Validate a streamed output as it arrives: release only text every streaming check has cleared.

How it works (see README "Guard: regeneration, fallback and streaming"):

* The validator keeps the text it has not released yet. A check that declares `streaming = True` can judge
  any prefix; `lookbehind` says how far before new text a match can start. Text older than the largest
  lookbehind is *settled*: no later chunk can change what the streaming checks say about it.
* After each chunk the streaming checks run on a window (the unreleased text plus `lookbehind` characters of
  context). Settled text is released as a `text` event once no match overlaps the cut; a match that still
  touches the unsettled tail holds the cut back to its start.
* Settled matches become `finding` events. A `repair` finding with a fix (a redaction) is applied before the
  text is released and reported as a `redaction` event: the consumer never sees the original. A finding
  whose action needs more than a repair (review, regenerate, block) stops the release at once: the consumer
  gets the `finding`, a `retract` for everything released so far, and no further text.
* JSON outputs (auto-detected) are cut only after complete values, so a consumer never holds half a token.
* `finish()` validates the whole text with every rule (non-streaming checks run only here) and ends with a
  `final` event carrying the Report. If the Report's delivered output no longer starts with what was
  released (a non-streaming check overturned it, or the verdict needs action), a `retract` comes first.

`retract` means: drop every character you were given from output offset `offset` on. Text events carry the
offset they start at, so a consumer can always reconcile.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Literal, Protocol, cast, runtime_checkable

from pydantic import BaseModel, ConfigDict

from guardrails.checks.base import Deadline, Hit, RunContext, iter_hits
from guardrails.context import Context
from guardrails.document import Document
from guardrails.engine import Engine
from guardrails.findings import Action, Edit, Finding, FindingStatus, Fix, Report, Verdict
from guardrails.guard.events import CheckTimed, Listener, emit
from guardrails.guard.html_stream import HTMLStreamScanner
from guardrails.guard.json_stream import JSONStreamScanner
from guardrails.guard.result import GuardResult
from guardrails.repair import apply_edits, choose_fixes
from guardrails.rules.compile import CompiledRule

_CONTEXT = 32
"""Characters kept before released text when scanning: context for matches that start right at the cut."""

# The end of the last boundary in a text (greedy), per boundary kind: what follows is the unit being written.
_UNIT_END = {
    # A token ends at whitespace, a quote or an angle bracket: no URL, e-mail address or secret value holds one,
    # so values inside JSON strings and HTML settle without waiting for whitespace.
    "token": re.compile(r"(?s:.*)[\s\"<>]"),
    # A sentence ends at . ! ? before whitespace, or at a line break: where the statistic rules' gaps stop (not at
    # the ideographic full stop, which their gaps cross).
    "sentence": re.compile(r"(?s:.*)(?:[.!?]\s|\n)"),
    "paragraph": re.compile(r"(?s:.*)\n[^\S\n]*\n"),
}

StreamEventType = Literal["text", "finding", "redaction", "retract", "final"]


class StreamEvent(BaseModel):
    """One event for the consumer of a validated stream; JSON-serialisable for server-sent events.

    - `text`: release `text`, which starts at output offset `offset`.
    - `finding`: a finding on the stream (span offsets index the original text, as in a Report).
    - `redaction`: `finding`'s fix replaced its span with `text`, at output offset `offset`, before release.
    - `retract`: drop everything released from output offset `offset` on; `reason` says why.
    - `final`: the stream is over; `report` is the whole output's Report (its `output` is the truth).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: StreamEventType
    text: str | None = None
    finding: Finding | None = None
    report: Report | None = None
    offset: int | None = None
    reason: str | None = None
    closers: str | None = None
    """JSON streams: brackets that close the output released so far into valid JSON."""
    source: Literal["primary", "fallback", "repaired", "last_resort"] | None = None
    """On `final` events from Guard.stream: where the delivered answer came from."""
    result: GuardResult | None = None
    """On `final` events from Guard.stream: the whole run (usage over attempts, the delivered message)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _RawHit:
    """A hit on the scanned window (`hit`, window offsets) that starts `base` characters into the stream."""

    compiled: CompiledRule
    hit: Hit
    base: int

    @property
    def start(self) -> int:
        return self.hit.start + self.base

    @property
    def end(self) -> int:
        return self.hit.end + self.base


@dataclasses.dataclass(slots=True)
class _ScanJob:
    """A scan of the window as it was when the scan started, run one check per step over several feed() calls."""

    cut: int  # release up to here (settled when the scan started)
    settled_end: int
    doc: Document  # the tail then
    base: int  # its offset in the stream
    released: int  # text before this offset was released then
    step: int = 0  # the next rule to run; len(rules) = judge and release
    sub: int = 0  # steps of that rule's stream_steps() taken
    pending: Iterator[None] | None = None  # the rest of them
    hits: list[_RawHit] = dataclasses.field(default_factory=list)
    todo: list[_RawHit] = dataclasses.field(default_factory=list)  # hits whose finding is still to build
    built: dict[int, Finding] = dataclasses.field(default_factory=dict)  # id of a hit -> its finding
    calls_left: int | None = None  # feed() calls left to finish it in (None: not started)
    share: float = 0.0  # seconds of expected step costs one call takes on


@runtime_checkable
class _SteppedCheck(Protocol):
    """A check that can build what it shares with its siblings ahead of run(), a piece per step (PII, regex)."""

    def stream_steps(self, doc: Document, ctx: RunContext) -> Iterator[None]: ...


_DONE = object()


_COSTS: weakref.WeakKeyDictionary[Engine, dict[tuple[int, int], float]] = weakref.WeakKeyDictionary()


def _step_costs(engine: Engine) -> dict[tuple[int, int], float]:
    """Seconds each scan step (the compiled rule's id, or 0 for the release; the piece) took lately, per engine:
    a new stream on the same engine plans its first scan with them."""
    costs = _COSTS.get(engine)
    if costs is None:
        costs = _COSTS[engine] = {}
    return costs


def _shift(hit: Hit, delta: int) -> Hit:
    if delta == 0:
        return hit
    fix = hit.fix
    if fix is not None:
        # A copy, so every other field (safe, redacts) stays what the check said.
        edits = [e.model_copy(update={"start": e.start + delta, "end": e.end + delta}) for e in fix.edits]
        fix = fix.model_copy(update={"edits": edits})
    return dataclasses.replace(hit, start=hit.start + delta, end=hit.end + delta, fix=fix)


class StreamValidator:
    """Feed chunks, forward the events. One validator per stream; not thread-safe.

    `json`: None detects JSON from the first non-blank character (`{` or `[`); True/False force it.
    `hold_back`: characters kept unreleased at the tail (default: the largest lookbehind of the streaming
    checks). `release`: "cleared" releases text as the streaming checks clear it; "final" releases nothing
    until every check (streaming or not) has run at `finish()`, for consumers that must never see a retract.
    `min_release`: scan and release once at least this many settled characters wait, so the scan's cost is
    shared by several chunks (a token is ~4 characters). `scan_calls`: a scan is spread evenly over up to this
    many feed() calls (1: all of it in the call that starts it), so no one call pays for all of it.
    """

    def __init__(
        self,
        engine: Engine,
        context: Context | dict[str, Any] | None = None,
        *,
        listeners: Sequence[Listener] = (),
        json: bool | None = None,
        hold_back: int | None = None,
        release: Literal["cleared", "final"] = "cleared",
        min_release: int = 64,
        scan_calls: int = 8,
    ) -> None:
        self.engine = engine
        self.context = Context.coerce(context)
        self.run_id = self.context.request_id or uuid.uuid4().hex[:16]
        self.listeners = tuple(listeners)
        # Only checks that can flag something under this context are run on prefixes and waited for.
        reach: dict[str | None, int] = {}
        rules = []
        for r in engine.rules:
            lookbehind = r.check.stream_lookbehind(self.context) if r.check.streaming else None
            if lookbehind is not None:
                rules.append(r)
                reach[r.check.boundary] = max(reach.get(r.check.boundary, 0), lookbehind)
        self.rules = tuple(rules)
        self._stepped = tuple(isinstance(r.check, _SteppedCheck) for r in rules)
        # A sentence-bounded rule's lookbehind also bounds how far its look-behind assertions read before a match
        # ("according to ..." before a percentage): keep that much released text as context for the next scan.
        self._context = max(_CONTEXT, reach.get("sentence", 0))
        self._floor = max(reach.pop(None, 0), hold_back or 0)
        # boundary kind -> characters held before the start of the unit being written
        self._reach = {kind: n for kind, n in reach.items() if kind is not None}
        self._units = dict.fromkeys(self._reach, 0)  # boundary kind -> where the unit being written starts
        self._recent = ""  # the last few characters received: a boundary may straddle two chunks
        self.hold_back = max([self._floor, *self._reach.values()])
        """The largest hold-back in characters (before a unit's start, for checks with a boundary)."""
        self.release = release
        self.min_release = max(1, min_release)
        self.scan_calls = max(1, scan_calls)
        self._job: _ScanJob | None = None  # the scan in progress, spread over feed() calls
        self._json = json
        self._scanner: JSONStreamScanner | None = JSONStreamScanner() if json else None
        self._html: HTMLStreamScanner | None = None
        self._parts: list[str] = []
        self._received = 0  # characters received
        self._tail = ""  # received text from _tail_start on (unreleased text plus lookbehind context)
        self._tail_start = 0
        self._tail_lines = 0  # newlines before the tail, and characters on the tail's first line before it,
        self._tail_col0 = 0  # so findings on the tail get line:column in the whole stream
        self._released_raw = 0  # received text before this offset is released (or retracted)
        self._out: list[str] = []  # text released and not retracted
        self._out_len = 0
        self._seen: set[tuple[str, int, int]] = set()
        self._halted: str | None = None  # why release stopped for good (a finding that needs action)
        self._frozen: str | None = None  # why release paused until finish (a check failed on a prefix)
        self._finished = False
        self.chunks = 0

    # -- public -----------------------------------------------------------------------------------------

    @property
    def released(self) -> str:
        """The text released so far and not retracted."""
        return "".join(self._out)

    @property
    def halted(self) -> bool:
        """True once a finding that needs more than a repair stopped the release for good."""
        return self._halted is not None

    def retract_all(self, why: str) -> StreamEvent:
        """Withdraw everything released (the stream will not be finished, e.g. its provider failed)."""
        self._halted = self._halted or why
        return self._emit([self._retract(0, why)])[0]

    @property
    def received(self) -> str:
        return "".join(self._parts)

    def feed(self, chunk: str) -> list[StreamEvent]:
        """Take the next chunk; return the events it allows (possibly none while text is held back)."""
        if self._finished:
            raise RuntimeError("feed() after finish(): a StreamValidator validates one stream")
        if not isinstance(chunk, str):
            raise TypeError(f"chunk must be str, got {type(chunk).__name__}")
        self.chunks += 1
        if not chunk:
            return []
        self._parts.append(chunk)
        self._received += len(chunk)
        if self._received > self.engine.policy.max_output_chars:
            self._frozen = self._frozen or "output exceeds the policy's max_output_chars"
        if self._halted or self._frozen or self.release == "final":
            return []  # nothing more is released before finish(): keep the chunk, skip the scan
        self._tail += chunk
        if self._units:
            self._track_units(chunk)
        if self._json is None:
            self._detect_json()
        if self._scanner is not None:
            self._scanner.feed(chunk)
        elif self._html is not None:
            self._html.feed(chunk)
        cut = self._settled()
        if self._scanner is not None:
            cut = min(cut, self._scanner.safe)
        if self._job is None:
            waiting = cut - self._released_raw
            # A broken (or finished) JSON text will not offer a later cut: release what is settled now.
            stuck = self._scanner is not None and (self._scanner.error is not None or self._scanner.done)
            if waiting <= 0 or (waiting < self.min_release and not stuck):
                return []
            self._job = _ScanJob(cut, self._settled(), Document(self._tail), self._tail_start, self._released_raw)
        events: list[StreamEvent] = []
        self._work(self._job, events)
        return self._emit(events)

    def finish(self) -> list[StreamEvent]:
        """The stream ended: validate the whole output, reconcile what was released, end with `final`."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        text = self.received
        report = self.engine.validate(text, self.context)
        if self.listeners:
            for t in report.timings:
                emit(
                    self.listeners, CheckTimed(run_id=self.run_id, number=0, rule_id=t.rule_id, check=t.check, ms=t.ms)
                )
        events: list[StreamEvent] = []
        for finding in report.findings:
            if (finding.rule_id, finding.span.start, finding.span.end) not in self._seen:
                events.append(StreamEvent(type="finding", finding=finding))
        if report.verdict.needs_action:
            if self._out_len:
                events.append(self._retract(0, f"final verdict {report.verdict}: {_why(report)}"))
        else:
            delivered = report.output
            released = self.released
            if not delivered.startswith(released):
                keep = _common_prefix(delivered, released)
                events.append(self._retract(keep, "the whole-output validation changed text already released"))
            events.extend(self._tail_redactions(report))
            if len(delivered) > self._out_len:
                events.append(self._text(delivered[self._out_len :], self._final_closers(delivered)))
        events.append(StreamEvent(type="final", report=report, offset=self._out_len))
        return self._emit(events)

    def _final_closers(self, delivered: str) -> str | None:
        """For JSON streams: "" when the delivered output is one complete JSON value (nothing to close)."""
        if self._scanner is None:
            return None
        scanner = JSONStreamScanner()
        scanner.feed(delivered)
        scanner.finish()
        return "" if scanner.error is None else None

    def _tail_redactions(self, report: Report) -> list[StreamEvent]:
        """`redaction` events for repairs the whole-output validation made in text not yet released."""
        # Later repair rounds edit repaired text, so offsets no longer map simply: then report them bare.
        multi_round = any(a.round > 1 for a in report.edits)
        first_round = [] if multi_round else [a.edit for a in report.edits]
        events = []
        for applied in report.edits:
            edit = applied.edit
            if applied.round != 1 or edit.start < self._released_raw:
                continue
            shift = sum(len(e.replacement) - (e.end - e.start) for e in first_round if e.end <= edit.start)
            finding = next(
                (
                    f
                    for f in report.findings
                    if f.code == edit.code and f.span.start <= edit.start and edit.end <= f.span.end
                ),
                None,
            )
            events.append(
                StreamEvent(
                    type="redaction",
                    finding=finding,
                    text=edit.replacement,
                    offset=edit.start + shift if first_round else None,
                    reason=applied.fix_title,
                )
            )
        return events

    # -- release -----------------------------------------------------------------------------------------

    def _settled(self) -> int:
        """Received text before this offset is settled: no later chunk changes what a streaming check says."""
        cut = self._received - self._floor
        for kind, lookbehind in self._reach.items():
            cut = min(cut, self._units[kind] - lookbehind)
        return cut

    def _track_units(self, chunk: str) -> None:
        """Move each boundary kind's unit start past the last boundary the new text completes."""
        window = self._recent + chunk
        base = self._received - len(window)
        for kind in self._units:
            m = _UNIT_END[kind].match(window)
            if m is not None:
                self._units[kind] = max(self._units[kind], base + m.end())
        self._recent = window[-8:]

    def _detect_json(self) -> None:
        stripped = self._tail.lstrip()
        if stripped:
            self._json = stripped[0] in "{["
            if self._json:
                self._scanner = JSONStreamScanner()
                self._scanner.feed("".join(self._parts[:-1]))
            elif stripped[0] == "<":
                self._html = HTMLStreamScanner()
                self._html.feed("".join(self._parts[:-1]))  # feed() passes it the chunk itself

    def _work(self, job: _ScanJob, events: list[StreamEvent]) -> None:
        """Run this call's share of the scan: steps (a piece of a check's shared analysis, a check, the release)
        whose expected costs add up to a `scan_calls`-th of the whole scan's.

        A scan of the window costs far more than a chunk's share of it (every check's fixed cost, the PII
        analysis): run at once, it made the one chunk in sixteen that triggered it pay ~0.5-1.5 ms. Spread
        evenly over the next few calls, each pays a fraction, and the release comes about `scan_calls - 1`
        chunks later (at most twice that). The scan judges the snapshot taken when it started (text settled
        then), so spreading it delays a release, never widens one.
        """
        costs = _step_costs(self.engine)
        if job.calls_left is None:
            # An HTML scan is mostly validating the complete elements with the whole policy, one step that
            # spreading would only delay. Otherwise twice the calls planned at most: steps estimated too cheap
            # must not hold a release back for long.
            calls = 1 if self._html is not None else self.scan_calls
            job.calls_left = 2 * calls if calls > 1 else 1
            job.share = sum(costs.values()) / calls
        share = math.inf if job.calls_left <= 1 else job.share
        job.calls_left -= 1
        planned = 0.0
        while self._job is job:
            key = (id(self.rules[job.step]) if job.step < len(self.rules) else 0, job.sub)
            guess = costs.get(key)
            if planned and guess is not None and planned + guess > share:
                return
            t0 = time.perf_counter()
            self._step(job, events)
            took = time.perf_counter() - t0
            planned += took if guess is None else guess
            # A decaying maximum: a step that once ran long is expected to again, until it shows otherwise.
            costs[key] = took if guess is None else max(took, guess * 0.8)

    def _step(self, job: _ScanJob, events: list[StreamEvent]) -> None:
        if job.step == len(self.rules):
            # Build the findings of the hits that look settled, one per step (building one is the costly part of
            # judging); then judge and release in one step, which reuses them.
            if job.sub == 0:
                job.todo = sorted((h for h in job.hits if h.end <= job.cut), key=lambda h: -h.start)
            job.sub += 1
            if job.todo:
                h = job.todo.pop()
                job.built[id(h)] = self._finding(h, job.doc)
                return
            self._job = None
            self._advance(job, events)
            return
        compiled = self.rules[job.step]
        check = compiled.check
        ctx = RunContext(self.context, Deadline(compiled.deadline_s))
        t0 = time.perf_counter()
        if job.sub == 0 and self._stepped[job.step]:
            job.pending = iter(cast(_SteppedCheck, check).stream_steps(job.doc, ctx))
        if job.pending is not None:
            # The check builds what it shares with its siblings a piece per step before it runs.
            job.sub += 1
            try:
                if next(job.pending, _DONE) is not _DONE:
                    return
            except Exception as exc:
                self._frozen = f"check {compiled.rule.id} failed on a prefix: {type(exc).__name__}"
                self._job = None
                return
            job.pending = None
        job.step += 1
        job.sub = 0
        try:
            found = list(iter_hits(check, job.doc, ctx))
        except Exception as exc:
            self._frozen = f"check {compiled.rule.id} failed on a prefix: {type(exc).__name__}"
            self._job = None
            return
        if time.perf_counter() - t0 > compiled.deadline_s:
            self._frozen = f"check {compiled.rule.id} ran past its deadline on a prefix"
            self._job = None
            return
        base = job.base
        job.hits.extend(_RawHit(compiled, h, base) for h in found if h.start + base >= job.released)

    def _advance(self, job: _ScanJob, events: list[StreamEvent]) -> None:
        hits, cut, settled_end = job.hits, job.cut, job.settled_end
        # A match that reaches into the unsettled tail may still grow: hold the cut back to its start, and
        # never cut through a match. Latest start first: a cut moved to a match's start can only fall inside
        # matches that start earlier, which come later in this order, so one pass finds the cut.
        for h in sorted(hits, key=lambda h: h.start, reverse=True):
            if h.start < cut and (h.end > cut or h.end > settled_end):
                cut = h.start
        closers = None
        if self._scanner is not None:
            boundary = self._scanner.take(cut)
            if boundary is None:
                return
            cut, closers = boundary
        elif self._html is not None:
            self._release_html(self._html.take(cut), events)
            return
        if cut <= self._released_raw:
            return
        settled = [h for h in hits if h.end <= cut and h.start >= self._released_raw]
        edits = self._judge(settled, job.doc, job.built, events)
        if self._halted:
            return
        segment = self._tail[self._released_raw - self._tail_start : cut - self._tail_start]
        local = [
            e.model_copy(update={"start": e.start - self._released_raw, "end": e.end - self._released_raw})
            for e in edits
        ]
        out = apply_edits(segment, local) if local else segment
        events.append(self._text(out, closers))
        self._released_raw = cut
        self._drop_tail(cut)

    def _drop_tail(self, cut: int) -> None:
        # Matches starting before the cut have been judged; keep a little text before it only as context
        # for the next scan (word boundaries, short lookbehind assertions).
        drop = max(0, cut - self._context) - self._tail_start
        if drop > 0:
            dropped = self._tail[:drop]
            newlines = dropped.count("\n")
            self._tail_lines += newlines
            self._tail_col0 = drop - dropped.rfind("\n") - 1 if newlines else self._tail_col0 + drop
            self._tail = self._tail[drop:]
            self._tail_start += drop

    def _release_html(self, cut: int | None, events: list[StreamEvent]) -> None:
        """Release HTML up to an element boundary once the whole policy passes the elements before it.

        Markup checks (sanitising, templates) cannot judge a prefix cut anywhere, but a run of complete
        top-level elements is judged as it will be in the whole output: validate that run with every rule and
        release its delivered (repaired) text. A run that needs more than a repair (a template section still to
        come, a finding to act on) stops the release until finish() judges the whole output.
        """
        if cut is None or cut <= self._released_raw:
            return
        start = self._released_raw
        segment = self._tail[start - self._tail_start : cut - self._tail_start]
        report = self.engine.validate(segment, self.context)
        if report.verdict.needs_action:
            self._frozen = f"the HTML before offset {cut} needs action ({report.verdict}): released at the end"
            return
        for finding in report.findings:
            span = finding.span.model_copy(
                update={"start": finding.span.start + start, "end": finding.span.end + start}
            )
            self._seen.add((finding.rule_id, span.start, span.end))
            events.append(StreamEvent(type="finding", finding=finding.model_copy(update={"span": span})))
        events.append(self._text(report.output))
        self._released_raw = cut
        self._drop_tail(cut)

    def _finding(self, h: _RawHit, doc: Document) -> Finding:
        return self._to_stream_coordinates(self.engine.finding_from_hit(h.compiled.rule, h.hit, doc), h, doc)

    def _judge(
        self, settled: list[_RawHit], doc: Document, built: dict[int, Finding], events: list[StreamEvent]
    ) -> list[Edit]:
        """Turn settled hits (on `doc`, the scanned window; `built`: findings made ahead, by id of the hit) into
        findings; return the redaction edits to apply, or halt the release."""
        if not settled:
            return []
        findings: list[Finding] = []
        for h in sorted(settled, key=lambda h: (h.start, h.end, h.compiled.rule.code)):
            key = (h.compiled.rule.id, h.start, h.end)
            if key in self._seen:
                continue
            self._seen.add(key)
            finding = built.get(id(h)) or self._finding(h, doc)
            suppressor = self.engine.suppressor
            if suppressor is not None and suppressor(self.engine.policy.name, finding.rule_id, finding.fingerprint):
                continue
            findings.append(finding)
        # As validate() does: a superseded finding would otherwise keep its own (dropped) fix and halt the stream.
        findings = self.engine.drop_superseded(findings)
        repair = self.engine.policy.repair
        chosen = choose_fixes(findings, allow_unsafe=repair.allow_unsafe) if repair.enabled else []
        fixed = {id(c.finding): c.fix for c in chosen}
        # Redactions folded into another's merged edit (a card-shaped run inside an IBAN) are repaired by that edit.
        covered = {id(m) for c in chosen for m in c.merged}
        edits: list[Edit] = []
        for i, finding in enumerate(findings):
            if id(finding) in covered:
                events.append(
                    StreamEvent(type="finding", finding=finding.model_copy(update={"status": FindingStatus.REPAIRED}))
                )
                continue
            events.append(StreamEvent(type="finding", finding=finding))
            fix = fixed.get(id(finding))
            if fix is not None:
                edits.extend(e.model_copy(update={"code": e.code or finding.code}) for e in fix.edits)
                events.append(
                    StreamEvent(
                        type="redaction",
                        finding=finding.model_copy(update={"status": FindingStatus.REPAIRED}),
                        text="".join(e.replacement for e in fix.edits),
                        offset=self._output_offset(fix.edits[0].start, [c.fix for c in chosen]),
                    )
                )
                continue
            action = self.engine.policy.unrepaired_action if finding.action is Action.REPAIR else finding.action
            if Verdict.for_action(action).needs_action:
                # The findings after this one are not shown now: finish() reports them with the whole output's.
                for rest in findings[i + 1 :]:
                    self._seen.discard((rest.rule_id, rest.span.start, rest.span.end))
                self._halt(f"{finding.code} {finding.rule_id}: {finding.message}", events)
                return []
        return edits

    def _to_stream_coordinates(self, finding: Finding, h: _RawHit, doc: Document) -> Finding:
        """Shift a finding made on the window to offsets (and line:column) in the whole stream."""
        line, col = doc.line_col(h.hit.start)
        if line == 1:
            col += self._tail_col0
        span = finding.span.model_copy(
            update={"start": h.start, "end": h.end, "line": line + self._tail_lines, "column": col}
        )
        return finding.model_copy(update={"span": span, "fix": _shift(h.hit, h.base).fix})

    def _output_offset(self, raw: int, fixes: list[Fix]) -> int:
        """Where received offset `raw` (not yet released) lands in the output once `fixes` are applied."""
        shift = sum(len(e.replacement) - (e.end - e.start) for f in fixes for e in f.edits if e.end <= raw)
        return self._out_len + raw - self._released_raw + shift

    def _halt(self, why: str, events: list[StreamEvent]) -> None:
        self._halted = why
        if self._out_len:
            events.append(self._retract(0, why))

    def _text(self, text: str, closers: str | None = None) -> StreamEvent:
        event = StreamEvent(type="text", text=text, offset=self._out_len, closers=closers)
        self._out.append(text)
        self._out_len += len(text)
        return event

    def _retract(self, keep: int, why: str) -> StreamEvent:
        released = self.released[:keep]
        self._out = [released] if released else []
        self._out_len = keep
        return StreamEvent(type="retract", offset=keep, reason=why)

    def _emit(self, events: list[StreamEvent]) -> list[StreamEvent]:
        if self.listeners:
            for event in events:
                emit(self.listeners, event)
        return events


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _why(report: Report) -> str:
    strongest = [f for f in report.open_findings if Verdict.for_action(f.action) is report.verdict]
    first = strongest[0] if strongest else (report.open_findings[0] if report.open_findings else None)
    return f"{first.code} {first.rule_id}: {first.message}" if first else "see the report"
