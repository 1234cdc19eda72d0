"""`length`: upper limits in characters, words, lines and sentences; the span is the part beyond the limit.

Every limit is a maximum, so a prefix over a limit stays over it: the check judges prefixes (streaming).
One hit per exceeded limit, starting where the limit is crossed and running to the end of the text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import regex
from pydantic import Field, model_validator

from guardrails.checks.base import Check, CheckParams, DeadlineExceeded, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix

_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}'\u2019_-]*")
# A sentence runs to . ! ? … or a CJK full stop (then space or end), or to the end of the text. Abbreviations
# ("e.g. this") end a sentence too, which errs towards counting more.
_SENTENCE = regex.compile(r"\S.*?(?:[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|\Z)|[\u3002\uff01\uff1f]+|\Z)", regex.DOTALL)


class LengthParams(CheckParams):
    max_chars: int | None = Field(default=None, ge=0, description="Most characters allowed")
    max_words: int | None = Field(
        default=None, ge=0, description="Most words allowed (letters and digits, with inner ' _ -)"
    )
    max_lines: int | None = Field(default=None, ge=0, description="Most lines allowed")
    max_sentences: int | None = Field(default=None, ge=0, description="Most sentences allowed (. ! ? and CJK stops)")
    truncate: bool = Field(default=False, description="Offer an unsafe fix that cuts the text at the limit")

    @model_validator(mode="after")
    def _some_limit(self) -> LengthParams:
        if all(v is None for v in (self.max_chars, self.max_words, self.max_lines, self.max_sentences)):
            raise ValueError("give at least one of max_chars, max_words, max_lines, max_sentences")
        return self


@dataclass(frozen=True, slots=True)
class _Over:
    unit: str
    limit: int
    count: int
    cut: int  # offset where the limit is crossed


def _nth_end(pattern: regex.Pattern[str], text: str, limit: int, timeout: float | None) -> tuple[int, int]:
    """(count of matches, end offset of match number `limit`)."""
    count, cut = 0, 0
    for m in pattern.finditer(text, timeout=timeout):
        count += 1
        if count == limit:
            cut = m.end()
    return count, cut


class LengthCheck(Check[LengthParams]):
    kind = "length"
    streaming = True
    lookbehind = 0

    def _exceeded(self, text: str, timeout: float | None) -> Iterator[_Over]:
        p = self.params
        if p.max_chars is not None and len(text) > p.max_chars:
            yield _Over("characters", p.max_chars, len(text), p.max_chars)
        if p.max_lines is not None:
            lines = text.count("\n") + 1 if text else 0
            if lines > p.max_lines:
                cut = -1
                for _ in range(p.max_lines):
                    cut = text.index("\n", cut + 1)
                yield _Over("lines", p.max_lines, lines, max(cut, 0))
        for unit, limit, pattern in (("words", p.max_words, _WORD), ("sentences", p.max_sentences, _SENTENCE)):
            if limit is None:
                continue
            count, cut = _nth_end(pattern, text, limit, timeout)
            if count > limit:
                yield _Over(unit, limit, count, cut)

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        text = doc.text
        try:
            overs = list(self._exceeded(text, ctx.deadline.remaining()))
        except TimeoutError as exc:
            raise DeadlineExceeded("length counting timed out") from exc
        for over in overs:
            fix = None
            if self.params.truncate:
                fix = Fix(
                    title=f"cut at {over.limit} {over.unit}",
                    edits=[Edit(start=over.cut, end=len(text), replacement="")],
                    safe=False,
                )
            yield Hit(
                over.cut,
                len(text),
                values={"unit": over.unit, "limit": over.limit, "count": over.count},
                evidence=Evidence(score=over.count, threshold=over.limit, details={"unit": over.unit}),
                fix=fix,
            )


CHECK = LengthCheck
