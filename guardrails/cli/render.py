"""Render a Report for people: the output with flagged spans underlined and fixes listed, like a compiler."""

from __future__ import annotations

from guardrails.cli._style import PLAIN, TONE, Style
from guardrails.document import Document
from guardrails.findings import Finding, Report

_CONTEXT_LINES = 0
_MAX_LINE = 160


def in_position_order(findings: list[Finding]) -> list[Finding]:
    """Top to bottom, left to right, as a reader meets them (the engine lists them rule by rule)."""
    return sorted(findings, key=lambda f: (f.span.start, f.span.end, f.code))


def _underline(doc: Document, f: Finding, style: Style) -> list[str]:
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
    carets = "^" * min(width, _MAX_LINE - (col - 1 - lo))
    return [
        style(gutter, "blue") + shown,
        style(pad, "blue") + " " * (col - 1 - lo) + style(carets, *TONE.get(f.action.value, ())),
    ]


def _headline(label: str, f: Finding, style: Style, status: str = "") -> str:
    return (
        f"{style(f'{label}:{f.span.line}:{f.span.column}:', 'bold')} "
        f"{style(f.code, *TONE.get(f.action.value, ('bold',)))} {f.rule_id} [{f.action.value}]{status} {f.message}"
    )


def render_text(report: Report, label: str, style: Style = PLAIN) -> str:
    doc = Document(report.original)
    out: list[str] = []
    for f in in_position_order(report.findings):
        status = "" if f.status.value == "open" else f" ({f.status.value})"
        out.append(_headline(label, f, style, status))
        if f.span.pointer:
            out.append(f"      at {f.span.pointer}")
        if f.span.path:
            out.append(f"      at {f.span.path}")
        out.extend(_underline(doc, f, style))
        if f.fix is not None:
            out.append(style(f"      fix ({'safe' if f.fix.safe else 'unsafe'}): {f.fix.title}", "dim"))
    # The residual holds every finding still open on the repaired text, most of them the open ones above
    # (same fingerprint: rule, anchor and matched text, not offsets). Print only what is new there.
    shown = {f.fingerprint for f in report.findings}
    new = [f for f in in_position_order(report.residual) if f.fingerprint not in shown]
    if new:
        out.append(style("after repair, new on the repaired output:", "bold"))
        rdoc = Document(report.output)
        for f in new:
            out.append(_headline(f"{label} (repaired)", f, style))
            out.extend(_underline(rdoc, f, style))
    for d in report.degraded:
        out.append(style(f"degraded: {d.rule_id} ({d.check}) {d.reason.value}: {d.detail}", "yellow"))
    if report.edits:
        out.append(f"applied {len(report.edits)} edit(s) in {max(e.round for e in report.edits)} round(s)")
    if report.regeneration:
        out.append("regeneration requested:")
        out.extend(f"  - {r.code}: {r.instruction}" for r in report.regeneration.reasons)
    still_open = len(report.open_findings)
    after = f", {still_open} open after repair" if report.edits else ""
    out.append(
        f"verdict: {style(report.verdict.value, *TONE.get(report.verdict.value, ()))} "
        f"({len(report.findings)} finding(s){after}, policy {report.policy} "
        f"{report.policy_version}, {report.elapsed_ms:.2f} ms)"
    )
    return "\n".join(out)
