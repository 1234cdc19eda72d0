"""`system_prompt_leak`: long runs of words shared with Context.system_prompt (a leaked system prompt).

Both texts are cut into folded words; every `ngram`-word sequence of the system prompt goes into a set;
consecutive output positions whose n-gram is in the set merge into one run. A run of at least
`min_words` words is a hit spanning those words in the output. Linear in both lengths. The share of the
system prompt's words the output reproduces is the score.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import regex
from pydantic import Field, model_validator

from guardrails.checks._textnorm import FoldedText
from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Evidence

_WORD = regex.compile(r"[\p{L}\p{N}]+")
_CACHE_SIZE = 64


class SystemPromptLeakParams(CheckParams):
    ngram: int = Field(default=6, ge=2, le=50, description="Words per shingle")
    min_words: int = Field(default=10, ge=2, description="Shortest run of shared words that is a leak")
    system_prompt: str | None = Field(default=None, description="Used when the context gives none")

    @model_validator(mode="after")
    def _run_covers_ngram(self) -> SystemPromptLeakParams:
        if self.min_words < self.ngram:
            raise ValueError(f"min_words ({self.min_words}) must be at least ngram ({self.ngram})")
        return self


@dataclass(frozen=True, slots=True)
class _Shingles:
    grams: frozenset[int]
    words: int


def _words(text: str) -> list[regex.Match[str]]:
    return list(_WORD.finditer(text))


class SystemPromptLeakCheck(Check):
    """Streaming: a run found in a prefix stays found (it may only grow)."""

    kind = "system_prompt_leak"
    Params = SystemPromptLeakParams
    streaming = True
    lookbehind = 400

    def __init__(self, params: SystemPromptLeakParams) -> None:
        super().__init__(params)
        self.p = params
        # Callers usually send the same system prompt every time: keep a few shingle sets.
        self._cache: OrderedDict[str, _Shingles] = OrderedDict()

    def _shingles(self, prompt: str) -> _Shingles:
        cached = self._cache.get(prompt)
        if cached is not None:
            self._cache.move_to_end(prompt)
            return cached
        words = [m.group() for m in _words(FoldedText.of(prompt).text)]
        n = self.p.ngram
        grams = frozenset(hash(tuple(words[i : i + n])) for i in range(len(words) - n + 1))
        sh = _Shingles(grams, len(words))
        self._cache[prompt] = sh
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return sh

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        prompt = ctx.context.system_prompt or self.p.system_prompt
        if not prompt:
            return
        sh = self._shingles(prompt)
        if not sh.grams:
            return
        folded = doc.view("folded", lambda d: FoldedText.of(d.text))
        matches = _words(folded.text)
        words = [m.group() for m in matches]
        n = self.p.ngram
        run_start = -1  # index of the first word of the current run
        run_end = -1  # index one past its last word
        for i in range(len(words) - n + 1):
            if i % 512 == 511:
                ctx.deadline.check()
            if hash(tuple(words[i : i + n])) in sh.grams:
                if run_start < 0 or i > run_end:
                    if run_start >= 0:
                        yield from self._hit(folded, matches, run_start, run_end, sh)
                    run_start = i
                run_end = i + n
        if run_start >= 0:
            yield from self._hit(folded, matches, run_start, run_end, sh)

    def _hit(
        self, folded: FoldedText, matches: list[regex.Match[str]], first: int, end: int, sh: _Shingles
    ) -> Iterator[Hit]:
        length = end - first
        if length < self.p.min_words:
            return
        start, stop = folded.span(matches[first].start(), matches[end - 1].end())
        share = min(1.0, length / max(1, sh.words))
        yield Hit(
            start,
            stop,
            values={"words": length, "share": f"{share:.0%}"},
            evidence=Evidence(
                score=round(share, 4), threshold=self.p.min_words, details={"words": length, "ngram": self.p.ngram}
            ),
        )


CHECK = SystemPromptLeakCheck
