"""The per-document PII analysis shared by every PII rule of a validation.

`DocScan` normalises the text once, builds each trigger group's windows once, and runs each presidio
recognizer at most once per document, over its group's compact windows only; results are memoised
so ten PII rules cost one scan. Offsets come back in the original text's coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from guardrails.checks._pii import windows as win
from guardrails.checks._pii.context import enhance
from guardrails.checks._pii.normalize import Normalized, normalize
from guardrails.checks._pii.recognizers import TRIGGER_MARGINS, TRIGGER_PATTERNS, RecognizerSet, Trigger, analyze

# Entities whose checksum-validated matches (score 1.0) outrank any phone reading of the same digits:
# the phone matcher is not run on digit runs they cover entirely.
VALIDATED_OUTRANK_PHONE = ("CREDIT_CARD", "IBAN_CODE")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One presidio result, in original-text offsets, with its explanation flattened."""

    entity: str
    start: int
    end: int
    score: float
    recognizer: str
    pattern_name: str | None = None
    original_score: float | None = None
    context_word: str | None = None
    context_improvement: float = 0.0
    validation: bool | None = None
    explanation: str | None = None
    normalized: bool = False

    @property
    def length(self) -> int:
        return self.end - self.start


def candidate_from(result: RecognizerResult, norm: Normalized) -> Candidate:
    start, end = norm.to_original(result.start, result.end)
    ex = result.analysis_explanation
    improvement = float(getattr(ex, "score_context_improvement", 0.0) or 0.0) if ex is not None else 0.0
    return Candidate(
        entity=result.entity_type,
        start=start,
        end=end,
        score=round(float(result.score), 4),
        recognizer=(result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY)
        or (ex.recognizer if ex is not None else "unknown"),
        pattern_name=getattr(ex, "pattern_name", None) if ex is not None else None,
        original_score=getattr(ex, "original_score", None) if ex is not None else None,
        context_word=(getattr(ex, "supportive_context_word", "") or None) if ex is not None else None,
        context_improvement=round(improvement, 4),
        validation=getattr(ex, "validation_result", None) if ex is not None else None,
        explanation=getattr(ex, "textual_explanation", None) if ex is not None else None,
        normalized=norm.changed,
    )


@dataclass
class DocScan:
    """Lazy, memoised presidio analysis of one document."""

    original: str
    recognizers: RecognizerSet
    check_deadline: Callable[[], None] = lambda: None
    norm: Normalized = field(init=False)
    _margins: win.Margins | None = field(default=None, init=False)
    _compacts: dict[Trigger, win.Compact] = field(default_factory=dict, init=False)
    _raw: dict[tuple[str, frozenset[str]], list[RecognizerResult]] = field(default_factory=dict, init=False)
    _enhanced: dict[str, list[Candidate]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.norm = normalize(self.original)

    @property
    def text(self) -> str:
        """The text recognizers see (normalised)."""
        return self.norm.text

    @property
    def margins(self) -> win.Margins:
        if self._margins is None:
            self._margins = win.Margins(self.text)
        return self._margins

    def _compact(self, trigger: Trigger) -> win.Compact:
        if trigger not in self._compacts:
            margin = TRIGGER_MARGINS.get(trigger, 0)
            found = win.trigger_windows(self.text, self.margins, TRIGGER_PATTERNS[trigger], margin)
            self._compacts[trigger] = win.compact(self.text, found)
        return self._compacts[trigger]

    def _run_on(self, rec: EntityRecognizer, compact: win.Compact) -> list[RecognizerResult]:
        if not compact.text:
            return []
        out = []
        for r in analyze(rec, compact.text):
            span = compact.to_original(r.start, r.end)
            if span is None:  # cannot happen with SEPARATOR; never trust a straddling match
                continue
            r.start, r.end = span
            out.append(r)
        return out

    def _grouped(self, rec: EntityRecognizer) -> list[RecognizerResult]:
        groups = self.recognizers.triggers[rec.id]
        if Trigger.ALL in groups:
            return analyze(rec, self.text)
        results: list[RecognizerResult] = []
        for trigger in groups:
            results.extend(self._run_on(rec, self._compact(trigger)))
        return EntityRecognizer.remove_duplicates(results) if len(groups) > 1 else results

    def _phone(self, rec: PhoneRecognizer, outranking: frozenset[str]) -> list[RecognizerResult]:
        covered = self._validated_spans(outranking)
        regions: dict[str, list[win.Window]] = {}
        distinct = win.distinct_dialling_regions(tuple(rec.supported_regions))
        n = len(self.text)
        for m in win.PHONE_CANDIDATE.finditer(self.text):
            wanted = win.regions_to_try(m.group(), distinct)
            if not wanted:
                continue
            start, end = m.span()
            if covered and any(s <= start and end <= e for s, e in covered):
                continue
            window = win.Window(max(0, start - 1), min(n, end + 3))
            for region in wanted:
                regions.setdefault(region, []).append(window)
        results: list[RecognizerResult] = []
        for region, found in regions.items():
            self.check_deadline()
            single = _single_region(rec, region)
            results.extend(self._run_on(single, win.compact(self.text, win.merge(found))))
        for r in results:  # results carry the original recognizer's identity (for context words)
            r.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY] = rec.id
            r.recognition_metadata[RecognizerResult.RECOGNIZER_NAME_KEY] = str(getattr(rec, "name", "PhoneRecognizer"))
        return EntityRecognizer.remove_duplicates(results)

    def _validated_spans(self, entities: frozenset[str]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for rec in self.recognizers.for_entities(entities):
            spans.extend((r.start, r.end) for r in self.raw(rec) if r.score >= EntityRecognizer.MAX_SCORE)
        return spans

    def raw(self, rec: EntityRecognizer, outranking: frozenset[str] = frozenset()) -> list[RecognizerResult]:
        """The recognizer's results over the (normalised) text, before context; memoised."""
        key = (rec.id, outranking if isinstance(rec, PhoneRecognizer) else frozenset())
        if key not in self._raw:
            self.check_deadline()
            if isinstance(rec, PhoneRecognizer):
                self._raw[key] = self._phone(rec, outranking)
            else:
                self._raw[key] = self._grouped(rec)
        return self._raw[key]

    def candidates(
        self,
        entities: frozenset[str],
        *,
        extra: Sequence[EntityRecognizer] = (),
        context: Sequence[str] = (),
    ) -> list[Candidate]:
        """Results of every recognizer for `entities` (plus `extra` ones run on the full text), boosted
        by context words, in original offsets. Built-in recognizers' candidates are memoised, so every
        PII rule of a validation shares them. The phone matcher skips digit runs that are entirely a
        checksum-valid card number or IBAN (score 1.0, which no phone reading can beat)."""
        out: list[Candidate] = []
        for rec in self.recognizers.for_entities(entities):
            key = rec.id if not context else f"{rec.id}\x1f{'|'.join(context)}"
            if key not in self._enhanced:
                raw = self.raw(rec, frozenset(VALIDATED_OUTRANK_PHONE))
                boosted = enhance(self.text, raw, [rec], self.recognizers.language, context)
                self._enhanced[key] = [candidate_from(r, self.norm) for r in boosted]
            out.extend(c for c in self._enhanced[key] if c.entity in entities)
        for rec in extra:
            self.check_deadline()
            boosted = enhance(self.text, analyze(rec, self.text), [rec], self.recognizers.language, context)
            out.extend(candidate_from(r, self.norm) for r in boosted)
        return out


_SINGLE: dict[tuple[str, str], PhoneRecognizer] = {}


def _single_region(rec: PhoneRecognizer, region: str) -> PhoneRecognizer:
    """A copy of presidio's phone recognizer that tries one region (same context, leniency, entity)."""
    key = (rec.id, region)
    if key not in _SINGLE:
        _SINGLE[key] = PhoneRecognizer(
            context=rec.context,
            supported_language=rec.supported_language,
            supported_entity=rec.supported_entities[0],
            supported_regions=(region,),
            leniency=rec.leniency,
            name=str(getattr(rec, "name", "PhoneRecognizer")),
        )
    return _SINGLE[key]
