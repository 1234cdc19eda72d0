"""A validation's span tree, built after the fact from its Report.

The engine times every check already (`Report.timings`, in the order they ran: the first pass, then each repair
round's re-validation). Spans are made from those with explicit start and end times once validate() returns, so
an untraced run pays for nothing but the `tracing()` test, and a traced one adds no clock reads to the checks.
Child times are laid end to end from the validation's start: the gaps between checks (building findings,
applying edits) are not timed by the engine, so each child's start is where the previous ended, and what is
left over stays inside the parent.

Attributes are policy, version, verdict, codes, counts and sizes: never the output, a finding's message or
evidence, or a failing check's error text (which may quote what it was handed).

A span per check is most of a traced validation's cost (a policy of 70 rules makes 70 spans). With
OUTGUARD_TRACE_CHECKS=notable only checks that found something, degraded, or took NOTABLE_MS or more get a span;
the others are counted in the parent's `outguard.checks.omitted`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from guardrails.findings import CheckTiming, Report
from guardrails.telemetry._otel import tracer

NOTABLE_MS = 1.0


def validation_attributes(report: Report) -> dict[str, Any]:
    codes = sorted({f.code for f in report.findings})
    return {
        "outguard.policy": report.policy,
        "outguard.policy_version": report.policy_version,
        "outguard.verdict": report.verdict.value,
        "outguard.codes": codes,
        "outguard.findings": len(report.findings),
        "outguard.output.chars": len(report.original),
        "outguard.delivered.chars": len(report.output),
        "outguard.edits": len(report.edits),
        "outguard.degraded": len(report.degraded),
    }


def passes(timings: Sequence[CheckTiming]) -> list[list[CheckTiming]]:
    """The timings split into passes: a rule seen again starts the next pass (the first repair round's
    re-validation, then the next). Robust to passes that skip rules."""
    out: list[list[CheckTiming]] = []
    seen: set[str] = set()
    for t in timings:
        if not out or t.rule_id in seen:
            out.append([])
            seen = set()
        seen.add(t.rule_id)
        out[-1].append(t)
    return out


def record_validation(report: Report, *, name: str = "outguard.validate") -> None:
    """Record `report`'s validation as a span (child of the current one) with a child per check of the first
    pass and one per repair round (whose children are that round's checks)."""
    from opentelemetry.trace import Status, StatusCode, set_span_in_context

    t = tracer()
    end = time.time_ns()
    start = end - int(report.elapsed_ms * 1e6)
    span = t.start_span(name, start_time=start, attributes=validation_attributes(report))
    if not span.is_recording():  # sampled out (OTEL_TRACES_SAMPLER): its children would be dropped too
        return
    parent = set_span_in_context(span)
    codes_by_rule: dict[str, set[str]] = {}
    for f in report.findings:
        codes_by_rule.setdefault(f.rule_id, set()).add(f.code)
    degraded = {d.rule_id: d.reason.value for d in report.degraded}
    notable_only = os.environ.get("OUTGUARD_TRACE_CHECKS", "all") == "notable"
    omitted = 0
    clock = start
    for number, timings in enumerate(passes(report.timings)):
        round_span = None
        context = parent
        if number:
            edits = [e for e in report.edits if e.round == number]
            round_span = t.start_span(
                "outguard.repair",
                context=parent,
                start_time=clock,
                attributes={
                    "outguard.repair.round": number,
                    "outguard.repair.edits": len(edits),
                    "outguard.codes": sorted({e.edit.code for e in edits if e.edit.code}),
                },
            )
            context = set_span_in_context(round_span)
        for timing in timings:
            stop = min(end, clock + int(timing.ms * 1e6))
            codes = sorted(codes_by_rule.get(timing.rule_id, ())) if not number else []
            reason = degraded.get(timing.rule_id)
            if notable_only and not codes and reason is None and timing.ms < NOTABLE_MS:
                omitted += 1
                clock = stop
                continue
            attributes: dict[str, Any] = {"outguard.rule_id": timing.rule_id, "outguard.check": timing.check}
            if codes:  # left out when empty: cleaning a sequence attribute is most of a span's cost
                attributes["outguard.codes"] = codes
            child = t.start_span("outguard.check", context=context, start_time=clock, attributes=attributes)
            if reason is not None:
                # The reason only: the degraded entry's detail carries the exception's text.
                child.set_attribute("outguard.degraded", reason)
                child.set_status(Status(StatusCode.ERROR, reason))
            child.end(end_time=stop)
            clock = stop
        if round_span is not None:
            round_span.end(end_time=clock)
    if omitted:
        span.set_attribute("outguard.checks.omitted", omitted)
    if report.degraded:
        span.set_status(Status(StatusCode.ERROR, "degraded"))
    span.end(end_time=end)
