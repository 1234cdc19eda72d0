"""Known facts: entities with aliases and typed, versioned facts, in SQLite or PostgreSQL.

    from guardrails.facts import FactStore
    store = FactStore.open("sqlite:///facts.db")
    store.set({"entity": "Acme X1", "attribute": "price", "type": "money", "value": "999", "currency": "USD"})

The models import only pydantic; `FactStore` (SQLAlchemy) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrails.facts.model import (
    BooleanValue,
    DateValue,
    Entity,
    EnumValue,
    Fact,
    ImportResult,
    MoneyValue,
    NumberValue,
    RowError,
    TextValue,
    Value,
    normalize,
)

if TYPE_CHECKING:
    from guardrails.facts.store import FactStore, FactStoreError

__all__ = [
    "BooleanValue",
    "DateValue",
    "Entity",
    "EnumValue",
    "Fact",
    "FactStore",
    "FactStoreError",
    "ImportResult",
    "MoneyValue",
    "NumberValue",
    "RowError",
    "TextValue",
    "Value",
    "normalize",
]


def __getattr__(name: str) -> Any:
    if name in ("FactStore", "FactStoreError"):
        from guardrails.facts import store

        return getattr(store, name)
    raise AttributeError(f"module 'guardrails.facts' has no attribute {name!r}")
