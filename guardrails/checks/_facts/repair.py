"""Repair for `known_facts`: write the known value where the output wrote a wrong one, in the output's format."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from guardrails.checks._facts.text import Folded, Stated, unit_of
from guardrails.document import Document
from guardrails.facts.model import MoneyValue, NumberValue
from guardrails.findings import Edit, Fix

if TYPE_CHECKING:
    from guardrails.checks.known_facts import Claim


_MONTH_NAMES = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


def correction(doc: Document, folded: Folded, c: Claim) -> Fix | None:
    """Replace the wrong value with the known one, written the way the output wrote it. Unsafe: it
    rewrites a statement of fact, so it applies only when the policy allows unsafe repairs.
    """
    if c.fact is None or c.negated:
        return None
    val = c.fact.value
    v = c.stated
    replacement: str | None = None
    start, end = folded.start(c.start), folded.end(c.end)
    if v is not None and isinstance(val, MoneyValue | NumberValue):
        num_text = doc.text[folded.start(v.num_start) : folded.end(v.num_end)]
        target = float(val.amount) if isinstance(val, MoneyValue) else float(val.value)
        if isinstance(val, NumberValue):
            fu, vu = unit_of(val.unit), unit_of(v.unit)
            if fu is not None and vu is not None and fu.dim == vu.dim:
                target = target * fu.factor / vu.factor
        target /= v.mult
        replacement = _format_number(target, num_text, money=isinstance(val, MoneyValue))
        start, end = folded.start(v.num_start), folded.end(v.num_end)
    elif v is not None and val.type == "date":
        replacement = _format_date(val.value, v)
    elif c.word is not None and val.type == "enum":
        written = doc.text[start:end]
        replacement = str(val.value)
        if written[:1].isupper():
            replacement = replacement[:1].upper() + replacement[1:]
    if replacement is None:
        return None
    return Fix(
        title=f"state the known {c.attribute.replace('_', ' ')} of {c.entity} ({val.display()}, fact #{c.fact.id})",
        edits=[Edit(start=start, end=end, replacement=replacement)],
        safe=False,
    )


def _format_number(value: float, written: str, *, money: bool) -> str:
    decimals = len(written.split(".", 1)[1]) if "." in written else 0
    if money and round(value, decimals) != round(value, 2):
        decimals = 2
    elif not money:
        while decimals < 4 and abs(round(value, decimals) - value) > 1e-9:
            decimals += 1
    whole = written.split(".", 1)[0]
    grouped = "," in written or (len(whole) < 4 and value >= 1000)  # style unknown from a short number
    return f"{value:,.{decimals}f}" if grouped else f"{value:.{decimals}f}"


def _format_date(d: dt.date, v: Stated) -> str:
    style = v.date_style
    month = _MONTH_NAMES[d.month - 1]
    if style == "iso":
        return d.isoformat()
    if style == "mdy":
        return f"{month} {d.day}, {d.year}"
    if style == "dmy":
        return f"{d.day} {month} {d.year}"
    if style == "my":
        return f"{month} {d.year}"
    if style == "mdy_num":
        return f"{d.month:02d}/{d.day:02d}/{d.year}"
    if style == "dmy_num":
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    return str(d.year)
