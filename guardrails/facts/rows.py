"""Flat rows (one CSV line, one JSONL object) <-> Fact, with errors that name the field and the reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from guardrails.errors import OutguardError
from guardrails.facts.model import VALUE_TYPES, Fact

COLUMNS = (
    "entity",
    "entity_type",
    "aliases",
    "attribute",
    "type",
    "value",
    "unit",
    "tolerance",
    "currency",
    "choices",
    "valid_from",
    "valid_to",
    "source",
)
LIST_SEP = "|"
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


class FieldError(OutguardError, ValueError):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _str(row: dict[str, Any], key: str) -> str | None:
    v = row.get(key)
    if _blank(v):
        return None
    if not isinstance(v, str | int | float) or isinstance(v, bool):
        raise FieldError(key, f"expected text, got {type(v).__name__}")
    return str(v).strip()


def _list(row: dict[str, Any], key: str) -> list[str]:
    v = row.get(key)
    if _blank(v):
        return []
    if isinstance(v, str):
        return [p.strip() for p in v.split(LIST_SEP) if p.strip()]
    if isinstance(v, list) and all(isinstance(p, str) for p in v):
        return [p.strip() for p in v if p.strip()]
    raise FieldError(key, f"expected a list of strings or {LIST_SEP!r}-separated text")


def _date(row: dict[str, Any], key: str) -> dt.date | None:
    v = _str(row, key)
    if v is None:
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise FieldError(key, f"not an ISO date (YYYY-MM-DD): {v[:40]!r}") from None


def _decimal(raw: Any, key: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise FieldError(key, f"expected a number, got {type(raw).__name__}")
    try:
        d = Decimal(str(raw).strip())
    except InvalidOperation:
        raise FieldError(key, f"not a number: {str(raw)[:40]!r}") from None
    if not d.is_finite():
        raise FieldError(key, "number must be finite")
    return d


def _value(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("value")
    if isinstance(raw, dict):  # JSONL may carry the typed value nested, as export writes it
        return raw
    kind = _str(row, "type")
    if kind is None:
        raise FieldError("type", f"missing; one of {', '.join(VALUE_TYPES)}")
    kind = kind.lower()
    if kind not in VALUE_TYPES:
        raise FieldError("type", f"unknown type {kind[:40]!r}; one of {', '.join(VALUE_TYPES)}")
    if _blank(raw):
        raise FieldError("value", "missing")
    build = _TYPED_VALUES.get(kind)
    return build(row, raw) if build else {"type": kind, "value": _str(row, "value")}


def _number(row: dict[str, Any], raw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "number", "value": float(_decimal(raw, "value")), "unit": _str(row, "unit")}
    if not _blank(tol := row.get("tolerance")):
        out["tolerance"] = float(_decimal(tol, "tolerance"))
    return out


def _money(row: dict[str, Any], raw: Any) -> dict[str, Any]:
    currency = _str(row, "currency")
    if currency is None:
        raise FieldError("currency", "missing for a money value")
    out: dict[str, Any] = {"type": "money", "amount": _decimal(raw, "value"), "currency": currency.upper()}
    if not _blank(tol := row.get("tolerance")):
        out["tolerance"] = _decimal(tol, "tolerance")
    return out


def _boolean(row: dict[str, Any], raw: Any) -> dict[str, Any]:
    word = str(raw).strip().lower()
    if isinstance(raw, bool):
        return {"type": "boolean", "value": raw}
    if word in _TRUE | _FALSE:
        return {"type": "boolean", "value": word in _TRUE}
    raise FieldError("value", f"not a boolean: {str(raw)[:40]!r} (use true/false)")


_TYPED_VALUES: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    "number": _number,
    "money": _money,
    "date": lambda row, raw: {"type": "date", "value": _date(row, "value")},
    "boolean": _boolean,
    "enum": lambda row, raw: {"type": "enum", "value": _str(row, "value"), "choices": _list(row, "choices")},
}
"""How each value type other than text is read from a row; text (and the rest) keep the value as a string."""


_LOC_FIELD = {"amount": "value", "value": "value"}


def row_to_fact(row: dict[str, Any]) -> Fact:
    """Build a Fact from a flat row; raises FieldError naming the first bad field."""
    if not isinstance(row, dict):
        raise FieldError(None, f"expected an object, got {type(row).__name__}")
    unknown = sorted(set(row) - set(COLUMNS) - {"id", "version"})
    if unknown:
        raise FieldError(unknown[0], f"unknown field; known fields: {', '.join(COLUMNS)}")
    for key in ("entity", "attribute"):
        if _str(row, key) is None:
            raise FieldError(key, "missing")
    data = {
        "entity": _str(row, "entity"),
        "entity_type": _str(row, "entity_type"),
        "aliases": _list(row, "aliases"),
        "attribute": _str(row, "attribute"),
        "value": _value(row),
        "valid_from": _date(row, "valid_from"),
        "valid_to": _date(row, "valid_to"),
        "source": _str(row, "source"),
    }
    try:
        return Fact.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        field = loc[0] if loc else None
        if field == "value" and len(loc) > 2:
            field = {"amount": "value", "currency": "currency", "tolerance": "tolerance", "unit": "unit"}.get(
                loc[2], "value"
            )
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise FieldError(field, msg) from None


def fact_to_row(fact: Fact) -> dict[str, str]:
    """The flat CSV form of a fact (every column present, empty when unset)."""
    v = fact.value
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        entity=fact.entity,
        entity_type=fact.entity_type or "",
        aliases=LIST_SEP.join(fact.aliases),
        attribute=fact.attribute,
        type=v.type,
        valid_from=fact.valid_from.isoformat() if fact.valid_from else "",
        valid_to=fact.valid_to.isoformat() if fact.valid_to else "",
        source=fact.source or "",
    )
    if v.type == "number":
        row.update(value=repr(v.value), unit=v.unit or "", tolerance=repr(v.tolerance) if v.tolerance else "")
    elif v.type == "money":
        row.update(value=str(v.amount), currency=v.currency, tolerance=str(v.tolerance) if v.tolerance else "")
    elif v.type == "date":
        row.update(value=v.value.isoformat())
    elif v.type == "boolean":
        row.update(value="true" if v.value else "false")
    elif v.type == "enum":
        row.update(value=v.value, choices=LIST_SEP.join(v.choices))
    else:
        row.update(value=v.value)
    return row
