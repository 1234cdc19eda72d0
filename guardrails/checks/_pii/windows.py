# ruff: noqa: RUF001 -- fullwidth plus is a phone number lead
"""Candidate windows: the few stretches of an output where a recognizer group can match at all.

A window is a run of consecutive whitespace-delimited chunks that contain the group's trigger (a
digit, an '@'...; found in `runs`), widened by a margin of chunks where a match may span a trigger-free
chunk (an IBAN's letter group). Windows start and end on whitespace, so word-boundary and look-around
assertions see the same neighbours as in the full text. All windows of a group are joined into one
compact text with a separator no pattern can match across, so each recognizer runs once per
document, over a small fraction of it. Phone numbers get phonenumbers' own candidates as windows,
pruned per region: a region runs only where some stretch of digit groups, read as parse() may read it, fits
that region's own validity patterns (phonenumbers metadata).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata

# Newline, paragraph separator and ';' stop every presidio pattern and phonenumbers' candidates
# (none of them allows a newline inside a match), and read as whitespace to look-arounds.
SEPARATOR = "\n\u2029;\n"
MARGIN = 2


@dataclass(frozen=True, slots=True)
class Window:
    start: int
    end: int


@dataclass(frozen=True)
class Compact:
    """Windows of a text joined by SEPARATOR, with the map back to the text's offsets."""

    text: str
    starts: tuple[int, ...]  # offset of each window in `text`
    windows: tuple[Window, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int] | None:
        """Map a span of the compact text back to the original; None if it straddles a separator."""
        i = bisect.bisect_right(self.starts, start) - 1
        if i < 0:
            return None
        w = self.windows[i]
        base = self.starts[i]
        if end - base > w.end - w.start:
            return None
        return w.start + start - base, w.start + end - base


_MARGINS = {k: re.compile(r"\S*(?:\s+\S+){0," + str(k) + "}") for k in range(MARGIN + 1)}


class Margins:
    """Chunk-aligned widening of spans, scanning forward in the text and backward in its reverse."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._reversed: str | None = None

    @property
    def reversed(self) -> str:
        if self._reversed is None:
            self._reversed = self.text[::-1]
        return self._reversed

    def right(self, end: int, chunks: int) -> int:
        """End of the chunk containing `end`, then `chunks` more chunks."""
        m = _MARGINS[chunks].match(self.text, end)
        return m.end() if m else end

    def left(self, start: int, chunks: int) -> int:
        """Start of the chunk containing `start`, then `chunks` more chunks back."""
        n = len(self.text)
        m = _MARGINS[chunks].match(self.reversed, n - start)
        return n - m.end() if m else start

    def widen(self, start: int, end: int, left: int, right: int) -> Window:
        return Window(self.left(start, left), self.right(end, right))


def merge(windows: Iterable[Window]) -> list[Window]:
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: w.start):
        if out and w.start <= out[-1].end:
            if w.end > out[-1].end:
                out[-1] = Window(out[-1].start, w.end)
        else:
            out.append(w)
    return out


def compact(text: str, windows: Sequence[Window]) -> Compact:
    parts: list[str] = []
    starts: list[int] = []
    pos = 0
    for w in windows:
        starts.append(pos)
        parts.append(text[w.start : w.end])
        pos += (w.end - w.start) + len(SEPARATOR)
    return Compact(SEPARATOR.join(parts), tuple(starts), tuple(windows))


# -- phone numbers ------------------------------------------------------------------------------

# phonenumbers' own candidate pattern: the matcher parses exactly the stretches this finds (and pieces
# of them), and looks one character before (a Latin letter or '%' rejects it) and at most three after
# (one character likewise, or ":ss" of a time stamp). Three more digits can never be a valid number.
PHONE_CANDIDATE: re.Pattern[str] = phonenumbers.phonenumbermatcher._PATTERN


@functools.cache
def fewest_phone_digits(regions: tuple[str, ...]) -> int:
    """Fewest digits any valid number of these regions has, national or international."""
    return min([min_international_digits(), *(min_national_length(r) for r in regions)])


_PLUS = re.compile(r"[+＋]")
# What may be an international dialling prefix (00, 011, Israel's 012..., Brazil's 0012...) opening a group.
_IDD = re.compile(r"(?<!\d)0[01]")


@functools.cache
def min_national_length(region: str) -> int:
    """Fewest national digits a *valid* number of `region` has (local-only lengths are not valid)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return 1
    return min(meta.general_desc.possible_length or (1,))


_PLAIN_PREFIXES = re.compile(r"\d+(?:\|\d+)*")


@functools.cache
def max_written_length(region: str) -> int:
    """Most digits a national number of `region` can be written with: its longest valid length plus
    the longest national prefix (or carrier code) that parsing strips ("0", "1", GB's "180020"...)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return 10**6
    prefix = meta.national_prefix_for_parsing or meta.national_prefix or ""
    # A pattern rather than plain alternatives (carrier codes, BR): assume up to 6 stripped digits.
    slack = max(len(p) for p in prefix.split("|")) if _PLAIN_PREFIXES.fullmatch(prefix) else 6
    return max(meta.general_desc.possible_length or (10**6,)) + slack


@functools.cache
def min_international_digits() -> int:
    """Fewest digits of any number written internationally: country code plus shortest valid length."""
    best = 10**6
    for region in phonenumbers.SUPPORTED_REGIONS:
        meta = PhoneMetadata.metadata_for_region(region)
        if meta is None or meta.general_desc is None or not meta.general_desc.possible_length:
            continue
        best = min(best, len(str(meta.country_code)) + min(meta.general_desc.possible_length))
    return best


@functools.cache
def distinct_dialling_regions(regions: tuple[str, ...]) -> tuple[str, ...]:
    """One region per country calling code: CA parses and validates national numbers exactly as US
    does (same code 1, same plan), so its matcher can only repeat US's matches."""
    seen: set[int] = set()
    out = []
    for r in regions:
        code = phonenumbers.country_code_for_region(r)
        if code and code in seen:
            continue
        seen.add(code)
        out.append(r)
    return tuple(out)


_DIGIT_GROUP = re.compile(r"\d+")
SHORT_GROUP = 8


@functools.lru_cache(maxsize=65_536)
def single_group_is_valid(group: str, region: str) -> bool:
    """For a run that is one bare digit group, the matcher's only candidate is the group itself, and it
    reports it exactly when phonenumbers parses it as a valid number of the region. Years, zip codes
    and counts repeat across outputs, so the answer is cached (short groups only)."""
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(group, region)))
    except phonenumbers.NumberParseException:
        return False


@functools.lru_cache(maxsize=65_536)
def regions_to_try(run: str, regions: tuple[str, ...]) -> tuple[str, ...]:
    """The regions whose matcher could report a number inside this candidate run (often none).

    A pure function of the run: years, amounts, ids and dates recur within and across outputs, so
    the answer is cached (bounded)."""
    if sum(c.isdigit() for c in run) < fewest_phone_digits(regions):
        return ()
    wanted = phone_regions_for_run(run, regions)
    if run.isdigit() and len(run) <= SHORT_GROUP:
        wanted = [r for r in wanted if single_group_is_valid(run, r)]
    return tuple(wanted)


def _group_sums(run: str) -> set[int]:
    """Digit counts of every stretch of consecutive digit groups in the run."""
    groups = [len(g) for g in _DIGIT_GROUP.findall(run)]
    sums: set[int] = set()
    for i in range(len(groups)):
        total = 0
        for g in groups[i:]:
            total += g
            sums.add(total)
    return sums


def _split_idd(run: str) -> bool:
    """An IDD (00, 01...) written across digit groups ("0 0 44 ..."): phonenumbers strips separators before
    it looks for one, so any stretch of groups whose digits start with 0[01] may be an international number.
    (Hypothesis found "0 0 5002 0200", read in GB as +500 20200.)"""
    groups = _DIGIT_GROUP.findall(run)
    return any("".join(groups[i : i + 2]).startswith(("00", "01")) for i in range(len(groups)) if groups[i] == "0")


def phone_regions_for_run(run: str, regions: Sequence[str]) -> list[str]:
    """Regions whose matcher could report a number inside this run.

    The matcher tries the whole run and the pieces it splits at separators, so every number it can
    report is a stretch of consecutive digit groups. Written nationally for region R, some reading of
    that stretch must be a valid number of R's calling code (`may_be_national`; runs in other
    scripts' digits fall back to the length bounds `min_national_length`..`max_written_length`). A number written
    internationally ('+', or an IDD such as 00 or 011) is validated against its own country whatever
    the preferred region, so every region runs when the run is long enough to hold one.
    """
    digits = sum(c.isdigit() for c in run)
    if _PLUS.search(run) or _IDD.search(run) or _split_idd(run):
        needed = min_international_digits() + (0 if _PLUS.search(run) else 2)
        if digits >= needed:
            return list(regions)
    groups = _DIGIT_GROUP.findall(run)
    if not all(g.isascii() for g in groups):  # other scripts' digits: the length bounds alone
        sums = _group_sums(run)
        return [r for r in regions if any(min_national_length(r) <= s <= max_written_length(r) for s in sums)]
    stretches = ["".join(groups[i : j + 1]) for i in range(len(groups)) for j in range(i, len(groups))]
    return [r for r in regions if any(may_be_national(s, r) for s in stretches)]


@functools.lru_cache(maxsize=65_536)
def may_be_national(digits: str, region: str) -> bool:
    """Whether phonenumbers, parsing this stretch of ASCII digits (no '+', no IDD) for `region`, can get a
    valid national number out of it.

    parse() takes the digits as they are, or drops the region's calling code from their start, and
    then may drop a national prefix or carrier code (`national_prefix_for_parsing`, with its transform
    rule); a valid number fully matches the general description of one of the regions sharing the
    calling code (a US-dialled number may validate as Canadian or Jamaican). Every reading is tried,
    so this never rejects what the matcher would accept. Years, amounts and ids repeat: cached.
    """
    rules = _national_rules(region)
    if rules is None:
        return True
    code, prefix, transform, valid = rules
    readings = {digits}
    if digits.startswith(code):
        readings |= {digits[len(code) :]}
    for x in list(readings):
        readings |= _strip_prefix(x, prefix, transform)
    for x in list(readings):
        readings |= _strip_prefix(x, prefix, transform)
    return any(valid.fullmatch(x) for x in readings)


def _strip_prefix(number: str, prefix: re.Pattern[str] | None, transform: str | None) -> set[str]:
    if prefix is None:
        return set()
    m = prefix.match(number)
    if m is None:
        return set()
    out = {number[m.end() :]}
    if transform:
        out.add(prefix.sub(transform, number, count=1))
    return out


_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


@functools.cache
def _national_rules(region: str) -> tuple[str, re.Pattern[str] | None, str | None, re.Pattern[str]] | None:
    """(calling code, national prefix pattern, transform rule, valid national numbers) of a region.

    A valid number matches its region's general description and one of its number types (fixed line,
    mobile, toll free...): one pattern, `(?=general$)(?:type|type...)`, per region of the calling code."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return None
    alternatives = []
    for other in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code or 0, ()):
        m = PhoneMetadata.metadata_for_region(other)
        general = getattr(getattr(m, "general_desc", None), "national_number_pattern", None)
        if not general:
            return None
        types = [getattr(getattr(m, t, None), "national_number_pattern", None) for t in _NUMBER_TYPES]
        types = [t for t in types if t]
        if types:
            alternatives.append(f"(?=(?:{general})$)(?:{'|'.join(f'(?:{t})' for t in types)})")
    npp = meta.national_prefix_for_parsing or meta.national_prefix
    prefix = re.compile(npp) if npp else None
    valid = re.compile("|".join(alternatives) or r"(?!)")
    return str(meta.country_code), prefix, meta.national_prefix_transform_rule, valid
