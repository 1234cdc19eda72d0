"""`grounding`: what the output states that none of the context's source passages says.

When `Context.sources` carries passages, each entity (proper-noun phrase), number, date, quotation and
URL of the output must appear in at least one of them (or, with `include_prompt`, in the prompt). Each kind
can be switched off. An optional `words` kind scores the share of content words no source uses.
Comparison is case- and accent-insensitive; numbers and dates compare by value (1,200 = 1200; 5 March
2024 = 2024-03-05; a year alone matches any date in that year).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import regex
from pydantic import Field

from guardrails.checks._facts.text import Stated, fold, folded_view, scan_values, values_view
from guardrails.checks.base import Check, CheckParams, DeadlineExceeded, Hit, RunContext
from guardrails.checks.citation import url_spans
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Evidence
from guardrails.text.words import STOPWORDS


class GroundingParams(CheckParams):
    entities: bool = Field(default=True, description="Flag proper-noun phrases no source mentions")
    numbers: bool = Field(default=True, description="Flag numbers (amounts, quantities) no source states")
    dates: bool = Field(default=True, description="Flag dates and years no source states")
    quotes: bool = Field(default=True, description="Flag quotations no source contains verbatim")
    urls: bool = Field(default=True, description="Flag URLs no source contains")
    words: bool = Field(default=False, description="Flag the output when too many content words are unsupported")
    max_unsupported_words: float = Field(default=0.5, ge=0, le=1, description="Share of unsupported content words")
    min_words: int = Field(default=4, ge=1, description="Content words needed before the `words` share is judged")
    include_prompt: bool = Field(default=True, description="The prompt counts as a source (echoing it is grounded)")
    min_quote_words: int = Field(default=3, ge=1, description="Shortest quotation (in words) that is checked")
    day_first: bool = Field(
        default=False, description="Read numeric dates day first (03/05 = 3 May), in output and sources"
    )
    max_items: int = Field(default=200, ge=1, description="Report at most this many ungrounded items (the first ones)")


_QUOTE_RE = regex.compile(r"[\"“«„]([^\"“”«»„\n]{3,500})[\"”»“]")
_ENTITY_RE = regex.compile(
    r"(?<![\p{L}\p{N}])\p{Lu}[\p{L}\p{N}'\u2019.-]*(?:\s+(?:(?:of|the|de|del|da|di|la|le|von|van|der|and|&|for)\s+)*"
    r"\p{Lu}[\p{L}\p{N}'\u2019.-]*)*"
)
_WORD_RE = regex.compile(r"[\p{L}][\p{L}\p{N}'\u2019-]*")
# Capitalised only because they open a sentence: not a name when they stand alone there.
SENTENCE_OPENERS = frozenset(
    """see note please here there today first second third finally then next also yes no sure certainly well
    overall instead meanwhile unlike like each every visit check read use click contact according based given
    unfortunately fortunately actually indeed thanks hello hi dear sincerely regards""".split()  # noqa: SIM905
)


def _at_sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t\"'(\u201c":
        i -= 1
    return i < 0 or text[i] in ".!?:;\n"


@dataclass
class _Sources:
    text: str  # folded, whitespace collapsed, passages joined by a separator
    numbers: set[Decimal] = field(default_factory=set)
    dates: set[tuple[int, int | None, int | None]] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    stems: set[str] = field(default_factory=set)


def _stem(word: str) -> str:
    w = word.lower().strip("'\u2019-")
    for suffix in ("ings", "ing", "edly", "ed", "ies", "es", "s", "ly"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def _url_key(url: str) -> str:
    url = url.rstrip(".,;:!?")
    scheme_less = url.split("://", 1)[-1]
    return scheme_less.lower().removeprefix("www.").rstrip("/")


def _numbers(values: list[Stated]) -> set[Decimal]:
    out: set[Decimal] = set()
    for v in values:
        if v.number is not None:
            out.add(v.number.normalize())
            out.add(v.amount.normalize())
    return out


def _build_sources(ctx: Context, include_prompt: bool, day_first: bool) -> _Sources | None:
    passages = [s.text for s in ctx.sources]
    if not passages:
        return None
    urls = {_url_key(s.url) for s in ctx.sources if s.url}
    if include_prompt and ctx.prompt:
        passages.append(ctx.prompt)
    folded = "\n\x1e\n".join(" ".join(fold(p).text.split()) for p in passages)
    values = scan_values(folded, day_first=day_first)
    src = _Sources(folded, _numbers(values), urls=urls)
    for v in values:
        if v.date is not None:
            src.dates.add(v.date)
            src.dates.add((v.date[0], None, None))
            src.dates.add((v.date[0], v.date[1], None))
        elif v.year_like and v.number is not None:
            src.dates.add((int(v.number), None, None))
    src.urls.update(_url_key(folded[start:end]) for start, end in url_spans(folded))
    src.stems = {_stem(w) for w in _WORD_RE.findall(folded)}
    return src


@dataclass(frozen=True, slots=True)
class Ungrounded:
    kind: str  # entity | number | date | quote | url | words
    start: int  # original offsets
    end: int
    text: str
    score: float | None = None


class GroundingCheck(Check[GroundingParams]):
    kind = "grounding"

    def ungrounded(self, doc: Document, ctx: RunContext) -> list[Ungrounded]:
        key = f"grounding:sources:{id(ctx.context)}:{self.params.include_prompt}:{self.params.day_first}"
        src = doc.view(key, lambda _d: _build_sources(ctx.context, self.params.include_prompt, self.params.day_first))
        if src is None:
            return []
        out: list[Ungrounded] = []
        text = doc.text
        try:
            # found as the citation check finds them, so GRD004 and HAL004 flag the same characters
            spans = list(url_spans(text, ctx.deadline.remaining()))
        except TimeoutError as exc:
            raise DeadlineExceeded("finding URLs ran past the deadline") from exc
        if self.params.urls:
            for start, end in spans:
                url = text[start:end]
                key = _url_key(url)
                if key not in src.urls and key not in src.text:
                    out.append(Ungrounded("url", start, end, url))
        # A URL is one item, judged (or not) as a whole: the numbers, dates and names in its path are not
        # claims of their own, whichever kinds this rule checks.
        covered = spans
        if self.params.quotes:
            for m in _QUOTE_RE.finditer(text):
                quote = m.group(1)
                if len(quote.split()) < self.params.min_quote_words:
                    continue
                if " ".join(fold(quote).text.split()) not in src.text:
                    out.append(Ungrounded("quote", m.start(1), m.end(1), quote))
        if self.params.numbers or self.params.dates:
            out.extend(self._values(doc, ctx, src, covered))
        if self.params.entities:
            out.extend(self._entities(text, src, covered))
        if self.params.words:
            out.extend(self._words(text, src))
        out.sort(key=lambda u: (u.start, u.end))
        return out[: self.params.max_items]

    def _values(
        self, doc: Document, ctx: RunContext, src: _Sources, covered: list[tuple[int, int]]
    ) -> Iterator[Ungrounded]:
        folded = folded_view(doc)
        for v in values_view(doc, day_first=self.params.day_first, timeout=ctx.deadline.remaining()):
            ctx.deadline.check()
            start, end = folded.start(v.start), folded.end(v.end)
            if any(s <= start and end <= e for s, e in covered):
                continue
            if v.kind == "date" or v.year_like:
                if not self.params.dates:
                    continue
                key = v.date if v.date is not None else (int(v.number or 0), None, None)
                if key not in src.dates:
                    yield Ungrounded("date", start, end, doc.text[start:end])
            elif (
                self.params.numbers
                and v.number is not None
                and v.number.normalize() not in src.numbers
                and v.amount.normalize() not in src.numbers
            ):
                yield Ungrounded("number", start, end, doc.text[start:end])

    def _entities(self, text: str, src: _Sources, covered: list[tuple[int, int]]) -> Iterator[Ungrounded]:
        for m in _ENTITY_RE.finditer(text):
            tokens = m.group().split()
            start = m.start()
            # a capitalised function word opening a sentence ("The", "In") is not part of the name
            while tokens and tokens[0].lower().strip(".") in STOPWORDS:
                start = text.index(tokens[1], start + len(tokens[0])) if len(tokens) > 1 else m.end()
                tokens = tokens[1:]
            if not tokens:
                continue
            if (
                len(tokens) == 1
                and tokens[0].lower().strip(".,") in SENTENCE_OPENERS
                and _at_sentence_start(text, start)
            ):
                continue
            name = " ".join(tokens).rstrip(".'\u2019-")
            end = start + len(text[start : m.end()].rstrip(".'\u2019-"))
            if any(s <= start and end <= e for s, e in covered):
                continue
            key = " ".join(fold(name).text.split())
            if key in src.text:
                continue
            words = [w for w in _WORD_RE.findall(key) if w not in STOPWORDS]
            if words and all(_stem(w) in src.stems for w in words):
                continue  # every word of the name is in the sources ("President Obama" vs "Barack Obama")
            yield Ungrounded("entity", start, end, name)

    def _words(self, text: str, src: _Sources) -> Iterator[Ungrounded]:
        words = [w for w in _WORD_RE.findall(fold(text).text) if len(w) >= 3 and w not in STOPWORDS]
        if len(words) < self.params.min_words:
            return
        missing = [w for w in words if _stem(w) not in src.stems]
        share = len(missing) / len(words)
        if share > self.params.max_unsupported_words:
            yield Ungrounded("words", 0, len(text), ", ".join(sorted(set(missing))[:10]), score=share)

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        n_sources = len(ctx.context.sources)
        for u in self.ungrounded(doc, ctx):
            yield Hit(
                u.start,
                u.end,
                values={"kind": u.kind, "item": u.text, "sources": n_sources},
                evidence=Evidence(
                    matched=u.text,
                    score=u.score,
                    threshold=self.params.max_unsupported_words if u.kind == "words" else None,
                    source=f"{n_sources} source passage(s)",
                    details={"kind": u.kind},
                ),
            )


CHECK = GroundingCheck
