"""Context words raise scores, by the rule of presidio's LemmaContextAwareEnhancer, without a model.

With the no_op NLP engine presidio itself has no tokens, so it never sees "phone:" before a number.
Here the words before a candidate are tokenised with a regex that cuts as spaCy does (lemma = lower-cased
word; "10:30" and "192.168.0.1" are one token each), and
presidio's rule is applied: the match's own token and the five keywords before it (a keyword is a
lemma that is neither a stop word nor punctuation), plus any context words the rule gives; the first
of the recognizer's context words found as a substring of one of them supports the match, which
gains 0.35 (at least 0.4, at most 1.0). Only the 120 characters before a match are read.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Words and punctuation as spaCy's tokenizer (which presidio's enhancer reads) cuts them: a dotted or colon-separated
# value (a time, an IP or MAC address, a version) is one token, so it does not push the context word out of the
# window. Like spaCy, a dot between a lower-case and a capital letter ("end.Next") and a colon before a letter
# ("a:b") still split; a URL or an e-mail address is one token too (spaCy's URL and e-mail matches). Linear:
# greedy runs that give back only trailing punctuation, and an e-mail tried only where a run of its characters
# starts (a caller's text is untrusted; tests/checks/test_pii_context.py times a hostile window).
_TOKEN = re.compile(
    r"(?:https?://|www\.)\S*[^\s.,;:!?)\]]"
    r"|(?<![\w.+-])[\w.+-]+@\w[\w-]*(?:\.[\w-]+)+"
    r"|\w+(?:(?:(?:(?<![a-z])\.|\.(?![A-Z]))(?=\w)|:(?=\d))\w+)*"
    r"|[^\w\s]"
)
_BEFORE_CHARS = 120
_AFTER_CHARS = 40
KEYWORDS_BEFORE = 5  # presidio's context_prefix_count
SIMILARITY_FACTOR = 0.35
MIN_SCORE_WITH_CONTEXT = 0.4
MAX_SCORE = 1.0
_NOT_KEYWORDS = frozenset({"-PRON-", "be"})  # compared with the lemma, as presidio does


@functools.cache
def stop_words(language: str) -> frozenset[str]:
    """spaCy's stop words for `language` (presidio's keyword test uses them), read from spaCy's word
    list module alone: importing it through the `spacy` package costs ~1 s and hundreds of modules."""
    if not _LANGUAGE.fullmatch(language):
        return frozenset()
    try:
        spacy = importlib.util.find_spec("spacy")
    except (ImportError, ValueError):
        return frozenset()
    if spacy is None or not spacy.submodule_search_locations:
        return frozenset()
    for root in spacy.submodule_search_locations:
        path = Path(root, "lang", language, "stop_words.py")
        if path.is_file():
            return _words_module(path, language)
    return frozenset()


_LANGUAGE = re.compile(r"[a-z]{2,3}")


def _words_module(path: Path, language: str) -> frozenset[str]:
    # The word list modules import nothing; one that does is imported the ordinary way, through spaCy.
    spec = importlib.util.spec_from_file_location(f"_outguard_stop_words_{language}", path)
    if spec is None or spec.loader is None:
        return frozenset()
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError:
        try:
            module = importlib.import_module(f"spacy.lang.{language}.stop_words")
        except ImportError:
            return frozenset()
    return frozenset(getattr(module, "STOP_WORDS", ()))


def is_keyword(lemma: str, stop: frozenset[str]) -> bool:
    """presidio's NlpArtifacts keyword test for a lower-cased lemma of a regex token."""
    return lemma not in stop and lemma not in _NOT_KEYWORDS and any(c.isalnum() for c in lemma)


@dataclass(frozen=True, slots=True)
class Support:
    """A context word that raised a match's score."""

    word: str
    score: float


@dataclass(frozen=True)
class ContextRule:
    """The context words of one recognizer (lower-cased, presidio's order) in one language."""

    words: tuple[str, ...]
    language: str

    @functools.cached_property
    def _any_word(self) -> re.Pattern[str]:
        return re.compile("|".join(re.escape(w) for w in self.words))

    def support(
        self, text: str, start: int, end: int, score: float, *, extra: Sequence[str] = (), lowered: str | None = None
    ) -> Support | None:
        """The boosted score and supporting word of the match text[start:end], or None. `lowered` is
        text.lower() when that keeps every offset (the caller lower-cases a document once)."""
        if not self.words:
            return None
        lo = max(0, start - _BEFORE_CHARS)
        hi = min(len(text), end + _AFTER_CHARS)
        if not extra:
            # presidio matches context words as substrings of lower-cased words: none can match here
            if lowered is not None:
                if self._any_word.search(lowered, lo, hi) is None:
                    return None
            elif self._any_word.search(text[lo:hi].lower()) is None:
                return None
        if lo > 0:
            space = text.find(" ", lo, start)
            lo = space + 1 if space != -1 else lo
        near = self._keywords_before(text, lo, hi, start)
        near.extend(w.lower() for w in extra)
        for word in self.words:
            if any(word in k for k in near):
                boosted = min(max(score + SIMILARITY_FACTOR, MIN_SCORE_WITH_CONTEXT), MAX_SCORE)
                return Support(word, boosted)
        return None

    def _keywords_before(self, text: str, lo: int, hi: int, start: int) -> list[str]:
        """The match's own token (the first token that covers or follows `start`) and the keywords before it,
        at most KEYWORDS_BEFORE + 1 in all, as presidio's enhancer collects them."""
        lemmas: list[str] = []
        for m in _TOKEN.finditer(text, lo, hi):
            lemmas.append(m.group().lower())
            if m.start() == start or start < m.end():
                break
        stop = stop_words(self.language)
        out: list[str] = []
        for lemma in reversed(lemmas):
            # presidio splits keyword lemmas at ':' and then asks whether each whole lemma is a keyword, so a token
            # that keeps a colon ("phone:212", "10:30") never is one
            if ":" not in lemma and is_keyword(lemma, stop):
                out.append(lemma)
                if len(out) > KEYWORDS_BEFORE:
                    break
        return out


@functools.lru_cache(maxsize=1024)
def context_rule(words: tuple[str, ...], language: str) -> ContextRule:
    return ContextRule(tuple(w.lower() for w in words), language)
