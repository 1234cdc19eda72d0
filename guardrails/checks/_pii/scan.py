"""The per-document PII analysis shared by every PII rule of a validation.

`DocScan` normalises the text once, builds each trigger group's windows once, and runs each
recognizer at most once per document, over its groups' windows only; results are memoised so ten
PII rules cost one scan. Plain pattern recognizers run through `PatternDriver` (presidio's patterns,
hooks and scoring without its per-match objects); the others through presidio. Offsets come back in
the original text's coordinates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import phonenumbers
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers.generic.phone_recognizer import PhoneRecognizer

from guardrails.checks._pii import phones
from guardrails.checks._pii import windows as win
from guardrails.checks._pii.context import ContextRule, Support, context_rule
from guardrails.checks._pii.driver import MAX_SCORE, Raw, driver_for, from_presidio, remove_duplicates
from guardrails.checks._pii.normalize import Normalized, normalize
from guardrails.checks._pii.offline import has_registered_domain
from guardrails.checks._pii.recognizers import TRIGGER_PATTERNS, RecognizerSet, Slot, Trigger, analyze
from guardrails.checks._pii.runs import iban_windows, run_windows

# Entities whose checksum-validated matches (score 1.0) outrank any phone reading of the same digits:
# the phone matcher is not run on digit runs they cover entirely.
VALIDATED_OUTRANK_PHONE = ("CREDIT_CARD", "IBAN_CODE")
_OUTRANK_PHONE = frozenset(VALIDATED_OUTRANK_PHONE)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One recognizer result, in original-text offsets, with its explanation flattened."""

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
    """A presidio result (the NER tier) as a candidate."""
    return candidate_of(from_presidio([result])[0], None, norm)


def candidate_of(raw: Raw, support: Support | None, norm: Normalized) -> Candidate:
    start, end = norm.span(raw.start, raw.end)
    score = support.score if support is not None else raw.score
    explanation = raw.explanation
    if explanation is None and raw.pattern_name is not None:
        explanation = f"Detected by `{raw.recognizer}` using pattern `{raw.pattern_name}`"
    improvement = 0.0
    if support is not None:  # presidio's AnalysisExplanation.set_improved_score
        improvement = score - (raw.original_score if raw.original_score is not None else raw.score)
    return Candidate(
        entity=raw.entity,
        start=start,
        end=end,
        score=round(score, 4),
        recognizer=raw.recognizer,
        pattern_name=raw.pattern_name,
        original_score=raw.original_score,
        context_word=support.word if support is not None else None,
        context_improvement=round(improvement, 4),
        validation=raw.validation,
        explanation=explanation,
        normalized=norm.changed,
    )


@dataclass
class DocScan:
    """Lazy, memoised analysis of one document."""

    original: str
    recognizers: RecognizerSet
    check_deadline: Callable[[], None] = lambda: None
    norm: Normalized = field(init=False)
    _windows: dict[Trigger, list[win.Window]] = field(default_factory=dict, init=False)
    _compacts: dict[tuple[Trigger, ...], win.Compact] = field(default_factory=dict, init=False)
    _raw_by_key: dict[str, list[Raw]] = field(default_factory=dict, init=False)
    _boosted: dict[tuple[str, tuple[str, ...]], list[Candidate]] = field(default_factory=dict, init=False)
    _by_set: dict[tuple[frozenset[str], tuple[str, ...]], list[Candidate]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.norm = normalize(self.original)

    @property
    def text(self) -> str:
        """The text recognizers see (normalised)."""
        return self.norm.text

    def _trigger_windows(self, trigger: Trigger) -> list[win.Window]:
        found = self._windows.get(trigger)
        if found is None:
            if trigger is Trigger.IBAN:
                found = iban_windows(self.text, self._trigger_windows(Trigger.DIGIT))
            elif trigger is Trigger.IPV4:  # digit.digit lies in a digit window: search those, not the text
                ipv4 = TRIGGER_PATTERNS[Trigger.IPV4]
                found = [w for w in self._trigger_windows(Trigger.DIGIT) if ipv4.search(self.text, w.start, w.end)]
            elif trigger is Trigger.AT and "@" not in self.text:  # a memchr instead of a regex scan
                found = []
            else:
                found = run_windows(self.text, TRIGGER_PATTERNS[trigger].pattern)
            self._windows[trigger] = found
        return found

    def _compact(self, triggers: tuple[Trigger, ...]) -> win.Compact:
        """The windows of every trigger of a recognizer, joined: one run of the recognizer covers them all.
        Windows start and end on whitespace, so a merged window still sees what the full text shows."""
        if triggers not in self._compacts:
            if len(triggers) == 1:
                windows = self._trigger_windows(triggers[0])
            else:
                windows = _join_touching(self.text, win.merge(w for t in triggers for w in self._trigger_windows(t)))
            self._compacts[triggers] = win.compact(self.text, windows)
        return self._compacts[triggers]

    def _run(self, rec: EntityRecognizer, text: str) -> list[Raw]:
        driver = driver_for(rec)
        if driver is not None:
            return driver.find(text)
        return from_presidio(analyze(rec, text))

    def _grouped(self, slot: Slot) -> list[Raw]:
        if Trigger.ALL in slot.triggers:
            return self._run(slot.rec, self.text)
        compact = self._compact(slot.triggers)
        if not compact.text:
            return []
        found = slot.driver.find(compact.text) if slot.driver is not None else self._run(slot.rec, compact.text)
        return _mapped(found, compact) if found else found

    def _phone(self, rec: PhoneRecognizer, outranking: frozenset[str]) -> list[Raw]:
        covered = self._validated_spans(outranking)
        regions: dict[str, list[win.Window]] = {}
        distinct = win.distinct_dialling_regions(tuple(rec.supported_regions))
        text = self.text
        for run in win.phone_runs(text, distinct):
            if covered and any(s <= run.start and run.end <= e for s, e in covered):
                continue
            window = win.Window(run.window_start, run.window_end)
            for region in run.regions:
                regions.setdefault(region, []).append(window)
        name = str(getattr(rec, "name", "PhoneRecognizer"))
        results: list[Raw] = []
        for region, found in regions.items():
            self.check_deadline()
            compact = win.compact(text, win.merge(found))
            matcher = phonenumbers.PhoneNumberMatcher(compact.text, region, leniency=rec.leniency)  # type: ignore[arg-type]
            for match in matcher:
                span = compact.to_original(match.start, match.end)
                if span is None:  # cannot happen with SEPARATOR; never trust a straddling match
                    continue
                explanation = f"Recognized as {_region_of(match, region)} region phone number, using PhoneRecognizer"
                results.append(
                    Raw(rec.supported_entities[0], *span, rec.SCORE, name, rec.id, None, rec.SCORE, None, explanation)
                )
        return remove_duplicates(results) if len(results) > 1 else results

    def _validated_spans(self, entities: frozenset[str]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for entity in sorted(entities):
            for slot in self.recognizers.by_entity.get(entity, ()):
                spans.extend((r.start, r.end) for r in self._raw(slot) if r.score >= MAX_SCORE)
        return spans

    def raw(self, rec: EntityRecognizer, outranking: frozenset[str] = frozenset()) -> list[Raw]:
        """The recognizer's results over the (normalised) text, before context; memoised. The phone
        recognizer skips digit runs that `outranking` entities' validated matches cover entirely."""
        return self._raw(self.recognizers.slots[rec.id], outranking)

    def _raw(self, slot: Slot, outranking: frozenset[str] = frozenset()) -> list[Raw]:
        key = f"{slot.key}\x1f{'|'.join(sorted(outranking))}" if slot.phone and outranking else slot.key
        found = self._raw_by_key.get(key)
        if found is None:
            self.check_deadline()
            found = self._phone(slot.rec, outranking) if slot.phone else self._grouped(slot)  # type: ignore[arg-type]
            self._raw_by_key[key] = found
        return found

    @functools.cached_property
    def _lowered(self) -> str | None:
        """The text lower-cased once for every context check, unless that moves offsets ('İ' becomes two)."""
        lowered = self.text.lower()
        return lowered if len(lowered) == len(self.text) else None

    def _boost(self, raws: list[Raw], rule: ContextRule, extra: Sequence[str]) -> list[Candidate]:
        if not raws:
            return []
        text, norm, lowered = self.text, self.norm, self._lowered
        return [
            candidate_of(r, rule.support(text, r.start, r.end, r.score, extra=extra, lowered=lowered), norm)
            for r in raws
        ]

    def candidates(
        self,
        entities: frozenset[str],
        *,
        extra: Sequence[EntityRecognizer] = (),
        context: Sequence[str] = (),
    ) -> Sequence[Candidate]:
        """Results of every recognizer for `entities` (plus `extra` ones run on the full text), boosted
        by context words, in original offsets. Built-in recognizers' candidates are memoised per entity,
        so every PII rule of a validation shares them. The phone matcher skips digit runs that are
        entirely a checksum-valid card number or IBAN (score 1.0, which no phone reading can beat)."""
        words = tuple(context)
        if not extra:  # most rules ask for the same set (their own entities and every outranking one)
            key = (entities, words)
            found = self._by_set.get(key)
            if found is None:
                found = self._by_set[key] = self._of_entities(entities, words)
            return found
        out = self._of_entities(entities, words)
        for rec in extra:
            self.check_deadline()
            rule = context_rule(tuple(rec.context or ()), self.recognizers.language)
            out.extend(self._boost(self._run(rec, self.text), rule, words))
        return out

    def _of_entities(self, entities: frozenset[str], words: tuple[str, ...]) -> list[Candidate]:
        out: list[Candidate] = []
        for triggers, slots in self.recognizers.groups:
            if Trigger.ALL not in triggers and Trigger.PHONE not in triggers and not self._compact(triggers).text:
                continue  # no window for this group: none of its recognizers can match
            for slot in slots:
                if len(slot.entities) == 1:
                    if slot.entities[0] in entities:
                        out.extend(self._of_slot(slot, words))
                elif entities.intersection(slot.entities):
                    out.extend(c for c in self._of_slot(slot, words) if c.entity in entities)
        return out

    def warm(self, entities: frozenset[str], words: tuple[str, ...]) -> Iterator[None]:
        """Compute what `candidates(entities, context=words)` reads, one trigger group's windows or one
        recognizer per step, so a caller can spread the analysis over several calls (the stream validator)."""
        if (entities, words) in self._by_set:
            return  # another rule of the validation asked for the same already
        for triggers, slots in self.recognizers.groups:
            if Trigger.ALL not in triggers and Trigger.PHONE not in triggers:
                built = triggers in self._compacts
                empty = not self._compact(triggers).text
                if not built:
                    yield
                if empty:
                    continue
            for slot in slots:
                if entities.intersection(slot.entities) and (slot.key, words) not in self._boosted:
                    self._of_slot(slot, words)
                    yield

    def _of_slot(self, slot: Slot, words: tuple[str, ...]) -> list[Candidate]:
        key = (slot.key, words)
        found = self._boosted.get(key)
        if found is None:
            found = self._boosted[key] = self._boost(self._raw(slot, _OUTRANK_PHONE), slot.context, words)
        return found


def _mapped(raws: list[Raw], compact: win.Compact) -> list[Raw]:
    out = []
    for r in raws:
        span = compact.to_original(r.start, r.end)
        if span is None:  # cannot happen with SEPARATOR; never trust a straddling match
            continue
        r.start, r.end = span
        out.append(r)
    return out


def _join_touching(text: str, windows: list[win.Window]) -> list[win.Window]:
    out: list[win.Window] = []
    for w in windows:
        if out and text[out[-1].end : w.start].isspace():
            out[-1] = win.Window(out[-1].start, w.end)
        else:
            out.append(w)
    return out


def _region_of(match: phonenumbers.PhoneNumberMatch, preferred: str) -> str:
    """The region presidio names in its explanation: the number's own for an international number
    (presidio re-parses it without a region), else the matcher's."""
    if "+" in match.raw_string or "\uff0b" in match.raw_string:
        return phonenumbers.region_code_for_number(match.number) or preferred
    return preferred


def clear_string_caches() -> None:
    """Forget every per-string decision cached across outputs (phone readings and plans, e-mail domain
    checks), as a new process would: for benchmarks that must not profit from repeated strings."""
    phones.clear_string_caches()
    has_registered_domain.cache_clear()
