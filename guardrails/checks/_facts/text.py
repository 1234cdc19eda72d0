"""Text helpers shared by `known_facts` and `grounding`: accent/case folding with an offset map (the text
layer's `facts` profile), and the values a sentence states (money, numbers with units, percentages, dates),
found once per document.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from guardrails.checks.base import DeadlineExceeded
from guardrails.document import Document
from guardrails.text import FACTS, MappedText, normalize, sources

# -- folding ---------------------------------------------------------------------------------------


@dataclass(slots=True)  # not frozen: built per value and claim on the hot path, frozen init costs 2x
class Folded:
    """`text` case- and accent-folded (the text layer's `facts` profile); `origin[i]` is the offset in the
    original of folded char i. Kept as a dense list because the value scanner indexes it per match."""

    text: str
    origin: list[int] | None  # None: same length, offsets are identical
    length: int

    def start(self, i: int) -> int:
        if self.origin is None:
            return i
        return self.origin[i] if i < len(self.origin) else self.length

    def end(self, i: int) -> int:
        """Original offset just after folded char i-1 (for a half-open end)."""
        if self.origin is None:
            return i
        if i <= 0:
            return 0
        if i >= len(self.origin):
            return self.length
        # the original char that produced folded char i-1 ends where the next original char starts
        j = self.origin[i - 1]
        k = self.origin[i]
        return k if k > j else j + 1


def fold(text: str) -> Folded:
    if text.isascii():  # the hot path: what the profile does to ASCII, without building a view
        return Folded(text.lower(), None, len(text))
    view = normalize(text, FACTS)
    if len(view.text) == len(text) and (not isinstance(view, MappedText) or view.source is None):
        return Folded(view.text, None, len(text))
    return Folded(view.text, sources(view)[:-1], len(text))


def folded_view(doc: Document) -> Folded:
    return doc.view("facts:folded", lambda d: fold(d.text))


# -- units -----------------------------------------------------------------------------------------

# surface form -> (canonical unit, dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, str, float]] = {}


def _add(dim: str, canon: str, factor: float, *surfaces: str) -> None:
    for s in (canon, *surfaces):
        _UNITS[s.lower()] = (canon, dim, factor)


_add("mass", "mg", 1e-6, "milligram", "milligrams")
_add("mass", "g", 1e-3, "gram", "grams", "gr")
_add("mass", "kg", 1.0, "kilogram", "kilograms", "kgs")
_add("mass", "lb", 0.45359237, "lbs", "pound", "pounds")
_add("mass", "oz", 0.028349523125, "ounce", "ounces")
_add("length", "mm", 1e-3, "millimeter", "millimeters", "millimetre", "millimetres")
_add("length", "cm", 1e-2, "centimeter", "centimeters", "centimetre", "centimetres")
_add("length", "m", 1.0, "meter", "meters", "metre", "metres")
_add("length", "km", 1e3, "kilometer", "kilometers", "kilometre", "kilometres")
_add("length", "inch", 0.0254, "inches", '"', "\u2033")
_add("length", "ft", 0.3048, "foot", "feet")
_add("data", "kb", 1e3, "kilobyte", "kilobytes")
_add("data", "mb", 1e6, "megabyte", "megabytes")
_add("data", "gb", 1e9, "gigabyte", "gigabytes")
_add("data", "tb", 1e12, "terabyte", "terabytes")
_add("time", "ms", 1e-3, "millisecond", "milliseconds")
_add("time", "s", 1.0, "sec", "secs", "second", "seconds")
_add("time", "min", 60.0, "mins", "minute", "minutes")
_add("time", "h", 3600.0, "hr", "hrs", "hour", "hours")
_add("time", "day", 86400.0, "days")
_add("time", "week", 604800.0, "weeks")
_add("time", "month", 2629746.0, "months")
_add("time", "year", 31556952.0, "years", "yr", "yrs")
_add("power", "mw", 1e-3, "milliwatt", "milliwatts")
_add("power", "w", 1.0, "watt", "watts")
_add("power", "kw", 1e3, "kilowatt", "kilowatts")
_add("energy", "wh", 1.0, "watt-hour", "watt-hours")
_add("energy", "kwh", 1e3, "kilowatt-hour", "kilowatt-hours")
_add("charge", "mah", 1.0, "milliamp-hours")
_add("voltage", "v", 1.0, "volt", "volts")
_add("frequency", "hz", 1.0, "hertz")
_add("frequency", "khz", 1e3)
_add("frequency", "mhz", 1e6)
_add("frequency", "ghz", 1e9)
_add("resolution", "mp", 1.0, "megapixel", "megapixels")
_add("ratio", "%", 1.0, "percent", "per cent", "pct")
_add("speed", "km/h", 1.0, "kph", "kmh")
_add("speed", "mph", 1.609344)
_add("temperature", "°c", 1.0, "degrees celsius", "celsius")


# Units a fact may be written in but that the scanner must not read after a number ("1871 in Genf").
_FACT_ONLY_UNITS = {"in": _UNITS["inch"]}


@dataclass(slots=True)  # not frozen: built per value and claim on the hot path, frozen init costs 2x
class Unit:
    canon: str
    dim: str
    factor: float


@lru_cache(maxsize=4096)
def unit_of(surface: str | None) -> Unit | None:
    """A unit from its surface form; unknown units are their own dimension (compared by name only)."""
    if not surface:
        return None
    key = " ".join(surface.lower().split())
    known = _UNITS.get(key) or _FACT_ONLY_UNITS.get(key)
    if known is None:
        return Unit(key, f"unit:{key}", 1.0)
    return Unit(*known)


_CURRENCY = {
    "$": "USD",
    "us$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "pound sterling": "GBP",
    "¥": "JPY",
    "jpy": "JPY",
    "yen": "JPY",
    "chf": "CHF",
    "cad": "CAD",
    "c$": "CAD",
    "aud": "AUD",
    "a$": "AUD",
    "inr": "INR",
    "₹": "INR",
    "rupees": "INR",
}
_MULT = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "b": 1e9, "billion": 1e9}
_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}


def _alt(words: list[str]) -> str:
    # Only this module's own word lists come through here (escaped): no fact or caller text becomes a pattern.
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_MON = _alt(list(_MONTHS))
_SYM = _alt([c for c in _CURRENCY if not c.isalpha()])
_CODE = _alt([c for c in _CURRENCY if c.isalpha()])
_MULTS = _alt(list(_MULT))
_UNIT_WORDS = _alt(list(_UNITS))

# Alternatives in priority order: dates before numbers (2024-03-05 is not three numbers), money before
# numbers with units, numbers with units before bare numbers. Runs on folded (lower-case) text.
_FIRST_SYMBOLS = "".join(sorted({w[0] for w in [*_MONTHS, *_CURRENCY]} - set("abcdefghijklmnopqrstuvwxyz")))
_FIRST_LETTERS = "".join(sorted({w[0] for w in [*_MONTHS, *_CURRENCY]} & set("abcdefghijklmnopqrstuvwxyz")))
# The stdlib engine with a one-character lookahead (a digit, a currency symbol, or the first letter of a
# word that can open a value) rejects most positions at once; the `regex` module was 6x slower here. The
# pattern has no nested quantifiers, so it cannot backtrack catastrophically.
_VALUE_RE = re.compile(
    rf"""
    (?=[0-9.{re.escape(_FIRST_SYMBOLS)}]|(?<![a-z])[{_FIRST_LETTERS}])(?:
    (?P<iso>(?<![\d-])(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})(?![\d-]))
  | (?P<mdy>(?<![\w])(?P<m1>{_MON})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})(?!\d))
  | (?P<dmy>(?<![\w.])(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MON})\.?,?\s+(?P<y2>\d{{4}})(?!\d))
  | (?P<my>(?<![\w])(?P<m3>{_MON})\.?,?\s+(?P<y3>\d{{4}})(?!\d))
  | (?P<slash>(?<![\w./])(?P<a>\d{{1,2}})[/.](?P<b>\d{{1,2}})[/.](?P<y4>\d{{4}})(?![\w/]))
  | (?P<money1>(?<![\w])(?P<sym>{_SYM}|(?:{_CODE})\s?)\s?(?P<n1>{_NUM})(?:\s?(?P<x1>{_MULTS})(?![a-z]))?)
  | (?P<money2>(?<![\w.,])(?P<n2>{_NUM})(?:\s?(?P<x2>{_MULTS})(?![a-z]))?\s?(?P<code>{_CODE})(?![a-z]))
  | (?P<unit>(?<![\w.,])(?P<n3>{_NUM})(?:\s?|-)(?P<u>{_UNIT_WORDS})(?![a-z]))
  | (?P<bare>(?<![\w.,])(?P<n4>{_NUM})(?![\d]|\.\d))
    )""",
    re.VERBOSE,
)
_QUALIFIERS = {
    "approx": "about around approximately approx. approx roughly nearly almost some ~ circa ca.",
    "lower": "more_than over at_least above upwards_of in_excess_of heavier_than longer_than larger_than "
    "bigger_than more_expensive_than later_than after",
    "upper": "less_than under at_most below up_to no_more_than lighter_than shorter_than smaller_than "
    "cheaper_than earlier_than before",
}
_QUALIFIER_RE = re.compile(
    "(?:"
    + "|".join(
        f"(?P<{group}>" + "|".join(re.escape(w.replace("_", " ")) for w in words.split()) + ")"
        for group, words in _QUALIFIERS.items()
    )
    + r")\s*$"
)
# Most values have no qualifier: the text before them (and its spaces) must end as one of these words do.
_QUALIFIER_LAST_CHARS = frozenset(w[-1] for words in _QUALIFIERS.values() for w in words.split())


@dataclass(slots=True)  # not frozen: built per value and claim on the hot path, frozen init costs 2x
class Stated:
    """A value stated in the text. Offsets index the folded text; `num_*` is the digits alone (for repair)."""

    kind: str  # money | number | date
    start: int
    end: int
    num_start: int
    num_end: int
    number: Decimal | None = None
    decimals: int = 0
    mult: float = 1.0
    unit: str | None = None  # surface unit for numbers
    currency: str | None = None
    date: tuple[int, int | None, int | None] | None = None  # (year, month|None, day|None)
    date_style: str = ""
    qualifier: str = ""  # "" | approx | lower | upper

    @property
    def amount(self) -> Decimal:
        assert self.number is not None
        return self.number * Decimal(str(self.mult))

    @property
    def year_like(self) -> bool:
        return (
            self.kind == "number"
            and self.unit is None
            and self.number is not None
            and self.decimals == 0
            and 1000 <= self.number <= 2200
            and self.mult == 1.0
        )


def _dec(raw: str) -> tuple[Decimal | None, int]:
    try:
        d = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return None, 0
    decimals = len(raw.split(".", 1)[1]) if "." in raw else 0
    return d, decimals


def qualifier(text: str, start: int) -> str:
    """ "approx", "lower" (more than), "upper" (up to) or "" from the words just before a value."""
    lo = max(0, start - 24)
    before = text[lo:start].rstrip()  # str.isspace is the \s of a str pattern
    if not before or before[-1] not in _QUALIFIER_LAST_CHARS:
        return ""
    m = _QUALIFIER_RE.search(text, lo, start)
    return m.lastgroup or "" if m else ""


def _date_ok(y: int, m: int | None, d: int | None) -> bool:
    if m is not None and not 1 <= m <= 12:
        return False
    if d is not None:
        try:
            dt.date(y, m or 1, d)
        except ValueError:
            return False
    return 1000 <= y <= 9999


# Every value holds a digit, and what may stand before its first digit is short: a currency word or symbol,
# a month name with "." or ",", then the whitespace up to the digit (any amount after a month name), or a
# "." (".5"). So no match starts more than _LEAD characters before the whitespace run that precedes the
# first digit of the text still to scan.
_LEAD = max(len(w) for w in [*_MONTHS, *_CURRENCY]) + 4
_DIGIT_RE = re.compile(r"\d")  # the same \d (Unicode digits) as the value pattern


def _value_matches(text: str, lo: int, hi: int) -> Iterator[re.Match[str]]:
    """What `_VALUE_RE.finditer(text, lo, hi)` yields, without running the pattern over digit-free prose.

    finditer is a repeated search from the end of the last match; each search here starts instead at the
    earliest place a match could start (see _LEAD). Where it lands no later than finditer's next match,
    both find the same leftmost match, so the results are identical.
    """
    pos = lo
    while pos < hi:
        digit = _DIGIT_RE.search(text, pos, hi)
        if digit is None:
            return
        w = digit.start()
        while w > pos and text[w - 1].isspace():  # re's \s for str patterns is str.isspace()
            w -= 1
        m = _VALUE_RE.search(text, max(pos, w - _LEAD), hi)
        if m is None:
            return
        yield m
        pos = m.end()


def scan_values(
    text: str,
    *,
    day_first: bool = False,
    timeout: float | None = None,
    ranges: list[tuple[int, int]] | None = None,
) -> list[Stated]:
    """Every value stated in folded `text` (or in the given sorted, disjoint ranges of it), left to right."""
    out: list[Stated] = []
    deadline = None if timeout is None else time.perf_counter() + timeout
    spans = ranges if ranges is not None else [(0, len(text))]
    matches = (m for lo, hi in spans for m in _value_matches(text, lo, hi))
    for n, m in enumerate(matches):
        if deadline is not None and n % 64 == 63 and time.perf_counter() > deadline:
            raise TimeoutError("scanning values timed out")
        s, e = m.span()
        q = ""  # qualifiers ("about", "over") are read only for values that become claims: qualifier()
        g = m.group
        kind = m.lastgroup  # the outer alternative closes last
        if kind == "iso":
            y, mo, d = int(g("iy")), int(g("im")), int(g("id"))
            if _date_ok(y, mo, d):
                out.append(Stated("date", s, e, s, e, date=(y, mo, d), date_style="iso", qualifier=q))
        elif kind == "mdy":
            y, mo, d = int(g("y1")), _MONTHS[g("m1")], int(g("d1"))
            if _date_ok(y, mo, d):
                out.append(Stated("date", s, e, s, e, date=(y, mo, d), date_style="mdy", qualifier=q))
        elif kind == "dmy":
            y, mo, d = int(g("y2")), _MONTHS[g("m2")], int(g("d2"))
            if _date_ok(y, mo, d):
                out.append(Stated("date", s, e, s, e, date=(y, mo, d), date_style="dmy", qualifier=q))
        elif kind == "my":
            y, mo = int(g("y3")), _MONTHS[g("m3")]
            if _date_ok(y, mo, None):
                out.append(Stated("date", s, e, s, e, date=(y, mo, None), date_style="my", qualifier=q))
        elif kind == "slash":
            a, b, y = int(g("a")), int(g("b")), int(g("y4"))
            # a dot separator is day-first everywhere it is used; a slash follows the `day_first` param
            dayfirst = day_first or "." in g("slash")
            mo, d = (b, a) if dayfirst else (a, b)
            if _date_ok(y, mo, d):
                style = "dmy_num" if dayfirst else "mdy_num"
                out.append(Stated("date", s, e, s, e, date=(y, mo, d), date_style=style, qualifier=q))
        elif kind in ("money1", "money2"):
            raw = g("n1") or g("n2")
            num, decimals = _dec(raw)
            cur = _CURRENCY.get((g("sym") or g("code") or "").strip())
            mult = _MULT.get((g("x1") or g("x2") or "").strip(), 1.0)
            ns, ne = m.span("n1") if g("n1") else m.span("n2")
            if num is not None and cur:
                out.append(Stated("money", s, e, ns, ne, num, decimals, mult, currency=cur, qualifier=q))
        elif kind == "unit":
            num, decimals = _dec(g("n3"))
            if num is not None:
                ns, ne = m.span("n3")
                out.append(Stated("number", s, e, ns, ne, num, decimals, unit=g("u"), qualifier=q))
        else:
            num, decimals = _dec(g("n4"))
            if num is not None:
                out.append(Stated("number", s, e, s, e, num, decimals, qualifier=q))
    return out


def values_view(doc: Document, *, day_first: bool = False, timeout: float | None = None) -> list[Stated]:
    folded = folded_view(doc)

    def build(_d: Document) -> list[Stated]:
        try:
            return scan_values(folded.text, day_first=day_first, timeout=timeout)
        except TimeoutError as exc:
            raise DeadlineExceeded("scanning values ran past the deadline") from exc

    return doc.view(f"facts:values:{day_first}", build)


# Means `[.!?;]+(?=\s|$)|\n`, written to open with a character class so the engine skips ahead to the next
# candidate in C (2.5x faster on 2 KB of prose; tests/checks/test_known_facts.py compares the two).
_SENTENCE_END = re.compile(r"[.!?;\n](?:(?<=\n)|[.!?;]*(?=\s|$))")


def sentence_bounds(text: str) -> list[int]:
    """Sorted offsets where sentences (clauses ending in . ! ? ; or a newline) end, plus len(text)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not ends or ends[-1] != len(text):
        ends.append(len(text))
    return ends


NEGATION_RE = re.compile(
    r"\b(?:not|never|no longer|isn't|isnt|aren't|wasn't|weren't|doesn't|don't|didn't|won't|cannot|can't|"
    r"neither|nor|no)\b|n't\b"
)
