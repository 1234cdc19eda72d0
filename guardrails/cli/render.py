"""Render a Report for people: the output with flagged spans underlined and fixes listed, like a compiler."""

from __future__ import annotations

from guardrails.document import Document
from guardrails.findings import Finding, Report

_CONTEXT_LINES = 0
_MAX_LINE = 160


def _underline(doc: Document, f: Finding) -> list[str]:
    line_no, col = doc.line_col(f.span.start)
    lines = doc.text.split("\n")
    text = lines[line_no - 1] if line_no - 1 < len(lines) else ""
    end_line, end_col = doc.line_col(f.span.end)
    width = (end_col - col) if end_line == line_no else len(text) - col + 1
    width = max(1, width)
    lo = max(0, col - 1 - _MAX_LINE // 2) if len(text) > _MAX_LINE else 0
    shown = text[lo : lo + _MAX_LINE]
    gutter = f"{line_no:>5} | "
    pad = " " * (len(gutter) - 2) + "| "
    return [gutter + shown, pad + " " * (col - 1 - lo) + "^" * min(width, _MAX_LINE - (col - 1 - lo))]


def render_text(report: Report, label: str) -> str:
    doc = Document(report.original)
    out: list[str] = []
    for f in report.findings:
        status = "" if f.status.value == "open" else f" ({f.status.value})"
        out.append(
            f"{label}:{f.span.line}:{f.span.column}: {f.code} {f.rule_id} [{f.action.value}]{status} {f.message}"
        )
        if f.span.pointer:
            out.append(f"      at {f.span.pointer}")
        if f.span.path:
            out.append(f"      at {f.span.path}")
        out.extend(_underline(doc, f))
        if f.fix is not None:
            out.append(f"      fix ({'safe' if f.fix.safe else 'unsafe'}): {f.fix.title}")
    if report.residual:
        out.append("after repair, still open:")
        rdoc = Document(report.output)
        for f in report.residual:
            out.append(
                f"{label} (repaired):{f.span.line}:{f.span.column}: {f.code} {f.rule_id} [{f.action.value}] {f.message}"
            )
            out.extend(_underline(rdoc, f))
    for d in report.degraded:
        out.append(f"degraded: {d.rule_id} ({d.check}) {d.reason.value}: {d.detail}")
    if report.edits:
        out.append(f"applied {len(report.edits)} edit(s) in {max(e.round for e in report.edits)} round(s)")
    if report.regeneration:
        out.append("regeneration requested:")
        out.extend(f"  - {r.code}: {r.instruction}" for r in report.regeneration.reasons)
    out.append(
        f"verdict: {report.verdict.value} ({len(report.findings)} finding(s), policy {report.policy} "
        f"{report.policy_version}, {report.elapsed_ms:.2f} ms)"
    )
    return "\n".join(out)
