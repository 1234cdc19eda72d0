"""Turn an item's report into what the page shows: highlighted segments, an evidence list and a diff."""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from guardrails import Finding, FindingStatus, Report

MAX_DIFF_CHARS = 100_000
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


@dataclass
class Segment:
    text: str
    findings: list[int] = field(default_factory=list)
    severity: str | None = None

    @property
    def ids(self) -> str:
        return " ".join(f"f{i}" for i in self.findings)


@dataclass
class DiffPart:
    op: str  # equal, insert, delete
    text: str


def highlight(text: str, findings: list[Finding]) -> list[Segment]:
    """Split `text` at every span boundary; each segment knows which findings cover it (spans may overlap)."""
    spans = [(i, f) for i, f in enumerate(findings) if f.span.end <= len(text) and f.span.end > f.span.start]
    cuts = sorted({0, len(text), *(f.span.start for _, f in spans), *(f.span.end for _, f in spans)})
    segments = []
    for a, b in itertools.pairwise(cuts):
        covering = [i for i, f in spans if f.span.start <= a and b <= f.span.end]
        worst = max((findings[i] for i in covering), key=lambda f: f.severity.rank, default=None)
        segments.append(Segment(text[a:b], covering, worst.severity.value if worst else None))
    return segments or [Segment(text)]


def diff(original: str, delivered: str) -> list[DiffPart] | None:
    """Character diff of the repair; None when the texts are too large to diff on a page."""
    if original == delivered:
        return []
    if len(original) + len(delivered) > MAX_DIFF_CHARS:
        return None
    # Word-level: a character diff of "db1.corp" -> "[internal host]" shreds both into noise.
    a, b = _TOKEN.findall(original), _TOKEN.findall(delivered)
    chunks: list[tuple[str, str, str]] = []  # (op, old text, new text)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        chunks.append(("equal" if tag == "equal" else "change", "".join(a[i1:i2]), "".join(b[j1:j2])))
    # A stray "." matched between two changes reads worse than one clean replacement: fold it in.
    for n in range(1, len(chunks) - 1):
        op, old, _new = chunks[n]
        if op == "equal" and len(old.strip()) <= 2 and chunks[n - 1][0] == chunks[n + 1][0] == "change":
            chunks[n] = ("change", old, old)
    parts: list[DiffPart] = []
    pending_old, pending_new = "", ""
    for op, old, new in [*chunks, ("equal", "", "")]:
        if op == "change":
            pending_old, pending_new = pending_old + old, pending_new + new
            continue
        if pending_old or pending_new:
            common = _common_suffix(pending_old, pending_new)
            tail = pending_old[len(pending_old) - common :] if common else ""
            if pending_old[: len(pending_old) - common]:
                parts.append(DiffPart("delete", pending_old[: len(pending_old) - common]))
            if pending_new[: len(pending_new) - common]:
                parts.append(DiffPart("insert", pending_new[: len(pending_new) - common]))
            if tail:
                parts.append(DiffPart("equal", tail))
            pending_old, pending_new = "", ""
        if old:
            parts.append(DiffPart("equal", old))
    return parts


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def evidence_rows(f: Finding) -> list[tuple[str, Any]]:
    """The evidence fields a reviewer needs, in a fixed order, skipping empty ones."""
    e = f.evidence
    rows: list[tuple[str, Any]] = []
    for label, value in (
        ("score", e.score),
        ("threshold", e.threshold),
        ("pattern", e.pattern),
        ("matched", e.matched),
        ("source", e.source),
    ):
        if value is not None and value != "":
            rows.append((label, value))
    if e.fact:
        rows.append(("fact row", e.fact))
    for key, value in sorted(e.details.items()):
        rows.append((key, value))
    if f.span.pointer:
        rows.append(("JSON pointer", f.span.pointer))
    if f.span.path:
        rows.append(("element", f.span.path))
    return rows


def open_findings(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.status is FindingStatus.OPEN]


def prompt_of(context: dict[str, Any]) -> str | None:
    """What the output answers, for the column beside it: the prompt, else the conversation's messages."""
    prompt = context.get("prompt")
    if isinstance(prompt, str) and prompt:
        return prompt
    messages = context.get("messages")
    if isinstance(messages, list) and messages:
        lines = []
        for m in messages:
            if isinstance(m, dict):
                content = m.get("content")
                text = content if isinstance(content, str) else "" if content is None else str(content)
                lines.append(f"{m.get('role', '?')}: {text}")
        return "\n\n".join(lines) or None
    return None
