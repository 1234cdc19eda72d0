"""presidio's recognizers, run without presidio's per-match objects.

A presidio `PatternRecognizer` is data (named patterns with scores, flags, context words) plus two
hooks (`validate_result`, `invalidate_result`: Luhn, checksums, pruning). `PatternDriver` runs exactly
that data and those hooks, with presidio's scoring and de-duplication rules, but builds one small `Raw`
per match instead of a RecognizerResult, an AnalysisExplanation and two timestamps: most of
presidio's time per call on short windows. Recognizers that override `analyze` itself (IBAN, phone,
NER) still run through presidio and their results are converted.
"""

from __future__ import annotations

import itertools
import re
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult

from guardrails.checks._patterns import derived

MIN_SCORE = EntityRecognizer.MIN_SCORE
MAX_SCORE = EntityRecognizer.MAX_SCORE


@dataclass(slots=True)
class Raw:
    """One recognizer match in the scanned text's offsets, before context words."""

    entity: str
    start: int
    end: int
    score: float
    recognizer: str
    recognizer_id: str
    pattern_name: str | None = None
    original_score: float | None = None
    validation: bool | None = None
    explanation: str | None = None


def _hook(rec: EntityRecognizer, name: str) -> Callable[[str], bool | None] | None:
    """The recognizer's own validate/invalidate hook, or None when it keeps PatternRecognizer's no-op."""
    for klass in type(rec).__mro__:
        if klass is PatternRecognizer:
            return None
        if name in klass.__dict__:
            hook: Callable[[str], bool | None] = getattr(rec, name)
            return hook
    return None


def drivable(rec: EntityRecognizer) -> bool:
    """Whether the recognizer is plain pattern data: a PatternRecognizer that keeps presidio's `analyze`."""
    if not isinstance(rec, PatternRecognizer):
        return False
    for klass in type(rec).__mro__:
        if klass is PatternRecognizer:
            return True
        if "analyze" in klass.__dict__ or "_PatternRecognizer__analyze_patterns" in klass.__dict__:
            return False
    return False


class PatternDriver:
    """`PatternRecognizer.analyze` for one recognizer, same results, light objects."""

    def __init__(self, rec: PatternRecognizer) -> None:
        flags: int = rec.global_regex_flags or 0
        self.entity: str = rec.supported_entities[0]
        self.name = str(getattr(rec, "name", type(rec).__name__))
        self.id: str = rec.id
        patterns: list[Any] = list(getattr(rec, "patterns", None) or ())
        self.patterns: list[tuple[str, Any, float, str]] = [
            (str(p.name), regex.compile(p.regex, flags=flags), float(p.score), required_literals(p.regex, flags))
            for p in patterns
        ]
        self.validate = _hook(rec, "validate_result")
        self.invalidate = _hook(rec, "invalidate_result")

    def find(self, text: str) -> list[Raw]:
        out: list[Raw] = []
        validate, invalidate = self.validate, self.invalidate
        for pattern_name, compiled, score, required in self.patterns:
            if required and not all(map(text.__contains__, required)):
                continue  # a C-level substring test instead of a regex pass that cannot match
            for m in compiled.finditer(text):
                start, end = m.span()
                if start == end:
                    continue
                final = score
                validation = None
                if validate is not None:
                    value = text[start:end]
                    validation = validate(value)
                    if validation is not None:
                        final = MAX_SCORE if validation else MIN_SCORE
                if invalidate is not None and invalidate(text[start:end]):
                    final = MIN_SCORE
                if final > MIN_SCORE:
                    out.append(Raw(self.entity, start, end, final, self.name, self.id, pattern_name, score, validation))
        return remove_duplicates(out) if len(out) > 1 else out


_DRIVERS: weakref.WeakKeyDictionary[EntityRecognizer, PatternDriver | None] = weakref.WeakKeyDictionary()


def driver_for(rec: EntityRecognizer) -> PatternDriver | None:
    """The driver of a plain pattern recognizer, built once per recognizer object (patterns compiled once);
    None for recognizers that must run through presidio."""
    try:
        return _DRIVERS[rec]
    except KeyError:
        found = _DRIVERS[rec] = PatternDriver(rec) if drivable(rec) else None  # type: ignore[arg-type]
        return found


def required_literals(pattern: str, flags: int) -> str:
    """Characters every match of `pattern` contains (literal, caseless ones: '/', '-', '@', digits...),
    read from the parsed pattern: mandatory items of the top sequence, mandatory groups and repeats,
    and what all branches of an alternation share. "" when unsure (a syntax only `regex` reads)."""
    return derived("required_literals", pattern, flags, lambda: _required_literals(pattern, flags))


def _required_literals(pattern: str, flags: int) -> str:
    caseless = bool(flags & regex.IGNORECASE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            parsed = re._parser.parse(pattern, re.IGNORECASE if caseless else 0)  # type: ignore[attr-defined]
    except (re.error, Warning, RecursionError):
        return ""
    return "".join(sorted(_required(parsed, caseless or bool(parsed.state.flags & re.IGNORECASE))))


def _required(items: Any, caseless: bool) -> set[str]:
    from re import _constants as c  # type: ignore[attr-defined]

    out: set[str] = set()
    for op, av in items:
        if op is c.LITERAL:
            ch = chr(av)
            if not caseless or (ch.lower() == ch.upper() == ch and ch.isascii()):
                out.add(ch)
        elif op is c.SUBPATTERN:  # (group, flags added, flags removed, items): a (?i:...) group is caseless
            _, added, removed, sub = av
            out |= _required(sub, (caseless or bool(added & re.IGNORECASE)) and not removed & re.IGNORECASE)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            if av[0] >= 1:
                out |= _required(av[2], caseless)
        elif op is c.ATOMIC_GROUP:
            out |= _required(av, caseless)
        elif op is c.BRANCH:
            branches = [_required(b, caseless) for b in av[1]]
            out |= set.intersection(*branches) if branches else set()
    return out


def from_presidio(results: Sequence[RecognizerResult]) -> list[Raw]:
    """presidio's own results (IBAN, phone, NER) as Raw."""
    out = []
    for r in results:
        ex = r.analysis_explanation
        meta = r.recognition_metadata or {}
        out.append(
            Raw(
                entity=r.entity_type,
                start=r.start,
                end=r.end,
                score=float(r.score),
                recognizer=str(meta.get(RecognizerResult.RECOGNIZER_NAME_KEY) or getattr(ex, "recognizer", "unknown")),
                recognizer_id=str(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, "")),
                pattern_name=getattr(ex, "pattern_name", None),
                original_score=getattr(ex, "original_score", None),
                validation=getattr(ex, "validation_result", None),
                explanation=getattr(ex, "textual_explanation", None),
            )
        )
    return out


def remove_duplicates(results: list[Raw]) -> list[Raw]:
    """presidio's `EntityRecognizer.remove_duplicates`: drop exact repeats, zero scores, and results that
    another of the same entity contains with an equal or higher score; order by score, then position."""
    seen: set[tuple[str, int, int, float]] = set()
    unique = []
    for r in results:
        key = (r.entity, r.start, r.end, r.score)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    unique.sort(key=lambda r: (r.entity, r.start, -(r.end - r.start), -r.score))
    kept: list[Raw] = []
    for _, group in itertools.groupby(unique, key=lambda r: r.entity):
        active: list[Raw] = []
        for r in group:
            if r.score == 0:
                continue
            active = [a for a in active if a.end >= r.start]
            if any(a.start <= r.start and r.end <= a.end and r.score <= a.score for a in active):
                continue
            kept.append(r)
            active.append(r)
    kept.sort(key=lambda r: (-r.score, r.start, -(r.end - r.start)))
    return kept
