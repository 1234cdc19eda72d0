"""`pii`: personal data in the output, found by presidio-analyzer's recognizers, repaired as edits.

Pattern tier by default (presidio's predefined recognizers, no NLP model, no network); an NER tier
(PERSON, LOCATION, ...) when `spacy_model` points at a saved spaCy pipeline. Recognizers run only on
the windows where they can match, and one analysis per document is shared by every PII rule (see
`guardrails.checks._pii`). Findings never carry the raw value: evidence shows its shape.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from guardrails.checks._pii.mask import shape
from guardrails.checks._pii.redact import Mode, Pseudonyms, canonical, keyed_hash, mask
from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

    from guardrails.checks._pii.backend import Backend
    from guardrails.checks._pii.ner import NerTier
    from guardrails.checks._pii.recognizers import RecognizerSet
    from guardrails.checks._pii.scan import Candidate, DocScan

_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
# A candidate of another entity outranks an overlapping one only when it is at least this sure.
OUTRANK_MIN_SCORE = 0.5
_PRESIDIO_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomPattern(_Strict):
    name: str = Field(min_length=1, description="Pattern name, shown in the evidence")
    regex: str = Field(min_length=1, description="A `regex`-module pattern (presidio flags: i, m, s)")
    score: float = Field(default=0.5, ge=0.0, le=1.0, description="Score of a match before context words raise it")


class CustomRecognizer(_Strict):
    """An extra presidio PatternRecognizer: patterns and/or deny-list terms, with context words."""

    entity: str = Field(description="Entity type it reports, UPPER_SNAKE_CASE")
    patterns: list[CustomPattern] = Field(default_factory=list, description="Regex patterns that find the entity")
    deny_list: list[str] = Field(default_factory=list, description="Terms always reported as this entity")
    deny_list_score: float = Field(default=1.0, ge=0.0, le=1.0, description="Score of a deny-list term")
    context: list[str] = Field(default_factory=list, description="Words near a match that raise its score")

    @model_validator(mode="after")
    def _something(self) -> CustomRecognizer:
        if not _ENTITY_NAME.match(self.entity):
            raise ValueError(f"entity {self.entity!r} must be UPPER_SNAKE_CASE")
        if not self.patterns and not self.deny_list:
            raise ValueError(f"custom recognizer {self.entity!r} needs patterns or deny_list")
        if any(not t.strip() for t in self.deny_list):
            raise ValueError("deny_list terms must not be empty")
        return self


class PiiParams(CheckParams):
    entities: list[str] = Field(
        default_factory=list, description="presidio entity types to report; empty = every pattern entity"
    )
    threshold: float = Field(default=0.0, ge=0.0, le=1.0, description="Minimum score for entities not in thresholds")
    thresholds: dict[str, float] = Field(default_factory=dict, description="Minimum score per entity type")
    allow_list: list[str] = Field(default_factory=list, description="Values never reported (e.g. a support address)")
    allow_list_match: Literal["exact", "regex"] = Field(
        default="exact", description="How allow_list entries match a value: as exact text or as regexes"
    )
    deny_list: dict[str, list[str]] = Field(
        default_factory=dict, description="Entity type -> terms always reported as that type"
    )
    recognizers: list[CustomRecognizer] = Field(default_factory=list, description="Custom patterns with context")
    context: list[str] = Field(default_factory=list, description="Extra context words applied to every candidate")
    language: str | None = Field(default=None, description="Recognizer language; default: the call's context")
    preload_languages: list[str] = Field(
        default_factory=list, description="Languages to load at policy load (others load on first use, ~50 ms)"
    )
    spacy_model: str | None = Field(default=None, description="Path of a saved spaCy pipeline: enables the NER tier")
    outranked_by: list[str] | None = Field(
        default=None,
        description="Entity types whose overlapping, surer candidates suppress this rule's (default: all)",
    )
    mode: Mode = Field(default=Mode.TAG, description="Repair: redact, mask, tag, hash or pseudonym")
    redact_text: str = Field(default="[REDACTED]", description="Mode redact: the text that replaces a value")
    mask_char: str = Field(default="*", min_length=1, max_length=1, description="Mode mask: replaces each character")
    tag_format: str = Field(default="<{entity}>", description="Mode tag: the replacement, {entity} filled in")
    pseudonym_format: str = Field(
        default="<{entity}_{n}>", description="Mode pseudonym: {n} numbers distinct values, the same value the same n"
    )
    hash_key: str | None = Field(default=None, description="HMAC key (prefer hash_key_env: keys do not belong in YAML)")
    hash_key_env: str = Field(default="OUTGUARD_PII_HASH_KEY", description="Environment variable holding the key")
    hash_length: int = Field(default=12, ge=8, le=64, description="Mode hash: hex digits of the HMAC kept")
    hash_format: str = Field(default="<{entity}:{digest}>", description="Mode hash: the replacement")
    max_findings: int = Field(default=500, ge=1, description="Report at most this many values per output")

    @field_validator("entities")
    @classmethod
    def _entity_names(cls, value: list[str]) -> list[str]:
        bad = [e for e in value if not _ENTITY_NAME.match(e)]
        if bad:
            raise ValueError(f"entity types are UPPER_SNAKE_CASE presidio names, got {bad}")
        return value

    @field_validator("thresholds")
    @classmethod
    def _threshold_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"thresholds must lie in 0..1, got {bad}")
        return value

    @field_validator("pseudonym_format")
    @classmethod
    def _has_n(cls, value: str) -> str:
        if "{n}" not in value:
            raise ValueError("pseudonym_format must contain {n} (the number of the distinct value)")
        return value


class PiiCheck(Check[PiiParams]):
    kind = "pii"
    streaming = True
    # Values without spaces (e-mail, IP, wallet addresses) can change only while they are the last token; one
    # with spaces (an IBAN in groups, a phone number) is under ~50 characters, plus the 40 after it whose
    # context words can raise its score.
    lookbehind = 128
    boundary = "token"
    # `rechecks` stays "whole": detection is local (a match, and context words from the 120 characters before it,
    # all within `lookbehind`: tests/checks/test_pii_rechecks.py), but pseudonym numbering reads the whole text,
    # and windowed re-checks measured slower, as each rule scans its own window (a 2 KB output 0.41 -> 1.2 ms).

    def __init__(self, params: PiiParams) -> None:
        super().__init__(params)
        self.b = _backend()
        language = _primary(params.language or "en")
        base = self.b.recognizers(language)
        for other in params.preload_languages:
            self.b.recognizers(_primary(other))
        # The context's language is the caller's: any string. Each language builds and keeps a recognizer set
        # (~60 ms, memory for good), so only languages presidio configures or the rule names get their own;
        # any other reads with the rule's base language (patterns do not depend on it, only context words do).
        self._base_language = language
        self._languages = self.b.known_languages() | {language, *map(_primary, params.preload_languages)}
        self.ner: NerTier | None = self.b.ner(params.spacy_model, language) if params.spacy_model else None
        self.custom = self._custom_recognizers(language)
        custom_entities = {r.supported_entities[0] for r in self.custom}
        known = base.entities | custom_entities | (self.b.ner_entities if self.ner else frozenset())
        self.entities = frozenset(params.entities) if params.entities else base.entities | custom_entities
        self._require_known(self.entities, known, "params.entities")
        self._require_known(frozenset(params.thresholds), known, "params.thresholds")
        self.outranked_by = (
            frozenset(params.outranked_by) if params.outranked_by is not None else base.entities
        ) - self.entities
        self.allow = self._allow_matcher()
        # Entities whose candidates this rule reads (its own and those that outrank them); after `bind`, those of
        # every PII rule of the policy, so that all of them share one candidate list per output.
        self._asked: frozenset[str] = self.entities | self.outranked_by
        self._wanted: dict[str, frozenset[str]] = {}  # `_asked`, per recognizer language
        self.hash_key = self._hash_key() if params.mode is Mode.HASH else b""

    # -- setup --------------------------------------------------------------------------------------

    def _custom_recognizers(self, language: str) -> list[EntityRecognizer]:
        out: list[EntityRecognizer] = []
        specs = list(self.params.recognizers)
        specs += [CustomRecognizer(entity=e, deny_list=terms) for e, terms in self.params.deny_list.items()]
        for i, spec in enumerate(specs):
            for pat in spec.patterns:
                try:
                    regex.compile(pat.regex, _PRESIDIO_FLAGS)
                except regex.error as exc:
                    raise ValueError(f"key 'params.recognizers[{i}].patterns': {pat.name!r} is invalid: {exc}") from exc
            out.append(
                self.b.custom_recognizer(
                    spec.entity,
                    language,
                    patterns=[(p.name, p.regex, p.score) for p in spec.patterns],
                    deny_list=spec.deny_list,
                    deny_list_score=spec.deny_list_score,
                    context=spec.context,
                )
            )
        return out

    def _require_known(self, entities: frozenset[str], known: frozenset[str], key: str) -> None:
        unknown = sorted(entities - known)
        if unknown:
            hint = ""
            if set(unknown) & self.b.ner_entities:
                hint = " (PERSON, LOCATION, ... need params.spacy_model: the pattern tier cannot find them)"
            raise ValueError(f"key {key!r}: unknown entity type(s) {unknown}{hint}; known: {', '.join(sorted(known))}")

    def _allow_matcher(self) -> re.Pattern[str] | frozenset[str]:
        if self.params.allow_list_match == "regex":
            try:
                return re.compile("|".join(f"(?:{a})" for a in self.params.allow_list) or r"(?!x)x", re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"key 'params.allow_list': invalid regular expression: {exc}") from exc
        return frozenset(a.casefold() for a in self.params.allow_list)

    def _hash_key(self) -> bytes:
        key = self.params.hash_key or os.environ.get(self.params.hash_key_env, "")
        if not key:
            raise ValueError(
                f"key 'params.mode': mode 'hash' needs a key: set the environment variable {self.params.hash_key_env} "
                "(or params.hash_key)"
            )
        return key.encode()

    # -- run ----------------------------------------------------------------------------------------

    def _scan(self, doc: Document, ctx: RunContext) -> tuple[DocScan, RecognizerSet]:
        asked = _primary(self.params.language or ctx.context.language or "en")
        rs = self.b.recognizers(asked if asked in self._languages else self._base_language)
        scan = doc.view(rs.scan_key, lambda d: self.b.scan(d.text, rs))
        scan.check_deadline = ctx.deadline.check
        return scan, rs

    def _candidates(self, doc: Document, ctx: RunContext) -> Sequence[Candidate]:
        scan, rs = self._scan(doc, ctx)
        wanted = self._wanted.get(rs.language)
        if wanted is None:
            wanted = self._wanted[rs.language] = self._asked & rs.entities
        found = scan.candidates(wanted, extra=self.custom, context=self.params.context)
        if self.ner is not None:
            ner = self.ner
            key = f"pii-ner:{self.params.spacy_model}:{ner.language}"
            results = doc.view(key, lambda d: ner.analyze(scan.text, self.b.ner_entities))
            # scan.candidates' list is shared by the rules of this validation: extend a copy
            found = [*found, *(self.b.candidate(r, scan.norm) for r in results if r.entity_type in self.entities)]
        return found

    def stream_steps(self, doc: Document, ctx: RunContext) -> Iterator[None]:
        """For the stream validator: build this document's shared analysis (every PII rule of the policy reads
        it) one recognizer at a time, so no single call pays for all of it; run() then finds it memoised."""
        if self.custom or self.ner is not None:
            return  # their recognizers run inside run(): nothing shared to build ahead
        scan, rs = self._scan(doc, ctx)
        yield
        wanted = self._wanted.get(rs.language)
        if wanted is None:
            wanted = self._wanted[rs.language] = self._asked & rs.entities
        yield from scan.warm(wanted, tuple(self.params.context))

    def bind(self, siblings: Sequence[Check]) -> None:
        """`select` reads only its own and outranking entities, so a wider list changes nothing: ask for what
        every PII rule of the policy reads, and the rules share one memoised candidate list per output."""
        others = (c.entities | c.outranked_by for c in siblings if isinstance(c, PiiCheck))
        self._asked = frozenset().union(self.entities, self.outranked_by, *others)
        self._wanted.clear()

    def _allowed(self, value: str) -> bool:
        if isinstance(self.allow, frozenset):
            return value.casefold() in self.allow
        return self.allow.fullmatch(value) is not None

    def _threshold(self, entity: str) -> float:
        return self.params.thresholds.get(entity, self.params.threshold)

    def select(self, text: str, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Own candidates above threshold and not allowed, each span reported once, as the entity
        presidio is surest of: an overlapping surer candidate (own, or of `outranked_by`) wins."""
        own = [
            c
            for c in candidates
            if c.entity in self.entities and c.score >= self._threshold(c.entity) and c.end > c.start
        ]
        own = [c for c in own if not self._allowed(text[c.start : c.end])]
        if not own:
            return own
        others = [c for c in candidates if c.entity in self.outranked_by and c.score >= OUTRANK_MIN_SCORE]
        ranked = sorted([*own, *others], key=lambda c: (-c.score, -c.length, c.start, c.entity))
        # Taken spans never overlap, so they stay sorted by start and by end alike: a candidate can only
        # overlap the last one starting at or before it and the first one starting after it.
        starts: list[int] = []
        ends: list[int] = []
        chosen: set[int] = set()
        for c in ranked:
            i = bisect.bisect_right(starts, c.start)
            if (i and ends[i - 1] > c.start) or (i < len(starts) and starts[i] < c.end):
                continue
            starts.insert(i, c.start)
            ends.insert(i, c.end)
            chosen.add(id(c))
        return sorted((c for c in own if id(c) in chosen), key=lambda c: c.start)

    def _replacement(self, c: Candidate, value: str, pseudonyms: Pseudonyms) -> str:
        mode = self.params.mode
        if mode is Mode.REDACT:
            return self.params.redact_text
        if mode is Mode.MASK:
            return mask(value, self.params.mask_char)
        if mode is Mode.HASH:
            digest = keyed_hash(self.hash_key, c.entity, value, self.params.hash_length)
            return self.params.hash_format.format(entity=c.entity, digest=digest)
        if mode is Mode.PSEUDONYM:
            return pseudonyms.get(c.entity, value)
        return self.params.tag_format.format(entity=c.entity)

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        text = doc.text
        chosen = self.select(text, self._candidates(doc, ctx))[: self.params.max_findings]
        if not chosen:
            return
        pseudonyms = Pseudonyms(self.params.pseudonym_format, text)
        for c in chosen:
            value = text[c.start : c.end]
            masked = shape(value)
            replacement = self._replacement(c, value, pseudonyms)
            yield Hit(
                c.start,
                c.end,
                values={
                    "entity": c.entity,
                    "masked": masked,
                    "matched": masked,
                    "score": c.score,
                },
                fingerprint_key=_fingerprint(c.entity, value),
                evidence=_evidence(c, masked, self._threshold(c.entity)),
                fix=Fix(
                    title=f"{self.params.mode.value} {c.entity}",
                    edits=[Edit(start=c.start, end=c.end, replacement=replacement)],
                    safe=True,
                    redacts=True,  # overlapping PII values (an IBAN holding a card run) merge into one edit
                ),
            )


@functools.lru_cache(maxsize=256)
def _primary(language: str) -> str:
    """presidio keys recognizers by ISO 639-1 code: "en-US" and "EN" are "en"."""
    return language.replace("_", "-").split("-")[0].strip().lower() or "en"


def _backend() -> Backend:
    """presidio, imported when a PII rule is built: without the `pii` extra this is a load error."""
    try:
        from guardrails.checks._pii import slim

        slim.install()  # before presidio's first import: its package __init__ imports torch and spaCy
        from guardrails.checks._pii.backend import Backend
    except ModuleNotFoundError as exc:
        raise ValueError(
            f"the pii check needs presidio-analyzer ({exc.name!r} is not installed): pip install 'outguard[pii]'"
        ) from exc
    return Backend()


def _fingerprint(entity: str, value: str) -> str:
    # The engine hashes this again; hashing here keeps the raw value out of every structure it keeps.
    return hashlib.sha256(f"{entity}\x1f{canonical(entity, value)}".encode()).hexdigest()[:32]


def _evidence(c: Candidate, masked: str, threshold: float) -> Evidence:
    return Evidence(
        score=c.score,
        threshold=threshold,
        pattern=c.pattern_name,
        matched=masked,
        source=c.recognizer,
        details={
            "entity": c.entity,
            "recognizer": c.recognizer,
            "pattern_name": c.pattern_name,
            "original_score": c.original_score,
            "score_context_improvement": c.context_improvement,
            "supportive_context_word": c.context_word,
            "validation_result": c.validation,
            "textual_explanation": c.explanation,
            "normalized": c.normalized,
        },
    )


CHECK = PiiCheck
