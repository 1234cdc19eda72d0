"""`system_prompt_leak`: long runs of words shared with Context.system_prompt (a leaked system prompt).

Both texts are cut into folded words; every `ngram`-word sequence of the system prompt goes into a set;
consecutive output positions whose n-gram is in the set merge into one run. A run of at least
`min_words` words is a hit spanning those words in the output. Linear in both lengths. The share of the
system prompt's words the output reproduces is the score.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import Field, model_validator

from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Evidence
from guardrails.text import FoldedText

_PUNCT = "".join(chr(c) for c in range(128) if not chr(c).isalnum() and not chr(c).isspace()) + "\u00ab\u00bb\u2026"
_TOKEN = re.compile(r"\S+")  # the same tokens as str.split(), with offsets
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
    vocab: frozenset[str]
    words: int


def _words(folded: str) -> list[str]:
    """Whitespace-separated tokens without surrounding punctuation (str.split runs in C; a regex is slower)."""
    return [w.strip(_PUNCT) for w in folded.split()]


class SystemPromptLeakCheck(Check[SystemPromptLeakParams]):
    """Streaming: a run found in a prefix stays found (it may only grow)."""

    kind = "system_prompt_leak"
    streaming = True
    lookbehind = 400

    def __init__(self, params: SystemPromptLeakParams) -> None:
        super().__init__(params)
        # Callers usually send the same system prompt every time: keep a few shingle sets.
        self._cache: OrderedDict[str, _Shingles] = OrderedDict()

    def _shingles(self, prompt: str) -> _Shingles:
        cached = self._cache.get(prompt)
        if cached is not None:
            self._cache.move_to_end(prompt)
            return cached
        words = _words(FoldedText.of(prompt).text)
        n = self.params.ngram
        grams = frozenset(hash(tuple(words[i : i + n])) for i in range(len(words) - n + 1))
        sh = _Shingles(grams, frozenset(words), len(words))
        self._cache[prompt] = sh
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return sh

    def stream_lookbehind(self, context: Context) -> int | None:
        return self.lookbehind if context.system_prompt or self.params.system_prompt else None

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        prompt = ctx.context.system_prompt or self.params.system_prompt
        if not prompt:
            return
        sh = self._shingles(prompt)
        if not sh.grams:
            return
        folded = doc.view("folded", lambda d: FoldedText.of(d.text))
        words = _words(folded.text)
        ctx.deadline.check()
        runs = self._runs(words, sh)
        if not runs:
            return
        matches = list(_TOKEN.finditer(folded.text))  # word offsets, only needed when something leaked
        for first, end in runs:
            yield from self._hit(folded, matches, first, end, sh)

    def _runs(self, words: list[str], sh: _Shingles) -> list[tuple[int, int]]:
        """[first word, end word) ranges where consecutive shared n-grams overlap or touch."""
        n = self.params.ngram
        # One byte a word, 1 when the word occurs in the system prompt: only stretches of n ones can hold
        # a shared n-gram, and bytes.find skips the rest in C.
        known = bytes(map(sh.vocab.__contains__, words))
        needle = b"\x01" * n
        runs: list[tuple[int, int]] = []
        pos = known.find(needle)
        while pos != -1:
            g = pos
            while g + n <= len(words) and known[g + n - 1]:
                if hash(tuple(words[g : g + n])) in sh.grams:
                    if runs and g <= runs[-1][1]:
                        runs[-1] = (runs[-1][0], g + n)
                    else:
                        runs.append((g, g + n))
                g += 1
            pos = known.find(needle, g)
        return runs

    def _hit(
        self, folded: FoldedText, matches: list[re.Match[str]], first: int, end: int, sh: _Shingles
    ) -> Iterator[Hit]:
        length = end - first
        if length < self.params.min_words:
            return
        head, tail = matches[first], matches[end - 1]
        # The span covers the words, not the punctuation glued to the first and last of them.
        lo = head.start() + len(head.group()) - len(head.group().lstrip(_PUNCT))
        hi = tail.end() - (len(tail.group()) - len(tail.group().rstrip(_PUNCT)))
        start, stop = folded.span(lo, max(lo, hi))
        share = min(1.0, length / max(1, sh.words))
        yield Hit(
            start,
            stop,
            values={"words": length, "share": f"{share:.0%}"},
            evidence=Evidence(
                score=round(share, 4),
                threshold=self.params.min_words,
                details={"words": length, "ngram": self.params.ngram},
            ),
        )


CHECK = SystemPromptLeakCheck
