"""`known_facts`: claims about known entities checked against the facts store.

A claim is an entity mention (alias, case- and accent-insensitive), an attribute it talks about (a
configured phrase, or the only attribute whose type fits the stated value) and the value stated (money,
number with unit, percentage, date, enum word, yes/no), negation aware. Each claim is supported,
contradicted or unverifiable; only contradictions are reported by default, and an unverifiable claim is
never a contradiction. Facts come from the store (polled for changes on each run), from inline `facts`,
a `facts_file`, or per call from `Context.extra["facts"]`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal

import ahocorasick
from pydantic import Field, field_validator

from guardrails.checks._facts.compare import compare, fits
from guardrails.checks._facts.index import EntityFacts, FactIndex, Mention, StoreDriverMissing, StoreIndex
from guardrails.checks._facts.repair import correction
from guardrails.checks._facts.text import (
    NEGATION_RE,
    Stated,
    folded_view,
    qualifier,
    scan_values,
    sentence_bounds,
)
from guardrails.checks.base import Check, CheckParams, DeadlineExceeded, Hit, RunContext
from guardrails.document import Document
from guardrails.facts.model import EnumValue, Fact, normalize
from guardrails.facts.paths import default_url
from guardrails.findings import Evidence


class Status(StrEnum):
    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    UNVERIFIABLE = "unverifiable"


class AttributeSpec(CheckParams):
    phrases: list[str] = Field(default_factory=list, description="Words that say a sentence is about it")
    negative: list[str] = Field(
        default_factory=list, description="For yes/no attributes: phrases that state it is false"
    )


_Report = Literal["contradicted", "unverifiable", "supported"]


def _only_contradicted() -> list[_Report]:
    return ["contradicted"]


class KnownFactsParams(CheckParams):
    db: str | None = Field(
        default=None, description="Database URL; default $OUTGUARD_FACTS_DB or <data dir>/facts.db (absent = empty)"
    )
    use_store: bool = Field(default=True, description="Read the facts store (false: inline facts only)")
    facts: list[dict[str, Any]] = Field(default_factory=list, description="Inline facts (rows as in a JSONL import)")
    facts_file: str | None = Field(default=None, description="A CSV/JSONL facts file loaded into memory")
    context_key: str = Field(default="facts", description="Context.extra key carrying per-call facts")
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict, description="Phrases per attribute")
    report: list[_Report] = Field(
        default_factory=_only_contradicted, description="Which claim statuses this rule reports"
    )
    infer_attribute: bool = Field(
        default=True, description="Without a phrase, a value whose type/unit fits exactly one attribute claims it"
    )
    day_first: bool = Field(default=False, description="Read 03/04/2025 as 3 April (default: March 4)")
    approx_tolerance: float = Field(default=0.1, ge=0, le=1, description="Relative slack after 'about', 'around'")
    refresh_seconds: float = Field(default=0.0, ge=0, description="Poll the store at most this often (0: each run)")
    max_claims: int = Field(default=500, ge=1, description="Compare at most this many claims per output")
    max_call_facts: int = Field(default=10_000, ge=0, description="Most facts a call may pass in its context")
    pronouns: list[str] = Field(
        default_factory=lambda: ["it", "its", "it's", "it\u2019s"],
        description="A sentence opening with one of these speaks of the entity last mentioned ([] disables)",
    )

    @field_validator("facts")
    @classmethod
    def _rows(cls, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _parse_rows(rows, "params.facts")
        return rows


def _parse_rows(rows: Any, where: str) -> list[Fact]:
    from guardrails.facts.rows import FieldError, row_to_fact

    if not isinstance(rows, list):
        raise ValueError(f"{where}: expected a list of facts")
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(row_to_fact(row))
        except FieldError as exc:
            raise ValueError(f"{where}[{i}].{exc.field}: {exc.reason}") from None
    return out


@dataclass(slots=True)  # not frozen: built per value and claim on the hot path, frozen init costs 2x
class Claim:
    entity: str
    attribute: str
    status: Status
    start: int  # folded offsets of what is flagged (the value, or the phrase for yes/no)
    end: int
    claimed: str
    fact: Fact | None = None
    stated: Stated | None = None
    negated: bool = False
    word: str | None = None  # enum word as written


@dataclass(slots=True)  # not frozen: built per value and claim on the hot path, frozen init costs 2x
class _Phrase:
    start: int
    end: int
    attribute: str
    positive: bool


@dataclass(slots=True)
class _Shape:
    facts: dict[str, list[Fact]]  # the dict it describes (identity says whether it is still current)
    unconfigured: tuple[tuple[str, str], ...]  # (attribute, its name as words) for attributes with no phrases
    enums: tuple[str, ...]  # attributes whose value is an enum


_SHARED: dict[str, StoreIndex] = {}


def _shared_store_index(url: str | None, refresh: float) -> StoreIndex:
    """One index per database for all rules and engines in the process: built once, refreshed by polling."""
    key = f"{url}\x1f{refresh}"
    if key not in _SHARED:
        _SHARED[key] = StoreIndex(url, create=False, refresh_seconds=refresh)
    return _SHARED[key]


class KnownFactsCheck(Check[KnownFactsParams]):
    kind = "known_facts"

    def __init__(self, params: KnownFactsParams) -> None:
        super().__init__(params)
        inline = _parse_rows(params.facts, "params.facts")
        if params.facts_file:
            inline.extend(_load_file(params.facts_file))
        self.inline = FactIndex.from_facts(inline) if inline else None
        url = params.db or default_url()  # resolved now: the environment decides which default store
        self.store = _shared_store_index(url, params.refresh_seconds) if params.use_store else None
        phrases: dict[str, tuple[str, bool]] = {}
        for attr, spec in params.attributes.items():
            for ph in [attr.replace("_", " "), *spec.phrases]:
                phrases.setdefault(normalize(ph), (attr, True))
            for ph in spec.negative:
                phrases[normalize(ph)] = (attr, False)
        self._phrases = phrases
        self._pronouns = frozenset(normalize(p) for p in params.pronouns)
        self._phrase_ac = _automaton(list(phrases)) if phrases else None
        self._shape_key = "known_facts:shape:" + "\x1f".join(sorted(params.attributes))
        self._warm_up()
        self._view_key = "known_facts:" + json.dumps(params.model_dump(mode="json", exclude={"report"}), sort_keys=True)

    def _warm_up(self) -> None:
        """Open the store and build the alias automaton now, so the first validation is not the slow one.

        A database that cannot be reached is not a load error: run() retries and fails closed. A database
        without the driver to read it is one (installing a package is not something a retry fixes).
        """
        if self.store is not None:
            try:
                list(self.store.current().mentions(""))
            except StoreDriverMissing as exc:
                raise ValueError(str(exc)) from exc
            except Exception:  # reported by run() as a check failure when it persists
                pass
        if self.inline is not None:
            list(self.inline.mentions(""))

    def cache_state(self) -> str:
        """What results of this check depend on beyond its params and the call: the facts store's revision, as
        the next run would read it (guardrails.results_cache keys cached reports by it)."""
        if self.store is None:
            return ""
        self.store.current()
        return f"{self.store.url}@{self.store.revision}"

    # -- claims ------------------------------------------------------------------------------------

    def claims(self, doc: Document, ctx: RunContext) -> list[Claim]:
        """Every claim in the document, judged (shared by all rules over the same configuration)."""
        call_key = ctx.context.extra.get(self.params.context_key)
        key = f"{self._view_key}\x1f{id(call_key)}"
        return doc.view(key, lambda d: self._claims(d, ctx))

    def _indexes(self, ctx: RunContext) -> list[FactIndex]:
        out = []
        per_call = ctx.context.extra.get(self.params.context_key)
        if per_call:
            if isinstance(per_call, list) and len(per_call) > self.params.max_call_facts:
                raise ValueError(
                    f"context.extra.{self.params.context_key}: {len(per_call)} facts, more than max_call_facts "
                    f"{self.params.max_call_facts}; import them into the store instead"
                )
            out.append(FactIndex.from_facts(_parse_rows(per_call, f"context.extra.{self.params.context_key}")))
        if self.inline is not None:
            out.append(self.inline)
        if self.store is not None:
            out.append(self.store.current())
        return out

    def _claims(self, doc: Document, ctx: RunContext) -> list[Claim]:
        indexes = self._indexes(ctx)
        if not any(len(ix) for ix in indexes):
            return []
        folded = folded_view(doc)
        text = folded.text
        mentions = _mentions(indexes, text)
        if not mentions:
            return []
        ends = sentence_bounds(text)
        if self.params.pronouns:
            mentions = _with_pronouns(mentions, text, ends, self._pronouns)
        # values are read only in sentences that name an entity: most of a long answer is never scanned
        ranges = _sentence_ranges(mentions, ends)
        try:
            scanned = scan_values(
                text, day_first=self.params.day_first, timeout=ctx.deadline.remaining(), ranges=ranges
            )
        except TimeoutError as exc:
            raise DeadlineExceeded("scanning values ran past the deadline") from exc
        values = _outside_mentions(scanned, mentions)
        value_starts = [v.start for v in values]
        phrases = self._find_phrases(text, ranges)
        phrase_starts = [p.start for p in phrases]
        day = ctx.context.reference_date or dt.date.today()
        claims: list[Claim] = []
        sent_i = 0
        for i, (m, ix) in enumerate(mentions):
            ctx.deadline.check()
            while ends[sent_i] <= m.start:
                sent_i += 1
            s_start = ends[sent_i - 1] if sent_i else 0
            s_end = ends[sent_i]
            prev_in_sentence = i > 0 and mentions[i - 1][0].end > s_start
            w_start = m.start if prev_in_sentence else s_start
            w_end = min(s_end, mentions[i + 1][0].start) if i + 1 < len(mentions) else s_end
            window = _Window(text, w_start, w_end, m, day)
            lo, hi = bisect.bisect_left(value_starts, w_start), bisect.bisect_left(value_starts, w_end)
            w_values = [v for v in values[lo:hi] if v.end <= w_end]
            lo, hi = bisect.bisect_left(phrase_starts, w_start), bisect.bisect_left(phrase_starts, w_end)
            w_phrases = [p for p in phrases[lo:hi] if p.end <= w_end]
            best: list[Claim] | None = None
            for eid in m.entity_ids:
                ef = ix.entities.get(eid)
                if ef is None:
                    continue
                got = self._entity_claims(window, ef, w_values, w_phrases)
                best = got if best is None else _prefer(best, got)
            claims.extend(best or [])
            if len(claims) >= self.params.max_claims:
                break
        return claims

    def _find_phrases(self, text: str, ranges: list[tuple[int, int]]) -> list[_Phrase]:
        if self._phrase_ac is None:
            return []
        out = []
        n = len(text)
        found = (hit for lo, hi in ranges for hit in self._phrase_ac.iter_long(text, lo, hi))
        for end_idx, phrase in found:
            start, end = end_idx - len(phrase) + 1, end_idx + 1
            if (start > 0 and text[start - 1].isalnum()) or (end < n and text[end].isalnum()):
                continue
            attr, positive = self._phrases[phrase]
            out.append(_Phrase(start, end, attr, positive))
        return out

    def _entity_claims(self, w: _Window, ef: EntityFacts, values: list[Stated], phrases: list[_Phrase]) -> list[Claim]:
        name = ef.entity.name
        facts = ef.valid_on(w.day)
        shape = self._shape(ef, facts)
        # attributes with no configured phrase are found by their own name ("release_date" -> "release date")
        extra = [p for attr, spoken in shape.unconfigured for p in _find_word(w.text, spoken, w.start, w.end, attr)]
        if extra:
            phrases = sorted([*phrases, *extra], key=lambda p: p.start)
        used: set[int] = set()
        claims: list[Claim] = []
        # attributes with facts pick their values first: a phrase for an unknown attribute ("warranty")
        # must not take the value a known one ("costs $49") is about
        phrases = sorted(phrases, key=lambda p: not facts.get(p.attribute))
        for ph in phrases:
            known = facts.get(ph.attribute, [])
            vtype = known[0].value.type if known else None
            if vtype == "boolean" or (vtype is None and not ph.positive):
                claims.append(self._boolean_claim(w, name, ph, known))
            elif vtype == "enum":
                claims.extend(self._enum_claims(w, name, ph.attribute, known, after=ph.start))
            elif vtype == "text":
                claims.append(_text_claim(w, name, ph, known))
            else:
                v = _pick_value(w, ph, values, used, known)
                if v is not None:
                    used.add(v.start)
                    claims.append(self._value_claim(w, name, ph.attribute, v, known, history=ef.by_attr))
        if self.params.infer_attribute:
            claimed = {c.attribute for c in claims}
            claims.extend(
                self._inferred_claims(w, ef, facts, enums=shape.enums, values=values, used=used, claimed_attrs=claimed)
            )
        return [c for c in claims if c is not None]

    def _inferred_claims(
        self,
        w: _Window,
        ef: EntityFacts,
        facts: dict[str, list[Fact]],
        *,
        enums: Iterable[str],
        values: list[Stated],
        used: set[int],
        claimed_attrs: set[str],
    ) -> list[Claim]:
        """Claims no phrase names: a value only one unclaimed attribute's facts fit, and enum attributes."""
        name = ef.entity.name
        claims: list[Claim] = []
        for v in values:
            if v.start in used:
                continue
            candidates = [a for a, fs in facts.items() if fs and a not in claimed_attrs and fits(v, fs[0], w.text)]
            if len(candidates) == 1:
                used.add(v.start)
                claims.append(self._value_claim(w, name, candidates[0], v, facts[candidates[0]], history=ef.by_attr))
        for attr in enums:
            if attr not in claimed_attrs:
                claims.extend(self._enum_claims(w, name, attr, facts[attr], after=w.start, inferred=facts))
        return claims

    def _shape(self, ef: EntityFacts, facts: dict[str, list[Fact]]) -> _Shape:
        """What _entity_claims derives from an entity's facts alone, kept on the entity while its facts
        dict stays the same (facts valid on one day only, built per call by valid_on, are not kept)."""
        shape = ef.derived.get(self._shape_key)
        if isinstance(shape, _Shape) and shape.facts is facts:
            return shape
        configured = self.params.attributes
        shape = _Shape(
            facts,
            tuple((a, _spoken(a)) for a in facts if a not in configured),
            tuple(a for a, fs in facts.items() if fs and fs[0].value.type == "enum"),
        )
        if facts is ef.by_attr:
            ef.derived[self._shape_key] = shape
        return shape

    def _value_claim(
        self, w: _Window, entity: str, attr: str, v: Stated, known: list[Fact], *, history: dict[str, list[Fact]]
    ) -> Claim:
        # negation sits between the entity (or the window start) and the value: "X does not cost $5"
        lo = w.mention.end if v.start >= w.mention.end else w.start
        negated = _negated(w.text, lo, v.start)
        if _PAST_RE.search(w.text, lo, v.start):
            # "used to cost", "was priced at": true if any version of the fact, current or past, says so
            known = history.get(attr, known)
        q = qualifier(w.text, v.start) if known else ""
        results = [(f, compare(v, f, q, self.params.approx_tolerance)) for f in known]
        status, fact = _decide(results, negated)
        return Claim(entity, attr, status, v.start, v.end, w.text[v.start : v.end], fact, v, negated)

    def _boolean_claim(self, w: _Window, entity: str, ph: _Phrase, known: list[Fact]) -> Claim:
        lo = max(w.start, ph.start - 20)
        negated = _negated(w.text, lo, ph.start)
        said = ph.positive != negated
        results = [(f, "match" if f.value.value == said else "mismatch") for f in known]  # type: ignore[union-attr]
        status, fact = _decide(results, False)
        return Claim(entity, ph.attribute, status, ph.start, ph.end, w.text[ph.start : ph.end], fact, None, negated)

    def _enum_claims(
        self,
        w: _Window,
        entity: str,
        attr: str,
        known: list[Fact],
        *,
        after: int,
        inferred: dict[str, list[Fact]] | None = None,
    ) -> list[Claim]:
        # One claim at most: the first hit of the first word (in sorted order) that is not ambiguous.
        value = known[0].value if known else None
        if not isinstance(value, EnumValue):
            return []
        for word in _enum_words(value):
            for hit in _find_word(w.text, word, max(after, w.start), w.end, attr):
                if inferred is not None and _word_in_other_enum(word, attr, inferred):
                    continue  # the word names a value of another attribute too: which one is unclear
                negated = _negated(w.text, max(w.start, hit.start - 20), hit.start)
                same = word == _norm(value.value)
                status, f = _decide([(f2, "match" if same else "mismatch") for f2 in known], negated)
                return [
                    Claim(entity, attr, status, hit.start, hit.end, w.text[hit.start : hit.end], f, None, negated, word)
                ]
        return []

    # -- hits --------------------------------------------------------------------------------------

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        wanted = set(self.params.report)
        folded = folded_view(doc)
        for c in self.claims(doc, ctx):
            if c.status.value not in wanted:
                continue
            start, end = folded.start(c.start), folded.end(c.end)
            matched = doc.text[start:end]
            known = c.fact.value.display() if c.fact is not None else ""
            evidence = Evidence(
                matched=matched,
                fact=_fact_evidence(c.fact) if c.fact is not None else None,
                source=c.fact.source if c.fact is not None else None,
                details={
                    "status": c.status.value,
                    "entity": c.entity,
                    "attribute": c.attribute,
                    "claimed": matched,
                    "negated": c.negated,
                },
            )
            fix = correction(doc, folded, c) if c.status is Status.CONTRADICTED else None
            yield Hit(
                start,
                end,
                values={
                    "entity": c.entity,
                    "attribute": c.attribute.replace("_", " "),
                    "claimed": matched,
                    "known": known,
                    "status": c.status.value,
                },
                fingerprint_key=f"{c.entity}\x1f{c.attribute}\x1f{matched}",
                evidence=evidence,
                fix=fix,
            )


# -- helpers -----------------------------------------------------------------------------------------


@dataclass(slots=True)  # not frozen: built per value and claim on the hot path, frozen init costs 2x
class _Window:
    text: str
    start: int
    end: int
    mention: Mention
    day: dt.date


def _load_file(path: str) -> list[Fact]:
    from guardrails.checks._rulefiles import checked
    from guardrails.checks.base import resolve_rule_path
    from guardrails.facts.io import FileFormatError, read_rows
    from guardrails.facts.rows import FieldError, row_to_fact

    # Relative to the rule's file, inside its rules directory, a regular file under the size cap (rows stream).
    file = checked(resolve_rule_path(path), "params.facts_file")
    out = []
    try:
        for row in read_rows(file):
            if row.error is not None:
                raise ValueError(f"key 'params.facts_file': {path} row {row.error.row}: {row.error.reason}")
            try:
                out.append(row_to_fact(row.data or {}))
            except FieldError as exc:
                raise ValueError(
                    f"key 'params.facts_file': {path} row {row.number} field {exc.field}: {exc.reason}"
                ) from None
    except FileFormatError as exc:
        raise ValueError(f"key 'params.facts_file': {exc}") from None
    return out


def _automaton(words: list[str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for w in words:
        automaton.add_word(w, w)
    automaton.make_automaton()
    return automaton


@lru_cache(maxsize=4096)
def _spoken(attribute: str) -> str:
    return attribute.replace("_", " ")


@lru_cache(maxsize=65536)
def _norm(text: str) -> str:
    return normalize(text)


def _find_word(text: str, word: str, lo: int, hi: int, attr: str) -> list[_Phrase]:
    out = []
    i = text.find(word, lo, hi)
    while i != -1:
        j = i + len(word)
        if (i == 0 or not text[i - 1].isalnum()) and (j >= len(text) or not text[j].isalnum()):
            out.append(_Phrase(i, j, attr, True))
        i = text.find(word, j, hi)
    return out


def _mentions(indexes: list[FactIndex], text: str) -> list[tuple[Mention, FactIndex]]:
    """Mentions from every index; on overlap the earlier index (per call, inline, store) and longer match win."""
    found: list[tuple[int, Mention, FactIndex]] = []
    for rank, ix in enumerate(indexes):
        found.extend((rank, m, ix) for m in ix.mentions(text))
    found.sort(key=lambda t: (t[0], -(t[1].end - t[1].start), t[1].start))
    starts: list[int] = []
    kept: list[tuple[Mention, FactIndex]] = []
    for _rank, m, ix in found:
        i = bisect.bisect_left(starts, m.start)
        if i > 0 and kept[i - 1][0].end > m.start:
            continue
        if i < len(kept) and kept[i][0].start < m.end:
            continue
        starts.insert(i, m.start)
        kept.insert(i, (m, ix))
    return kept


def _with_pronouns(
    mentions: list[tuple[Mention, FactIndex]], text: str, ends: list[int], pronouns: frozenset[str]
) -> list[tuple[Mention, FactIndex]]:
    """Add a mention of the last-named entity for each sentence that names none and opens with a pronoun."""
    out: list[tuple[Mention, FactIndex]] = []
    firsts = {p[0] for p in pronouns if p}
    j, last = 0, None
    start = 0
    for end in ends:
        in_sentence = []
        while j < len(mentions) and mentions[j][0].start < end:
            in_sentence.append(mentions[j])
            j += 1
        if in_sentence:
            out.extend(in_sentence)
            last = in_sentence[-1]
        elif last is not None:
            i = start
            while i < end and text[i] in " \t\n\"'(":
                i += 1
            if i < end and text[i] in firsts:
                word = text[i : i + 8].split(None, 1)[0] if text[i : i + 8].strip() else ""
                if word in pronouns:
                    out.append((Mention(i, i + len(word), last[0].entity_ids), last[1]))
        start = end
    return out


# The only patterns here are fixed: facts (a call's own too, from Context.extra) are found as words by an
# Aho-Corasick automaton, never compiled as regular expressions, so no caller text reaches a regex engine.
_PAST_RE = re.compile(r"\b(?:used to|was|were|previously|formerly|originally|at launch|had been|once)\b")


def _sentence_ranges(mentions: list[tuple[Mention, FactIndex]], ends: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    i = 0
    for m, _ix in mentions:
        while ends[i] <= m.start:
            i += 1
        lo, hi = (ends[i - 1] if i else 0), ends[i]
        if ranges and ranges[-1][1] >= lo:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
        else:
            ranges.append((lo, hi))
    return ranges


def _outside_mentions(values: list[Stated], mentions: list[tuple[Mention, FactIndex]]) -> list[Stated]:
    """Values that are not part of an entity's name ("iPhone 15"): one sweep over both sorted lists."""
    out, j = [], 0
    for v in values:
        while j < len(mentions) and mentions[j][0].end <= v.start:
            j += 1
        if j < len(mentions) and mentions[j][0].start < v.end:
            continue
        out.append(v)
    return out


def _negated(text: str, lo: int, hi: int) -> bool:
    region = text[max(lo, hi - 24) : hi]
    region = region.rsplit(",", 1)[-1]
    return NEGATION_RE.search(region) is not None


def _pick_value(w: _Window, ph: _Phrase, values: list[Stated], used: set[int], known: list[Fact]) -> Stated | None:
    free = [v for v in values if v.start not in used]
    if known:
        free = [v for v in free if fits(v, known[0], w.text, phrase=True)]
    after = [v for v in free if v.start >= ph.end]
    if after:
        return after[0]
    before = [v for v in free if v.end <= ph.start]
    return before[-1] if before else None


def _fact_evidence(fact: Fact) -> dict[str, Any]:
    """The fact row for Evidence.fact; facts are immutable, so each row is dumped once."""
    key = id(fact)
    hit = _EVIDENCE.get(key)
    if hit is None or hit[0] is not fact:
        hit = _EVIDENCE[key] = (fact, fact.evidence())
        if len(_EVIDENCE) > 50_000:
            _EVIDENCE.clear()
    return dict(hit[1])


_EVIDENCE: dict[int, tuple[Fact, dict[str, Any]]] = {}


def _decide(results: list[tuple[Fact, str]], negated: bool) -> tuple[Status, Fact | None]:
    if negated:
        flip = {"match": "mismatch", "mismatch": "match", "incomparable": "incomparable"}
        results = [(f, flip[r]) for f, r in results]
    for f, r in results:
        if r == "match":
            return Status.SUPPORTED, f
    for f, r in results:
        if r == "mismatch":
            return Status.CONTRADICTED, f
    return Status.UNVERIFIABLE, results[0][0] if results else None


def _text_claim(w: _Window, entity: str, ph: _Phrase, known: list[Fact]) -> Claim:
    # Free text can confirm a claim (the known value is written there) but never refute it.
    for f in known:
        word = _norm(str(f.value.value))  # type: ignore[union-attr]
        hits = _find_word(w.text, word, w.start, w.end, ph.attribute) if word else []
        if hits:
            return Claim(entity, ph.attribute, Status.SUPPORTED, hits[0].start, hits[0].end, word, f)
    return Claim(entity, ph.attribute, Status.UNVERIFIABLE, ph.start, ph.end, w.text[ph.start : ph.end], None)


def _word_in_other_enum(word: str, attr: str, facts: dict[str, list[Fact]]) -> bool:
    for a, fs in facts.items():
        if a != attr and fs and isinstance(fs[0].value, EnumValue) and word in _enum_words(fs[0].value):
            return True
    return False


def _enum_words(value: EnumValue) -> tuple[str, ...]:
    """An enum's value and choices, folded and sorted; values are immutable, so each is folded once."""
    key = id(value)
    hit = _ENUM_WORDS.get(key)
    if hit is None or hit[0] is not value:
        hit = _ENUM_WORDS[key] = (value, tuple(sorted({_norm(c) for c in [*value.choices, value.value]})))
        if len(_ENUM_WORDS) > 50_000:
            _ENUM_WORDS.clear()
    return hit[1]


_ENUM_WORDS: dict[int, tuple[EnumValue, tuple[str, ...]]] = {}


_RANK = {Status.SUPPORTED: 0, Status.UNVERIFIABLE: 1, Status.CONTRADICTED: 2}


def _prefer(a: list[Claim], b: list[Claim]) -> list[Claim]:
    """For an alias shared by several entities: a claim is contradicted only if it is for every one of them."""
    score_a = max((_RANK[c.status] for c in a), default=-1)
    score_b = max((_RANK[c.status] for c in b), default=-1)
    return a if score_a <= score_b else b


CHECK = KnownFactsCheck
