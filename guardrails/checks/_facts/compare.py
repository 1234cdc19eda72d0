"""How a stated value relates to a fact: could it be about it (`fits`), and does it agree (`compare`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from guardrails.checks._facts.text import Stated, unit_of
from guardrails.facts.model import Fact, MoneyValue, NumberValue


def fits(v: Stated, fact: Fact, text: str, *, phrase: bool = False) -> bool:
    """Could this stated value be a value of that fact's attribute? Without a phrase, units must agree."""
    val = fact.value
    if val.type == "money":
        return v.kind == "money"
    if val.type == "date":
        return v.kind == "date" or (phrase and v.year_like)
    if val.type == "number":
        if v.kind != "number":
            return False
        fu = unit_of(val.unit)
        if v.unit is None:
            if fu is not None and fu.dim.startswith("unit:"):  # e.g. "42 units": a unit the scanner does not know
                return text.startswith(" " + fu.canon, v.end) or (phrase and not v.year_like)
            return phrase and fu is None
        vu = unit_of(v.unit)
        return fu is not None and vu is not None and vu.dim == fu.dim
    return False


_MONEY_SLACK = [Decimal(1)] + [Decimal(5) / Decimal(10) ** (d + 1) for d in range(1, 7)]


@lru_cache(maxsize=65536)
def _dec_of(x: float) -> Decimal:
    return Decimal(str(x))


def compare(v: Stated, fact: Fact, qualifier: str, approx: float) -> str:
    val = fact.value
    if isinstance(val, MoneyValue):
        if v.kind != "money" or v.currency != val.currency:
            return "incomparable"
        # "$1,299" may stand for 1,299.99 (prices are cut, not rounded); "$12.5" for 12.45 to 12.55
        slack = _MONEY_SLACK[min(v.decimals, 6)]
        if v.mult != 1.0:
            slack *= Decimal(str(v.mult))
        amount = v.number if v.mult == 1.0 and v.number is not None else v.amount  # same value, no multiply
        return _within(amount, val.amount, max(val.tolerance, slack), qualifier, _dec_of(approx))
    if isinstance(val, NumberValue):
        if v.number is None:
            return "incomparable"
        fu, vu = unit_of(val.unit), unit_of(v.unit)
        factor = 1.0
        if vu is not None and fu is not None:
            if vu.dim != fu.dim:
                return "incomparable"
            factor = vu.factor / fu.factor
        claimed = Decimal(str(float(v.amount) * factor))
        slack = Decimal(str(0.5 * 10 ** (-v.decimals) * factor * v.mult))
        tol = max(_dec_of(val.tolerance), slack)
        return _within(claimed, _dec_of(val.value), tol, qualifier, _dec_of(approx))
    if val.type == "date":
        d: dt.date = val.value
        if v.kind == "date" and v.date is not None:
            y, m, day = v.date
        elif v.year_like and v.number is not None:
            y, m, day = int(v.number), None, None
        else:
            return "incomparable"
        same = y == d.year and (m is None or m == d.month) and (day is None or day == d.day)
        return "match" if same else "mismatch"
    return "incomparable"


def _within(claimed: Decimal, known: Decimal, tol: Decimal, qualifier: str, approx: Decimal) -> str:
    if qualifier == "approx":
        tol = max(tol, abs(known) * approx)
    if qualifier == "lower":
        return "match" if known >= claimed - tol else "mismatch"
    if qualifier == "upper":
        return "match" if known <= claimed + tol else "mismatch"
    return "match" if abs(claimed - known) <= tol else "mismatch"
