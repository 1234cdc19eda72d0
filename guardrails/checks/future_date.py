"""`future_date`: dates later than the reference date (Context.reference_date, the params', else today).

Parses ISO dates (2025-03-14), numeric dates (14/03/2025, 03/14/2025, 14.03.2025: when day and month
are ambiguous the earlier reading is taken, so only dates in the future under every reading fire),
written dates in English, French, German, Spanish, Italian, Portuguese and Dutch ("March 14, 2025",
"14 mars 2025", "14. März 2025", "14 de marzo de 2025") and month-year ("March 2031", judged by its first
day). Years alone are off by default (`years: true` turns them on). A date announced as future ("will be
held on", "scheduled for", "by") is skipped when `skip_future_tense` is on: plans are not hallucinations.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import regex
from pydantic import Field

from guardrails.checks.base import Check, CheckParams, DeadlineExceeded, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Evidence

_MONTHS: dict[int, tuple[str, ...]] = {
    1: (
        "january",
        "jan",
        "janvier",
        "janv",
        "januar",
        "jänner",
        "enero",
        "ene",
        "gennaio",
        "gen",
        "janeiro",
        "januari",
    ),
    2: ("february", "feb", "février", "fevrier", "févr", "februar", "febrero", "febbraio", "fevereiro", "februari"),
    3: ("march", "mar", "mars", "märz", "maerz", "marzo", "março", "marco", "maart", "mrt"),
    4: ("april", "apr", "avril", "avr", "abril", "abr", "aprile"),
    5: ("may", "mai", "mayo", "maggio", "maio", "mei"),
    6: ("june", "jun", "juin", "juni", "junio", "giugno", "junho"),
    7: ("july", "jul", "juillet", "juil", "juli", "julio", "luglio", "julho"),
    8: ("august", "aug", "août", "aout", "agosto", "ago", "augustus"),
    9: ("september", "sep", "sept", "septembre", "septiembre", "settembre", "set", "setembro"),
    10: ("october", "oct", "octobre", "oktober", "okt", "octubre", "ottobre", "ott", "outubro", "out"),
    11: ("november", "nov", "novembre", "noviembre", "novembro"),
    12: (
        "december",
        "dec",
        "décembre",
        "decembre",
        "déc",
        "dezember",
        "dez",
        "diciembre",
        "dic",
        "dicembre",
        "dezembro",
    ),
}
_MONTH_OF = {name: num for num, names in _MONTHS.items() for name in names}
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|er|º|°|\.)?"
_YEAR = r"(?P<year>(?:1[89]|2\d)\d\d)"
# Any word in the month slot; _parse keeps only month names. A 100-name alternation costs far more per
# character than a letter run plus one dictionary lookup.
_MON = r"(?P<month>[^\W\d_]{3,10})\.?"

# The stdlib engine is about twice as fast on these, and they cannot backtrack badly: every quantifier is
# bounded and they only ever run on windows of about 60 characters around a year.
_PATTERNS = [
    # 2025-03-14, 2025/03/14 (not 2025.1.2: that is a version)
    re.compile(r"(?<![\w.-])(?P<year>(?:1[89]|2\d)\d\d)(?P<sep>[-/])(?P<m1>[01]?\d)(?P=sep)(?P<d1>[0-3]?\d)(?![\w-])"),
    # 14/03/2025, 03-14-2025, 14.03.2025 (ambiguous day/month)
    re.compile(r"(?<![\w./-])(?P<a>[0-3]?\d)(?P<sep>[/.-])(?P<b>[0-3]?\d)(?P=sep)(?P<year>(?:1[89]|2\d)\d\d)(?![\w-])"),
    # March 14, 2025 / Mar. 14th 2025
    re.compile(rf"\b{_MON}\s+{_DAY},?\s+{_YEAR}(?!\d)", re.IGNORECASE),
    # 14 March 2025 / 14. März 2025 / 14 de marzo de 2025
    re.compile(rf"(?<!\d){_DAY}\s*(?:de\s+)?{_MON}\s*,?\s*(?:de\s+|del\s+)?{_YEAR}(?!\d)", re.IGNORECASE),
    # March 2025 / marzo de 2025
    re.compile(rf"\b{_MON}\s+(?:de\s+|del\s+|of\s+)?{_YEAR}(?!\d)", re.IGNORECASE),
]
_NUMERIC, _WRITTEN = _PATTERNS[:2], _PATTERNS[2:]  # most specific first; later ones skip overlapping spans
_LETTERS = re.compile(r"[^\W\d_]+")
_YEAR_ONLY = regex.compile(
    r"\b(?:in|since|from|of|année|im jahr|en|nel)\s+(?P<year>(?:1[89]|2\d)\d\d)\b(?![-/.]\d)", regex.I
)
_FUTURE_CUES = regex.compile(
    r"\b(?:will|shall|going\s+to|scheduled|planned|plans?|expected|expects?|upcoming|forecast|projected|due|"
    r"deadline|until|till|by|before|no\s+later\s+than|targets?|aims?|estimated|predicted|anticipated|next|future|"
    r"sera|serán|wird|werden|prévu|prevista|previsto|entro|bis)\b",
    regex.IGNORECASE,
)


# A run of digits; runs of exactly four that look like a year are the candidates. A plain digit run scans
# several times faster than a pattern with lookarounds at every position.
_DIGITS = regex.compile(r"\d{4,}")
_CENTURIES = frozenset(["18", "19", *(f"2{d}" for d in range(10))])
_WINDOW_BEFORE = 40  # "14 de septiembre de " is the longest lead-in before a year
_WINDOW_AFTER = 12  # "2025-03-14" runs 6 past the year; keep room for the lookaheads


def _year_windows(text: str, timeout: float | None) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    for m in _DIGITS.finditer(text, timeout=timeout):
        start, end = m.span()
        if end - start != 4 or text[start : start + 2] not in _CENTURIES:
            continue
        a, b = max(0, start - _WINDOW_BEFORE), min(len(text), end + _WINDOW_AFTER)
        if windows and a <= windows[-1][1]:
            windows[-1] = (windows[-1][0], b)
        else:
            windows.append((a, b))
    return windows


@dataclass(frozen=True, slots=True)
class _Date:
    start: int
    end: int
    date: dt.date
    precision: str  # day, month, year


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _parse(m: re.Match[str]) -> tuple[dt.date, str] | None:
    g = m.groupdict()
    year = int(g["year"])
    if g.get("m1") is not None:
        d = _safe_date(year, int(g["m1"]), int(g["d1"]))
        return (d, "day") if d else None
    if g.get("a") is not None:
        a, b = int(g["a"]), int(g["b"])
        readings = [d for d in (_safe_date(year, b, a), _safe_date(year, a, b)) if d]
        return (min(readings), "day") if readings else None
    month = _MONTH_OF.get(g["month"].lower())
    if month is None:
        return None
    if g.get("day") is not None:
        d = _safe_date(year, month, int(g["day"]))
        return (d, "day") if d else None
    return dt.date(year, month, 1), "month"


class FutureDateParams(CheckParams):
    reference_date: dt.date | None = Field(default=None, description="Used when the context gives none; else today")
    grace_days: int = Field(default=0, ge=0, description="Dates up to this many days after the reference pass")
    years: bool = Field(default=False, description="Also flag bare years after 'in', 'since', 'from'")
    skip_future_tense: bool = Field(default=True, description="Skip dates the sentence announces as future")
    max_matches: int = Field(default=50, ge=1, description="Stop after this many hits in one output")


class FutureDateCheck(Check[FutureDateParams]):
    """Streaming: a date at the end of a prefix ("March 2") may grow into another ("March 2031")."""

    kind = "future_date"
    streaming = True
    lookbehind = 40

    def _dates(self, text: str, timeout: float | None) -> list[_Date]:
        found: list[_Date] = []
        taken: list[tuple[int, int]] = []
        # Every date form has a four-digit year: run the patterns only around years (most texts have few).
        for lo, hi in _year_windows(text, timeout):
            window = text[lo:hi]
            # Cheap tests first: numeric forms need a separator, written forms a month name.
            numeric = "/" in window or "-" in window or "." in window
            written = not _MONTH_OF.keys().isdisjoint(_LETTERS.findall(window.lower()))
            for pattern in (*(_NUMERIC if numeric else ()), *(_WRITTEN if written else ())):
                for m in pattern.finditer(text, lo, hi):
                    if any(s < m.end() and m.start() < e for s, e in taken):
                        continue
                    parsed = _parse(m)
                    if parsed:
                        found.append(_Date(m.start(), m.end(), parsed[0], parsed[1]))
                        taken.append((m.start(), m.end()))
        if self.params.years:
            for m in _YEAR_ONLY.finditer(text, timeout=timeout):
                s, e = m.span("year")
                if not any(ts < e and s < te for ts, te in taken):
                    found.append(_Date(s, e, dt.date(int(m.group("year")), 1, 1), "year"))
        found.sort(key=lambda d: d.start)
        return found

    def _announced(self, text: str, start: int) -> bool:
        """True when the sentence up to the date says it is a plan, forecast or deadline."""
        lo = max(0, start - 160)
        window = text[lo:start]
        cut = max(window.rfind(". "), window.rfind("\n"), window.rfind("! "), window.rfind("? "))
        return bool(_FUTURE_CUES.search(window[cut + 1 :]))

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        reference = ctx.context.reference_date or self.params.reference_date or dt.datetime.now(dt.UTC).date()
        limit = reference + dt.timedelta(days=self.params.grace_days)
        text = doc.text
        try:
            dates = self._dates(text, ctx.deadline.remaining())
        except TimeoutError as exc:
            raise DeadlineExceeded("date scan timed out") from exc
        count = 0
        for d in dates:
            if d.date <= limit:
                continue
            if self.params.skip_future_tense and self._announced(text, d.start):
                continue
            count += 1
            if count > self.params.max_matches:
                break
            yield Hit(
                d.start,
                d.end,
                values={"date": d.date.isoformat(), "reference_date": reference.isoformat()},
                evidence=Evidence(
                    details={
                        "date": d.date.isoformat(),
                        "reference_date": reference.isoformat(),
                        "precision": d.precision,
                    }
                ),
            )


CHECK = FutureDateCheck
