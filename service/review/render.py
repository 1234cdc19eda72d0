"""Turn an item's report into what the page shows: highlighted segments, an evidence list and a diff."""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from guardrails import Finding, FindingStatus, Report
from guardrails.text import STOPWORDS

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


# -- sources beside grounding findings ---------------------------------------------------------------

SOURCE_PREVIEW_CHARS = 600  # longer sources are collapsed to the passage around the highlight
SOURCE_MAX_CHARS = 200_000  # past this a source is cut before it is searched (a page, not an archive)
GROUNDING_CHECKS = frozenset({"grounding"})
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*", re.UNICODE)
_CONTENT_WORD = re.compile(r"\w{3,}", re.UNICODE)
# The grounding check's own function words: the overlap that picks a passage counts what it counts.
_COMMON = STOPWORDS


@dataclass
class SourcePassage:
    """A caller-given source as the item page shows it next to one grounding finding."""

    index: int
    label: str
    url: str | None
    segments: list[tuple[str, str | None]]  # the whole text: (part, None | "support" | "closest"), in order
    preview: list[tuple[str, str | None]] | None  # a long source's passage with context; the rest behind a toggle
    length: int
    kind: str | None  # "support": the finding's text is in this source; "closest": the nearest sentence


def sources_of(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The retrieved sources the caller passed (Context.sources), as stored with the item."""
    raw = context.get("sources")
    if not isinstance(raw, list):
        return []
    return [s for s in raw if isinstance(s, dict) and isinstance(s.get("text"), str)]


def source_passages(output: str, finding: Finding, sources: list[dict[str, Any]]) -> list[SourcePassage]:
    """Each source beside a grounding finding, with the passage that bears on it highlighted.

    A grounding finding says "no source states this", so a source rarely holds its exact text; when one
    does (a case or spacing difference the check's folding did not bridge) that occurrence is the
    supporting passage. Otherwise the source sentence sharing the most content words with the output's
    sentence around the finding is highlighted: it is where a reviewer compares "25%" against "5%".
    Highlights are segments of plain text; the template escapes every one of them.
    """
    if finding.check not in GROUNDING_CHECKS or not sources:
        return []
    claim = output[finding.span.start : finding.span.end] if finding.span.end > finding.span.start else ""
    claim = claim or str(finding.evidence.matched or "")
    around = _words(_sentence_around(output, finding.span.start, finding.span.end))
    out = []
    for n, src in enumerate(sources):
        text = str(src["text"])[:SOURCE_MAX_CHARS]
        hit = _find_folded(text, claim) if claim.strip() else None
        kind = "support" if hit else None
        if hit is None and around:
            hit = _closest_sentence(text, around)
            kind = "closest" if hit else None
        segments: list[tuple[str, str | None]] = [(text, None)] if hit is None else _cut(text, hit, kind)
        sid, url = src.get("id"), src.get("url")
        out.append(
            SourcePassage(
                index=n + 1,
                label=str(sid) if sid else f"source {n + 1}",
                url=str(url) if url else None,
                segments=segments,
                preview=_preview(segments, hit) if len(text) > SOURCE_PREVIEW_CHARS else None,
                length=len(text),
                kind=kind,
            )
        )
    return out


def _words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _CONTENT_WORD.findall(text)) if w not in _COMMON}


def _sentence_around(text: str, start: int, end: int) -> str:
    for m in _SENTENCE.finditer(text):
        if m.start() <= start < max(m.end(), start + 1):
            return text[m.start() : max(m.end(), end)]
    return text[max(0, start - 200) : end + 200]


def _find_folded(text: str, needle: str) -> tuple[int, int] | None:
    at = text.casefold().find(needle.casefold()) if len(text.casefold()) == len(text) else text.find(needle)
    return (at, at + len(needle)) if at >= 0 else None


def _closest_sentence(text: str, words: set[str]) -> tuple[int, int] | None:
    best, best_score = None, 0
    for m in _SENTENCE.finditer(text):
        score = len(words & _words(m.group()))
        if score > best_score:
            best, best_score = (m.start(), m.end()), score
    if best is None:
        return None
    start, end = best
    while start < end and text[start].isspace():
        start += 1
    return start, end


def _cut(text: str, hit: tuple[int, int], kind: str | None) -> list[tuple[str, str | None]]:
    a, b = hit
    return [(part, tag) for part, tag in ((text[:a], None), (text[a:b], kind), (text[b:], None)) if part]


def _preview(segments: list[tuple[str, str | None]], hit: tuple[int, int] | None) -> list[tuple[str, str | None]]:
    """The passage with some context either side, for a long source (the whole text sits behind a toggle)."""
    text = "".join(t for t, _ in segments)
    a, b = hit if hit is not None else (0, 0)
    lo = max(0, a - SOURCE_PREVIEW_CHARS // 3)
    hi = min(len(text), max(b, lo + SOURCE_PREVIEW_CHARS // 3) + SOURCE_PREVIEW_CHARS // 3)
    # Start and end on word boundaries ("… performance", not "… rmance"), never past the passage itself.
    space = text.find(" ", lo, a)
    lo = space + 1 if lo > 0 and space != -1 and space - lo < 40 else lo
    space = text.rfind(" ", b, hi)
    hi = space if hi < len(text) and space != -1 and hi - space < 40 else hi
    out: list[tuple[str, str | None]] = [("… ", None)] if lo > 0 else []
    pos = 0
    for part, tag in segments:
        s, e = max(lo, pos), min(hi, pos + len(part))
        if s < e:
            out.append((part[s - pos : e - pos], tag))
        pos += len(part)
    if hi < len(text):
        out.append((" …", None))
    return out
