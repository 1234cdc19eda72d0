"""Routing of the review queue to reviewer groups: which items a reviewer's "next" and default view offer first.

A group names its members and what is routed to it: whole policies, or the finding codes of some rules
(a legal team takes every `LEG*` finding whatever the policy). A reviewer in no group works the whole
queue as before. Routing orders work, it does not hide it: items routed elsewhere stay visible to anyone
whose policy scope includes them, under the "all" view.

The routing is one document in the review database (so every replica and a change by an admin agree at
once), seeded from a YAML file when the database has none:

    groups:
      finance:
        members: [alice, bob]
        policies: [finance-bot]
        codes: [FIN001, FIN002]
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine

from guardrails.errors import OutguardError
from guardrails.reviews import schema

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$"
MAX_GROUPS = 200


class RoutingError(OutguardError, ValueError):
    """A routing document that does not parse or validate; the message names the group and field."""


class RouteGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    members: list[str] = Field(default_factory=list, max_length=1000, description="Reviewer names")
    policies: list[str] = Field(default_factory=list, max_length=1000, description="Policies routed here")
    codes: list[str] = Field(default_factory=list, max_length=1000, description="Finding codes routed here")

    @field_validator("members", "policies", "codes")
    @classmethod
    def _plain_names(cls, values: list[str]) -> list[str]:
        for v in values:
            # Names end up in SQL parameters and in the page: no NUL (PostgreSQL refuses it), no blanks.
            if not v.strip() or "\x00" in v or len(v) > 200:
                raise ValueError(f"{v!r} is not a name (1-200 characters, no NUL)")
        return sorted(set(values))


class Routing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: dict[str, RouteGroup] = Field(default_factory=dict, max_length=MAX_GROUPS)

    @field_validator("groups")
    @classmethod
    def _group_names(cls, groups: dict[str, RouteGroup]) -> dict[str, RouteGroup]:
        for name in groups:
            if not re.match(_NAME, name):
                raise ValueError(f"group name {name!r}: letters, digits, '_', '.', '@', '-' (up to 100)")
        return groups

    def groups_of(self, reviewer: str) -> list[str]:
        return sorted(name for name, g in self.groups.items() if reviewer in g.members)

    def route_for(self, reviewer: str) -> Route | None:
        """What is routed to the reviewer's groups; None when they are in no group (the whole queue is theirs)."""
        names = self.groups_of(reviewer)
        if not names:
            return None
        policies = sorted({p for n in names for p in self.groups[n].policies})
        codes = sorted({c for n in names for c in self.groups[n].codes})
        return Route(groups=tuple(names), policies=tuple(policies), codes=tuple(codes))

    def to_yaml(self) -> str:
        data = {"groups": {n: g.model_dump() for n, g in sorted(self.groups.items())}}
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text: str, *, origin: str = "routing") -> Routing:
        """Parse a routing document; errors name the origin, the group and the field."""
        try:
            data = yaml.safe_load(text) if text.strip() else {}
        except yaml.YAMLError as exc:
            raise RoutingError(f"{origin}: not YAML: {exc}") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RoutingError(f"{origin}: expected a mapping with 'groups', got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RoutingError(f"{origin}: {where}: {first['msg']}") from exc


@dataclass(frozen=True, slots=True)
class Route:
    """The union of a reviewer's groups: an item is routed to them if its policy or one of its codes is here."""

    groups: tuple[str, ...]
    policies: tuple[str, ...]
    codes: tuple[str, ...]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class StoredRouting:
    routing: Routing
    updated_by: str | None
    updated_at: dt.datetime | None


def load(engine: Engine) -> StoredRouting:
    """The current routing (empty when none was ever set)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(schema.routing).where(schema.routing.c.id == 1)).mappings().first()
    if row is None:
        return StoredRouting(Routing(), None, None)
    at = row["updated_at"]
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return StoredRouting(Routing.model_validate_json(row["body_json"]), row["updated_by"], at)


def save(engine: Engine, routing: Routing, *, actor: str, only_if_empty: bool = False) -> bool:
    """Replace the routing (audited under item "-"); `only_if_empty` seeds it once. Returns whether it wrote."""
    body = routing.model_dump_json()
    now = _now()
    with engine.begin() as conn:
        before = conn.execute(sa.select(schema.routing.c.body_json).where(schema.routing.c.id == 1)).scalar()
        if before is not None and only_if_empty:
            return False
        if before is None:
            conn.execute(schema.routing.insert().values(id=1, body_json=body, updated_by=actor, updated_at=now))
        else:
            conn.execute(
                schema.routing.update()
                .where(schema.routing.c.id == 1)
                .values(body_json=body, updated_by=actor, updated_at=now)
            )
        conn.execute(
            schema.audit.insert().values(
                item_id="-",
                actor=actor,
                at=now,
                action="routing",
                before_json=before,
                after_json=body,
                note=None,
            )
        )
    return True


def seed_from_file(engine: Engine, path: str | Path, *, actor: str = "system") -> bool:
    """Load a routing file into an empty database (a later admin edit wins over the file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingError(f"{p}: cannot read: {exc.strerror}") from exc
    return save(engine, Routing.from_yaml(text, origin=str(p)), actor=actor, only_if_empty=True)


def as_json(stored: StoredRouting) -> dict[str, Any]:
    return {
        "groups": json.loads(stored.routing.model_dump_json())["groups"],
        "updated_by": stored.updated_by,
        "updated_at": stored.updated_at.isoformat() if stored.updated_at else None,
    }
