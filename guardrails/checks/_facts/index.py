"""The in-memory side of the facts store for the `known_facts` check: an alias automaton and facts per
entity, kept in step with the store by polling its revision counter and applying only what changed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ahocorasick

from guardrails.errors import OutguardError
from guardrails.facts.model import Entity, Fact, normalize

if TYPE_CHECKING:
    from guardrails.facts.store import Changes, FactStore, RevisionPoller


@dataclass(slots=True)
class EntityFacts:
    entity: Entity
    by_attr: dict[str, list[Fact]] = field(default_factory=dict)
    timeless: bool = True  # no fact has a validity bound: every day sees them all
    # What a check derives from `by_attr` alone, by the check's configuration; each value keeps the dict it
    # was derived from, so a replaced `by_attr` (copy-on-write) is seen as stale. Lives as long as the entity.
    derived: dict[str, Any] = field(default_factory=dict)

    def valid_on(self, day: dt.date) -> dict[str, list[Fact]]:
        if self.timeless:
            return self.by_attr
        return {a: [f for f in fs if f.valid_at(day)] for a, fs in self.by_attr.items()}


@dataclass(slots=True)  # not frozen: built per value and claim on the hot path, frozen init costs 2x
class Mention:
    start: int  # offsets in folded text
    end: int
    entity_ids: tuple[int | str, ...]


class FactIndex:
    """Entities (by id), their aliases in an Aho-Corasick automaton, and their facts by attribute."""

    def __init__(self) -> None:
        self.entities: dict[int | str, EntityFacts] = {}
        self._fact_key: dict[int, tuple[int | str, str]] = {}
        self._automaton: ahocorasick.Automaton | None = None
        self._dirty = True
        self.units: set[str] = set()

    def __len__(self) -> int:
        return len(self.entities)

    def add_entity(self, eid: int | str, entity: Entity) -> None:
        prev = self.entities.get(eid)
        self.entities[eid] = EntityFacts(entity, prev.by_attr if prev else {}, prev.timeless if prev else True)
        self._dirty = True

    def add_fact(self, eid: int | str, fact: Fact, *, superseded: bool = False) -> None:
        # Copy-on-write: a validation running in another thread keeps reading the dict and lists it took.
        if fact.id is not None and fact.id in self._fact_key:
            old_eid, attr = self._fact_key.pop(fact.id)
            old = self.entities[old_eid]
            by_attr = dict(old.by_attr)
            by_attr[attr] = [f for f in by_attr.get(attr, []) if f.id != fact.id]
            old.by_attr = by_attr
        if superseded:
            return
        if eid not in self.entities:
            self.add_entity(eid, Entity(name=fact.entity, type=fact.entity_type, aliases=fact.aliases))
        ef = self.entities[eid]
        by_attr = dict(ef.by_attr)
        by_attr[fact.attribute] = [*by_attr.get(fact.attribute, []), fact]
        ef.by_attr = by_attr
        if fact.valid_from is not None or fact.valid_to is not None:
            ef.timeless = False
        if fact.id is not None:
            self._fact_key[fact.id] = (eid, fact.attribute)
        unit = getattr(fact.value, "unit", None)
        if unit:
            self.units.add(unit)

    def apply(self, changes: Changes) -> None:
        for e in changes.entities:
            self.add_entity(e.id, e.entity)
        for f in changes.facts:
            self.add_fact(f.entity_id, f.fact, superseded=f.superseded)
        self.rebuild()

    def rebuild(self) -> None:
        """Build the alias automaton now (under the caller's lock), then swap it in."""
        if self._dirty:
            self._dirty = False
            self._automaton = self._build()

    def _build(self) -> ahocorasick.Automaton | None:
        names: dict[str, list[int | str]] = {}
        for eid, ef in list(self.entities.items()):
            for name in (ef.entity.name, *ef.entity.aliases):
                key = normalize(name)
                if key and eid not in names.setdefault(key, []):
                    names[key].append(eid)
        if not names:
            return None
        automaton = ahocorasick.Automaton()
        for key, ids in names.items():
            automaton.add_word(key, (len(key), tuple(ids)))
        automaton.make_automaton()
        return automaton

    def mentions(self, folded: str) -> Iterator[Mention]:
        """Whole-word alias matches, longest first, left to right, in folded text."""
        if self._dirty:
            self.rebuild()
        automaton = self._automaton
        if automaton is None:
            return
        n = len(folded)
        for end_idx, (length, ids) in automaton.iter_long(folded):
            start, end = end_idx - length + 1, end_idx + 1
            if (start > 0 and folded[start - 1].isalnum()) or (end < n and folded[end].isalnum()):
                continue
            yield Mention(start, end, ids)

    @classmethod
    def from_facts(cls, facts: Iterable[Fact]) -> FactIndex:
        """An index over facts given inline (rule examples, per-call facts); entities keyed by name."""
        index = cls()
        for i, fact in enumerate(facts):
            key = normalize(fact.entity)
            if key in index.entities:
                prev = index.entities[key].entity
                merged = Entity(
                    name=prev.name, type=prev.type or fact.entity_type, aliases=[*prev.aliases, *fact.aliases]
                )
                index.add_entity(key, merged)
            else:
                index.add_entity(key, Entity(name=fact.entity, type=fact.entity_type, aliases=fact.aliases))
            index.add_fact(key, fact.model_copy(update={"id": fact.id or -(i + 1)}))
        return index


class StoreDriverMissing(OutguardError, RuntimeError):
    """A facts database exists or is configured, and the `store` extra (SQLAlchemy) is not installed."""


class StoreIndex:
    """A FactIndex that follows a store: each `current()` polls the revision (throttled by
    `refresh_seconds`) and applies the changes since the last poll. A store that does not exist yet is
    retried every `retry_seconds`, so a first import is picked up without a restart.
    """

    def __init__(self, url: str | None, *, create: bool = False, refresh_seconds: float = 0.0) -> None:
        self.url = url
        self.create = create
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = 5.0
        self.index = FactIndex()
        self.revision = 0
        self._store: FactStore | None = None
        self._poll: RevisionPoller | None = None
        self._next_poll = 0.0
        self._lock = threading.Lock()

    def _open(self) -> FactStore | None:
        from guardrails.facts.paths import default_url, missing_sqlite_file

        if missing_sqlite_file(self.url or default_url()):
            return None  # without touching SQLAlchemy, which a core-only install does not have
        try:
            from guardrails.facts.store import FactStore, FactStoreMissing
        except ModuleNotFoundError as exc:
            raise StoreDriverMissing(
                f"a facts database is configured (params.db or OUTGUARD_FACTS_DB, or an existing default "
                f"facts.db) but {exc.name} is not installed: pip install 'outguard[store]', or set "
                "params.use_store: false"
            ) from exc

        try:
            return FactStore.open(self.url, create=self.create)
        except FactStoreMissing:
            return None  # any other failure (PostgreSQL down, bad URL) propagates: the check fails closed

    def current(self) -> FactIndex:
        now = time.monotonic()
        if now < self._next_poll:
            return self.index
        with self._lock:
            if self._store is None:
                self._store = self._open()
                if self._store is None:
                    self._next_poll = now + self.retry_seconds
                    return self.index
                self._poll = self._store.revision_poller()
            assert self._poll is not None
            if self._poll() != self.revision:
                changes = self._store.changes_since(self.revision)
                self.index.apply(changes)
                self.revision = changes.revision
            self._next_poll = now + self.refresh_seconds
        return self.index

    def close(self) -> None:
        if self._poll is not None:
            self._poll.close()
        if self._store is not None:
            self._store.close()
