"""Context words raise scores, with presidio's own LemmaContextAwareEnhancer.

The no_op NLP engine yields no tokens, so presidio alone never sees "phone:" before a number. Here
the words near each candidate are tokenised with a regex (lemma = lower-cased word: no model) and
handed to presidio's enhancer, which applies its usual rule (+0.35, at least 0.4, capped at 1.0) and
records the supporting word in the result's explanation.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

_TOKEN = re.compile(r"\w+|[^\w\s]")
# How far around a candidate to look for words: presidio's enhancer uses 5 words before it.
_BEFORE_CHARS = 120
_AFTER_CHARS = 40


@functools.cache
def _stop_words(language: str) -> frozenset[str]:
    try:
        module = importlib.import_module(f"spacy.lang.{language}.stop_words")
    except ImportError:
        return frozenset()
    return frozenset(getattr(module, "STOP_WORDS", ()))


class _Lexicon:
    """The two questions NlpArtifacts asks an NLP engine, answered without a model."""

    def __init__(self, language: str) -> None:
        self.stop = _stop_words(language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word.lower() in self.stop

    def is_punct(self, word: str, language: str) -> bool:
        return not any(c.isalnum() for c in word)


@functools.cache
def _lexicon(language: str) -> _Lexicon:
    return _Lexicon(language)


def _artifacts(text: str, results: Sequence[RecognizerResult], language: str) -> NlpArtifacts:
    """Tokens of the text around the results only, with offsets into the whole text."""
    spans: list[tuple[int, int]] = []
    for r in sorted(results, key=lambda r: r.start):
        lo = max(0, r.start - _BEFORE_CHARS)
        ws = text.find(" ", lo, r.start)
        lo = ws + 1 if lo > 0 and ws != -1 else lo
        hi = min(len(text), r.end + _AFTER_CHARS)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
        else:
            spans.append((lo, hi))
    tokens: list[str] = []
    indices: list[int] = []
    for lo, hi in spans:
        for m in _TOKEN.finditer(text, lo, hi):
            tokens.append(m.group())
            indices.append(m.start())
    lemmas = [t.lower() for t in tokens]
    # presidio's enhancer only iterates tokens and takes their length: plain strings serve as well as a Doc.
    # Built without NlpArtifacts.__init__, whose keyword pass asks the lexicon twice per token through
    # method calls; `_keywords` computes the same list with set lookups.
    artifacts = NlpArtifacts.__new__(NlpArtifacts)
    artifacts.entities = []
    artifacts.tokens = tokens  # type: ignore[assignment]
    artifacts.lemmas = lemmas
    artifacts.tokens_indices = indices
    artifacts.nlp_engine = _lexicon(language)
    artifacts.scores = []
    artifacts.keywords = _keywords(lemmas, _lexicon(language).stop)
    return artifacts


_NOT_KEYWORDS = frozenset({"-PRON-", "be"})  # compared with the lemma as presidio does


def _keywords(lemmas: list[str], stop: frozenset[str]) -> list[str]:
    """NlpArtifacts.set_keywords with this lexicon: lower-cased lemmas that are neither stop words nor
    punctuation (nor the lemmas "-PRON-" or "be"), split at ":". Lemmas here are already lower case."""
    out: list[str] = []
    for k in lemmas:
        if k in stop or k in _NOT_KEYWORDS or not any(c.isalnum() for c in k):
            continue
        out.extend(k.split(":"))
    return out


_ENHANCER = LemmaContextAwareEnhancer()


def enhance(
    text: str,
    results: list[RecognizerResult],
    recognizers: Sequence[EntityRecognizer],
    language: str,
    extra_context: Sequence[str] = (),
) -> list[RecognizerResult]:
    """presidio's context boost over `results` (which index `text`); returns new result objects.

    Results with no context word of their recognizer anywhere in the text before them cannot be
    boosted (presidio matches context words as substrings of the preceding words), so only the
    others go through the enhancer.
    """
    if not results:
        return results
    keep: list[RecognizerResult] = []
    if extra_context:
        todo = results
    else:
        by_id = {r.id: r for r in recognizers}
        todo = []
        for r in results:
            rec = by_id.get((r.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            (todo if rec is not None and _may_boost(text, r, rec) else keep).append(r)
    if not todo:
        return results
    artifacts = _artifacts(text, todo, language)
    enhanced: list[RecognizerResult] = _ENHANCER.enhance_using_context(
        text, todo, artifacts, list(recognizers), list(extra_context) or None
    )
    return keep + enhanced


def _may_boost(text: str, result: RecognizerResult, rec: EntityRecognizer) -> bool:
    if not rec.context:
        return False
    before = text[max(0, result.start - _BEFORE_CHARS) : result.end].lower()
    return any(word.lower() in before for word in rec.context)
