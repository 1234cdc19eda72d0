"""The known-facts data model: entities, typed values and versioned facts with a validity interval.

Bottom layer beside `findings`: pydantic only, so the `known_facts` check can read facts without
importing SQLAlchemy when no database is configured.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_TEXT = 2_000
"""Longest entity name, alias, attribute, text value or source accepted (longer is a per-row error)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@lru_cache(maxsize=262_144)
def normalize(text: str) -> str:
    """Case- and accent-insensitive key: NFKD, drop combining marks, casefold, collapse whitespace."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def _clean(value: str, what: str) -> str:
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ValueError(f"{what} is longer than {MAX_TEXT} characters")
    return value


class NumberValue(_Model):
    """A quantity: `value` in `unit` (free text such as "kg", "GB", "mAh"; None for a bare count)."""

    type: Literal["number"] = "number"
    value: float
    unit: str | None = None
    tolerance: float = Field(default=0.0, ge=0, description="Absolute tolerance, in `unit`")

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("number must be finite")
        return v

    def display(self) -> str:
        num = _fmt_number(self.value)
        return f"{num} {self.unit}" if self.unit else num


class MoneyValue(_Model):
    type: Literal["money"] = "money"
    amount: Decimal = Field(max_digits=20, decimal_places=4)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    tolerance: Decimal = Field(default=Decimal(0), ge=0)

    def display(self) -> str:
        return f"{self.amount:,.2f} {self.currency}"


class DateValue(_Model):
    type: Literal["date"] = "date"
    value: dt.date

    def display(self) -> str:
        return self.value.isoformat()


class EnumValue(_Model):
    """One of a closed set of words. Another word of `choices` stated for this attribute contradicts it."""

    type: Literal["enum"] = "enum"
    value: str
    choices: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _value_in_choices(self) -> EnumValue:
        if self.choices and normalize(self.value) not in {normalize(c) for c in self.choices}:
            raise ValueError(f"enum value {self.value!r} is not one of its choices {self.choices!r}")
        return self

    def display(self) -> str:
        return self.value


class BooleanValue(_Model):
    type: Literal["boolean"] = "boolean"
    value: bool

    def display(self) -> str:
        return "yes" if self.value else "no"


class TextValue(_Model):
    type: Literal["text"] = "text"
    value: str

    def display(self) -> str:
        return self.value


Value = Annotated[
    NumberValue | MoneyValue | DateValue | EnumValue | BooleanValue | TextValue, Field(discriminator="type")
]
VALUE_TYPES = ("number", "money", "date", "enum", "boolean", "text")


class Entity(_Model):
    name: str = Field(min_length=1)
    type: str | None = None
    aliases: list[str] = Field(default_factory=list)

    @field_validator("name", "type")
    @classmethod
    def _clean_name(cls, v: str | None) -> str | None:
        return None if v is None else _clean(v, "name")

    @field_validator("aliases")
    @classmethod
    def _clean_aliases(cls, v: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for raw in v:
            alias = _clean(raw, "alias")
            if alias and normalize(alias) not in seen:
                seen[normalize(alias)] = alias
        return list(seen.values())


class Fact(_Model):
    """(entity, attribute, typed value), valid on [valid_from, valid_to) (None = open), with source and version.

    `id` and `version` are assigned by the store; `set` closes or supersedes the previous version.
    """

    entity: str = Field(min_length=1)
    attribute: str = Field(min_length=1, pattern=r"^[^\s].*$")
    value: Value
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    source: str | None = None
    version: int = Field(default=1, ge=1)
    id: int | None = None
    entity_type: str | None = None
    aliases: list[str] = Field(default_factory=list, description="Aliases of the entity, merged on import")

    @field_validator("entity", "attribute", "source")
    @classmethod
    def _clean_text(cls, v: str | None) -> str | None:
        return None if v is None else _clean(v, "text")

    @model_validator(mode="after")
    def _interval(self) -> Fact:
        if not normalize(self.entity):
            raise ValueError("entity name has no letters or digits once case and accents are folded")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is not after valid_from {self.valid_from}")
        if isinstance(self.value, TextValue | EnumValue):
            _clean(self.value.value, "value")
        return self

    def valid_at(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)

    def evidence(self) -> dict[str, Any]:
        """The row as it goes into Evidence.fact: JSON-safe, with everything a reviewer needs to judge it."""
        return self.model_dump(mode="json", exclude={"aliases"})


class RowError(_Model):
    row: int = Field(description="1-based data row (CSV: header is row 0; JSONL: line number)")
    field: str | None = None
    reason: str


class ImportResult(_Model):
    imported: int
    errors: list[RowError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _fmt_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.6f}".rstrip("0").rstrip(".")
