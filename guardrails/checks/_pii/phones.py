"""Which regions' phone matchers can report a number inside one phonenumbers candidate run: exactly.

presidio's PhoneRecognizer runs phonenumbers' PhoneNumberMatcher (leniency VALID) once per region. The
matcher never parses arbitrary stretches of a run. For a candidate (a match of its `_PATTERN`, cut at a
second number's start "/ x") it parses exactly: the candidate, then for each of `_INNER_MATCHES` the text
before its first match and each match's group, trimmed of unwanted end characters; a string is dropped
before parsing when it looks like a date, a time stamp, a publication page, has unmatched brackets, or
touches a Latin letter, '%' or a currency sign. After a reported number it searches again from the
number's end. `attempts` lists every string it could parse that way (for every outcome of the earlier
ones), with phonenumbers' own patterns and helpers; `plan` then asks, per string, what parse() can
read from it (phonenumbers' own steps up to the country code) and whether that reading can be a valid
number as the region reads it (its metadata patterns, its national prefix where the number's format
requires one). A region no string can validate in is skipped: its matcher reports nothing in the run
and goes on at the run's end, as if the run were not there. `phone_runs` is the entry point for a text.

Numbers written with '+' read the same for every region (the default region is not consulted), so the
regions in which nothing but such strings can validate all report the same numbers in the run: one of
them is enough.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata, phonenumbermatcher, phonenumberutil

from guardrails.checks._patterns import derived, re_compile  # the validity patterns from the store (~0.07 s)

PHONE_CANDIDATE: re.Pattern[str] = phonenumbermatcher._PATTERN

# phonenumbers compiles its metadata patterns on every use unless told to keep them (its own, bounded,
# cache); presidio's and our patterns push them out of the re module's small cache, so parse() and the
# checks below would recompile them again and again.
phonenumbers.enable_pattern_cache()
_Matcher = phonenumbermatcher.PhoneNumberMatcher


@dataclass(frozen=True, slots=True)
class Attempt:
    """One string the matcher would hand to parse(), at `start` in the run."""

    text: str
    start: int


def _rejected_by_neighbours(s: str, start: int, run: str, before: str | None, after: str | None) -> bool:
    """The matcher's VALID-leniency check of the characters just before and after a string. Outside the
    run, `before`/`after` give the text's characters ("" at the text's edge, None when unknown: then
    nothing is rejected, which can only keep more strings)."""
    if not phonenumbermatcher._LEAD_PATTERN.match(s):
        prev = run[start - 1] if start > 0 else before
        if prev and _rejects(prev):
            return True
    end = start + len(s)
    nxt = run[end] if end < len(run) else (after or "")[:1]
    return bool(nxt) and _rejects(nxt)


def _passes_string_checks(a: Attempt, run: str, before: str | None, after: str | None) -> bool:
    """`_parse_and_verify`'s checks before parse(): brackets, publication pages, neighbours."""
    if not phonenumbermatcher._MATCHING_BRACKETS.fullmatch(a.text) or phonenumbermatcher._PUB_PAGES.search(a.text):
        return False
    return not _rejected_by_neighbours(a.text, a.start, run, before, after)


def _trim(pattern: re.Pattern[str], s: str) -> str:
    m = pattern.search(s)
    return s[: m.start()] if m else s


def _candidate_attempts(c: str, at: int, following: str | None) -> list[Attempt]:
    """`_extract_match` on candidate `c` at `at`: the strings it parses, in order (all of them: the
    matcher stops at the first that verifies, which only shortens the list). `following` is the text
    after the candidate (None if unknown), for the time-stamp check."""
    if phonenumbermatcher._SLASH_SEPARATED_DATES.search(c):
        return []
    if (
        following is not None
        and phonenumbermatcher._TIME_STAMPS.search(c)
        and phonenumbermatcher._TIME_STAMPS_SUFFIX.match(following)
    ):
        return []
    out = [Attempt(c, at)]
    unwanted = phonenumberutil._UNWANTED_END_CHAR_PATTERN
    for inner in phonenumbermatcher._INNER_MATCHES:
        m = inner.search(c)
        if m is None:
            continue
        out.append(Attempt(_trim(unwanted, c[: m.start()]), at))
        while m is not None:
            out.append(Attempt(_trim(unwanted, m.group(1)), at + m.start(1)))
            m = inner.search(c, m.start() + 1)
    return out


# -- what parse() reads --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """What parse() takes from a string before the default region matters.

    `international`: (country code, rest) of a number written with '+' and a known country code, read
    alike for every region. Otherwise `number`, the string parse() goes on with (extension stripped),
    and `plus_retry`: the '+' was followed by no known country code, so parse() retries without it and
    only accepts an international prefix of the region or the region's own country code."""

    international: tuple[int, str] | None = None
    number: str | None = None
    digits: str = ""  # `number` normalised (parse() reads three Latin letters or more as keypad digits)
    plus_retry: bool = False
    raw: str = ""  # the string itself: the matcher looks for a national prefix among all its digits


@functools.lru_cache(maxsize=65_536)
def reading(s: str) -> Reading | None:
    """parse()'s own first steps (phonenumbers' helpers, in its order); None when parse() raises for
    every region."""
    if 2 <= len(s) <= phonenumberutil._MAX_LENGTH_FOR_NSN and s.isascii() and s.isdigit():
        # The commonest string: no context, extension, '+' nor letter to find; viable from two digits.
        return Reading(number=s, digits=s, raw=s)
    return _read(s)


def _read(s: str) -> Reading | None:
    """`reading`, by parse()'s steps."""
    try:
        number = phonenumberutil._build_national_number_for_parsing(s)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumberutil._is_viable_phone_number(number):
        return None
    _, number = phonenumberutil._maybe_strip_extension(number)
    plus = phonenumberutil._PLUS_CHARS_PATTERN.match(number)
    if plus is None:
        return Reading(
            number=number,
            digits=_normalize(number),
            raw=s,
        )
    digits = _normalize(number[plus.end() :])
    if len(digits) <= phonenumberutil._MIN_LENGTH_FOR_NSN:
        return None  # TOO_SHORT_AFTER_IDD, not retried
    code, rest = phonenumberutil._extract_country_code(digits)
    if code:
        return Reading(international=(code, rest))
    return Reading(number=number[plus.end() :], digits=digits, plus_retry=True)


_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def digits_only(s: str) -> str:
    """phonenumbers' `normalize_digits_only`, fast for ASCII text, in which only 0-9 have a digit value."""
    return _NOT_ASCII_DIGIT.sub("", s) if s.isascii() else phonenumberutil.normalize_digits_only(s)


def _normalize(s: str) -> str:
    """phonenumbers' `_normalize`: digits only, unless three Latin letters or more (read as keypad digits),
    fast for ASCII text without letters."""
    if s.isascii() and not _ASCII_LETTER.search(s):
        return _NOT_ASCII_DIGIT.sub("", s)
    return phonenumberutil._normalize(s)


@functools.lru_cache(maxsize=65_536)
def may_be_international(code: int, rest: str) -> bool:
    """Whether the national part of a number read with country code `code` may be valid: it, or it with
    the national prefix parse() may strip, has a number type in a region of that code (phonenumbers' own
    test, whose patterns parse() compiles anyway: no pattern of ours per country)."""
    if code in _PREPARED:  # a code of the regions we run: our compiled pattern (`prepare`)
        return _may_be_valid(rest, _code_rules(code))
    region_codes = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    main = PhoneMetadata.metadata_for_region_or_calling_code(code, region_codes[0]) if region_codes else None
    if main is None:
        return True
    readings = {rest, phonenumberutil._maybe_strip_national_prefix_carrier_code(rest, main)[1]}
    for r in region_codes:  # lazily: the first region that fits settles it
        meta = PhoneMetadata.metadata_for_region_or_calling_code(code, r)
        if meta is None:
            return True
        if any(phonenumberutil._number_type_helper(x, meta) != phonenumbers.PhoneNumberType.UNKNOWN for x in readings):
            return True
    return False


def may_be_valid_in(r: Reading, region: str) -> bool:
    """Whether parse(string, region) can give a valid number (a superset: True unless provably not)."""
    if r.international is not None:
        return may_be_international(*r.international)
    # `_maybe_strip_i18n_prefix_and_normalize` without a '+': normalise (done once, in `reading`), then
    # strip the region's international prefix.
    stripped, digits = phonenumberutil._parse_prefix_as_idd(_idd(region), r.digits)
    if stripped:
        if len(digits) <= phonenumberutil._MIN_LENGTH_FOR_NSN:
            return False
        code, rest = phonenumberutil._extract_country_code(digits)
        return bool(code) and may_be_international(code, rest)
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return True
    if r.plus_retry:  # the retry keeps only a number carrying the region's own country code
        return digits.startswith(str(meta.country_code)) and may_be_national(digits, region)
    return may_be_national(digits, region, r.raw)


@functools.cache
def _idd(region: str) -> re.Pattern[str]:
    meta = PhoneMetadata.metadata_for_region(region)
    return re.compile((meta.international_prefix if meta else None) or "NonMatch")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Where one string may validate: `everywhere` (a '+' number, read alike in every region) or in
    `regions` (read against the region: national, its international prefix, its country code)."""

    everywhere: bool
    regions: frozenset[str]

    @property
    def possible(self) -> bool:
        return self.everywhere or bool(self.regions)


@functools.lru_cache(maxsize=65_536)
def verdict(s: str, regions: tuple[str, ...]) -> Verdict:
    r = reading(s)
    if r is None:
        return Verdict(False, frozenset())
    if r.international is not None:
        return Verdict(may_be_international(*r.international), frozenset())
    return Verdict(False, frozenset(g for g in regions if not _surely_not(r.digits, g) and may_be_valid_in(r, g)))


def _surely_not(digits: str, region: str) -> bool:
    """Two C-level pattern tests that settle most strings: no international prefix of the region
    starts the digits, and no reading of them fits the region's valid numbers (`_loose`)."""
    loose = _region_loose(region)
    if _idd(region).match(digits) is not None:
        return False
    if loose is None:  # no pattern (a prefix transform rule): a length bound instead
        return len(digits) < _region_shortest(region)
    return loose.fullmatch(digits) is None


_GROUP_REFERENCE = re.compile(r"[$\\]\d")


@functools.cache
def _region_shortest(region: str) -> int:
    """For a region without a `_loose` pattern: fewer digits than this can never be valid as it reads
    them. Every reading `may_be_national` tries is no longer than the digits (a prefix dropped, a calling
    code dropped, or a prefix replaced by one group of its own match when the transform rule is one group
    reference: else 0, no bound), and a valid one fully matches the code's valid pattern, whose shortest
    match the regex parser gives."""
    meta = PhoneMetadata.metadata_for_region(region)
    rules = _code_rules(meta.country_code) if meta is not None and meta.country_code else None
    if meta is None or rules is None:
        return 0
    prefixes = (*rules.prefixes, *_prefixes(meta.country_code, region))
    if any(p.transform and not _GROUP_REFERENCE.fullmatch(p.transform) for p in prefixes):
        return 0
    pattern = rules.valid.pattern
    shortest: int = derived("shortest", pattern, 0, lambda: re._parser.parse(pattern).getwidth()[0])  # type: ignore[attr-defined]
    return shortest


@functools.cache
def _region_loose(region: str) -> re.Pattern[str] | None:
    meta = PhoneMetadata.metadata_for_region(region)
    return _loose(meta.country_code, region) if meta is not None and meta.country_code else None


# -- the matcher's walk over one run ------------------------------------------------------------


def attempts(
    run: str, before: str | None, after: str | None, regions: tuple[str, ...], first: int | None = None
) -> tuple[list[tuple[Attempt, Verdict]], tuple[int, ...]]:
    """Every string the matcher may parse in `run` (for any outcome of the earlier ones) that passes its
    string checks, with its verdict; and the positions of the searches resumed inside the run whose
    match reaches the run's end (in the text it may go on: see `phone_runs`). The matcher's first
    candidate is `run[:first]` (the whole run unless `run` is several runs joined)."""
    if (first is None or first == len(run)) and run.isascii() and run.isdigit():
        # The commonest run (years, amounts, ids): the candidate is the run itself, and each of the
        # matcher's inner patterns, its date, time-stamp and page checks needs a separator: it parses the
        # run alone, and a reported number ends at the run's end.
        if len(run) < fewest_phone_digits(regions) or _rejected_by_neighbours(run, 0, run, before, after):
            return [], ()
        return [(Attempt(run, 0), verdict(run, regions))], ()
    return _walk(run, before, after, regions, first)


def _walk(
    run: str, before: str | None, after: str | None, regions: tuple[str, ...], first: int | None
) -> tuple[list[tuple[Attempt, Verdict]], tuple[int, ...]]:
    """`attempts`, the matcher's walk replayed step by step."""
    out: list[tuple[Attempt, Verdict]] = []
    fewest = fewest_phone_digits(regions)
    todo = [0]
    searched: set[int] = set()
    tails = []
    while todo:
        pos = todo.pop()
        if pos in searched or pos >= len(run):
            continue
        searched.add(pos)
        if pos == 0:  # the first candidate, as the matcher found it in the text
            start, found = 0, run[: len(run) if first is None else first]
        else:
            m = PHONE_CANDIDATE.search(run, pos)
            if m is None:
                continue
            if m.end() == len(run):
                tails.append(pos)
            start, found = m.start(), m.group()
        c = _trim(phonenumberutil._SECOND_NUMBER_START_PATTERN, found)
        todo.append(start + len(c))  # where the matcher searches next when nothing verifies
        end = start + len(c)
        following = run[end:] + after if after is not None else (run[end:] if len(run) - end >= 3 else None)
        for a in _candidate_attempts(c, start, following):
            if _digit_count(a.text) < fewest or not _passes_string_checks(a, run, before, after):
                continue
            v = verdict(a.text, regions)
            out.append((a, v))
            if v.possible:
                todo.append(a.start + len(a.text))  # a reported number: the search goes on from its end
    return out, tuple(sorted(tails))


def _digit_count(s: str) -> int:
    """Digits parse() could read from the string, at most: letters count, as parse() reads three Latin
    letters or more as keypad digits (1-800-FLOWERS)."""
    return len(_COUNTED.findall(s))


_COUNTED = re.compile(r"\d|[A-Za-z]")  # \d: any decimal digit, as _PATTERN and parse() read them


@dataclass(frozen=True, slots=True)
class Plan:
    """The regions to run over one candidate run, and where searches resumed inside it reach its end."""

    regions: tuple[str, ...]
    tails: tuple[int, ...] = ()


@functools.lru_cache(maxsize=65_536)
def plan(
    run: str, regions: tuple[str, ...], before: str | None = None, after: str | None = None, first: int | None = None
) -> Plan:
    """Which regions' matchers must run over this candidate run (often none), in `regions`' order.

    `before` is the character before the run and `after` the (up to) three after it, "" at the text's
    edge; None (unknown) keeps every string those characters could reject. A pure function of its
    arguments: years, amounts, ids and dates recur within and across outputs, so it is cached.

    A region is kept when some string the matcher may parse can validate in it as that region reads it.
    Of the regions where only '+' strings can validate, the first stands for all (same numbers).
    A search the matcher resumes inside the run (after a number, or at a second number's "/ x") may run
    on past its end, into the next run (`_PATTERN` counts its 21 digit blocks afresh; an extension's
    digits end a run but can start a number): `tails` says where, `phone_runs` looks at the text.
    """
    if _digit_count(run) < fewest_phone_digits(regions):
        return Plan(())
    found, tails = attempts(run, before, after, regions, first)
    national = set().union(*(v.regions for _, v in found))
    stand_in = any(v.everywhere for _, v in found)
    out = []
    for g in regions:
        if g in national:
            out.append(g)
        elif stand_in:
            out.append(g)
            stand_in = False
    return Plan(tuple(out), tails)


def regions_to_try(
    run: str, regions: tuple[str, ...], before: str | None = None, after: str | None = None
) -> tuple[str, ...]:
    """`plan(...).regions`: exact for a run the matcher does not enter from the run before, nor leave
    into the next (`phone_runs` joins such runs)."""
    return plan(run, regions, before, after).regions


@dataclass(frozen=True, slots=True)
class PhoneRun:
    """A candidate run of the text, the regions whose matcher must see it, and the window to show them:
    the run with the characters the matcher looks at around it. Before it that is one character, and
    only when it can reject the run (a Latin letter, '%', a currency sign): a digit there ends the run
    before (a run can stop inside digits, at an extension's digit limit) and, shown alone, would join
    this run into a longer candidate than the text has. After it, three (a time stamp's ":ss")."""

    start: int
    end: int
    regions: tuple[str, ...]
    window_start: int
    window_end: int


def phone_runs(text: str, regions: tuple[str, ...]) -> Iterator[PhoneRun]:
    """The candidate runs of `text` that some region must see, with those regions. Running each region's
    matcher over the windows of its runs reports exactly what it reports over the whole text, up to the
    numbers a stand-in region reports for it (see `plan`). Where a search the matcher may resume inside
    a run goes on past its end, the run is joined with the next one and judged as one (rare: a run cut by
    the 21-block limit or ended by an extension's digits)."""
    runs = [m.span() for m in phone_candidates(text)]
    fewest = fewest_phone_digits(regions)
    i = 0
    while i < len(runs):
        start, first_end = runs[i]
        if first_end - start < fewest:  # fewer characters than digits needed: `plan` keeps no region
            i += 1
            continue
        j, end = i, first_end
        while True:
            before = text[start - 1] if start else ""
            p = plan(text[start:end], regions, before, text[end : end + 3], first_end - start)
            if j + 1 < len(runs) and any(_goes_past(text, start + t, end) for t in p.tails):
                j += 1
                end = runs[j][1]
                continue
            break
        if p.regions:
            window_start = start - 1 if start and _rejects(text[start - 1]) else start
            yield PhoneRun(start, end, p.regions, window_start, min(len(text), end + 3))
        i = j + 1


# phonenumbers' candidate pattern opens with at most two leads ('(', '[', '+' and their fullwidth forms), each
# followed by at most four punctuation characters, before its first digit: at most this many characters.
PHONE_LEAD_CHARS = 2 * (1 + 4)
_DIGIT = re.compile(r"\d")


def phone_candidates(text: str) -> Iterator[re.Match[str]]:
    """`PHONE_CANDIDATE.finditer(text)`, found faster: every match holds a digit and starts at most
    PHONE_LEAD_CHARS before its first one, so each search starts there, after a quick jump to the next
    digit, instead of trying the big pattern at every position of the text."""
    pos = 0
    while True:
        digit = _DIGIT.search(text, pos)
        if digit is None:
            return
        m = PHONE_CANDIDATE.search(text, max(pos, digit.start() - PHONE_LEAD_CHARS))
        if m is None:
            return
        yield m
        pos = m.end()


def _goes_past(text: str, pos: int, end: int) -> bool:
    m = PHONE_CANDIDATE.search(text, pos)
    return m is not None and m.end() > end


def _rejects(char: str) -> bool:
    """Whether the matcher rejects a string next to this character (a Latin letter, '%', a currency sign)."""
    if char < "\x80":  # a table for ASCII: phonenumbers' Unicode lookups are slow
        return char in _REJECTED_ASCII
    return _rejects_by_phonenumbers(char)


def _rejects_by_phonenumbers(char: str) -> bool:
    return _Matcher._is_invalid_punctuation_symbol(char) or _Matcher._is_latin_letter(char)


_REJECTED_ASCII = frozenset(c for c in map(chr, range(128)) if _rejects_by_phonenumbers(c))


# -- validity patterns from phonenumbers metadata ------------------------------------------------------


@functools.cache
def fewest_phone_digits(regions: tuple[str, ...]) -> int:
    """Fewest digits any valid number of these regions has, national or international."""
    return min([min_international_digits(), *(min_national_length(r) for r in regions)])


@functools.cache
def min_national_length(region: str) -> int:
    """Fewest national digits a *valid* number dialled as in `region` has: any region sharing its
    calling code may validate it (local-only lengths are not valid)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code is None:
        return 1
    lengths = [1]
    for other in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, ()):
        m = PhoneMetadata.metadata_for_region_or_calling_code(meta.country_code, other)
        if m is None or m.general_desc is None or not m.general_desc.possible_length:
            return 1
        lengths.append(min(m.general_desc.possible_length))
    return min(lengths[1:] or lengths)


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


@dataclass(frozen=True)
class Rules:
    """A calling code's parsing and validity rules: its code, national prefix pattern and transform
    rule, and one pattern for the valid national numbers of all its regions."""

    code: str
    prefixes: tuple[Prefix, ...]
    valid: re.Pattern[str]


@dataclass(frozen=True)
class Prefix:
    """A national prefix (or carrier code) parse() may strip, and the transform rule it applies."""

    pattern: re.Pattern[str]
    transform: str | None


@functools.lru_cache(maxsize=65_536)
def may_be_national(digits: str, region: str, raw: str | None = None) -> bool:
    """Whether the matcher, parsing these normalised digits (no '+', no international prefix) for
    `region`, can accept a valid number out of them.

    parse() drops the region's calling code from their start (then the number counts as international),
    or takes them as a national number: as they are or with a national prefix or carrier code stripped
    (`national_prefix_for_parsing`, with its transform rule). A valid number fully matches the general
    description and a number type of one of the regions sharing the calling code (a US-dialled number may
    validate as Canadian or Jamaican). A national number must also carry its national prefix when its
    format asks for one (DE's "030 ...", not "30 ..."): the matcher looks for it among all the digits
    of the string parsed, `raw` (None: not checked). Every reading is tried, so this never rejects what
    the matcher would accept. Cached: years, amounts, ids repeat.
    """
    meta = PhoneMetadata.metadata_for_region(region)
    code = meta.country_code if meta is not None else None
    rules = _code_rules(code) if code else None
    if meta is None or code is None or rules is None:
        return True
    loose = _loose(code, region)
    if loose is not None and not loose.fullmatch(digits):
        return False  # one regex first: no reading at all fits a number type
    extra = _prefixes(code, region)
    if digits.startswith(rules.code) and _may_be_valid(digits[len(rules.code) :], rules, extra):
        return True
    if raw is None or phonenumberutil.region_code_for_country_code(code) != region:
        return _may_be_valid(digits, rules, extra)
    # The region is its code's main one: parse() strips a prefix with its metadata, and the matcher
    # checks the prefix against the same metadata, so both steps can be replayed exactly.
    _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(digits, meta)
    valid = [n for n in {digits, stripped} if rules.valid.fullmatch(n)]
    if not valid:
        return False
    raw_digits = digits_only(raw)
    return phonenumberutil._maybe_strip_national_prefix_carrier_code(raw_digits, meta)[2] or not all(
        _prefix_required(n, meta) for n in valid
    )


def _prefix_required(nsn: str, meta: PhoneMetadata) -> bool:
    """phonenumbers' `_is_national_prefix_present_if_required`, before it looks at the raw input: whether
    the format of this national number asks for the national prefix."""
    rule = phonenumberutil._choose_formatting_pattern_for_number(meta.number_format, nsn)
    return (
        rule is not None
        and bool(rule.national_prefix_formatting_rule)
        and not rule.national_prefix_optional_when_formatting
        and not phonenumberutil._formatting_rule_has_first_group_only(rule.national_prefix_formatting_rule)
    )


def _may_be_valid(number: str, rules: Rules | None, extra: tuple[Prefix, ...] = ()) -> bool:
    """Whether `number`, or it with national prefixes stripped (the region's own, or its calling
    code's main region's, which parse() uses once the code is known), fits a valid number type."""
    if rules is None:
        return True
    readings = {number}
    for _ in range(2):
        for x in list(readings):
            for p in (*rules.prefixes, *extra):
                readings |= _strip_prefix(x, p)
    return any(rules.valid.fullmatch(x) for x in readings)


def _strip_prefix(number: str, prefix: Prefix) -> set[str]:
    m = prefix.pattern.match(number)
    if m is None:
        return set()
    out = {number[m.end() :]}
    if prefix.transform:
        out.add(prefix.pattern.sub(prefix.transform, number, count=1))
    return out


@functools.cache
def _prefixes(code: int, region: str) -> tuple[Prefix, ...]:
    meta = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if meta is None:
        return ()
    npp = meta.national_prefix_for_parsing or meta.national_prefix
    return (Prefix(re_compile(npp), meta.national_prefix_transform_rule),) if npp else ()


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
def _loose(code: int, region: str) -> re.Pattern[str] | None:
    """One pattern accepting every reading `may_be_national` may try for `region`, and more: the country
    code and national prefixes as optional parts before a valid number. A fast first test; None when a
    prefix has a transform rule (BR), which no pattern mirrors."""
    rules = _code_rules(code)
    if rules is None:
        return None
    prefixes = {p.pattern.pattern: p for p in (*rules.prefixes, *_prefixes(code, region))}
    if any(p.transform for p in prefixes.values()):
        return None
    strip = f"(?:{'|'.join(f'(?:{p})' for p in prefixes)})?" if prefixes else ""
    return re_compile(f"(?:{code})?{strip}{strip}(?:{rules.valid.pattern})")


def prepare(regions: Sequence[str]) -> None:
    """Load phonenumbers' metadata and compile the regions' validity patterns now (about 0.2 s for
    presidio's eight regions), not within the first output's deadline."""
    fewest_phone_digits(tuple(regions))  # reads every region's metadata
    for r in regions:
        if _region_loose(r) is None:
            _region_shortest(r)  # its length bound instead (BR): parsed now, not in a first validation
        _idd(r)
        meta = PhoneMetadata.metadata_for_region(r)
        if meta is not None and meta.country_code:
            _code_rules(meta.country_code)
            _PREPARED.add(meta.country_code)


_PREPARED: set[int] = set()


@functools.cache
def _code_rules(code: int) -> Rules | None:
    """The rules of a calling code (None: unknown metadata, then everything may be valid). The national
    prefix is the main region's, as parse() uses it. A valid number matches its region's general
    description and one of its number types: one pattern, `(?=general$)(?:type|...)`, per region."""
    region_codes = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if not region_codes:
        return None
    alternatives = []
    for region in region_codes:
        m = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        general = getattr(getattr(m, "general_desc", None), "national_number_pattern", None)
        if not general:
            return None
        types = [getattr(getattr(m, t, None), "national_number_pattern", None) for t in _NUMBER_TYPES]
        types = [t for t in types if t]
        if types:
            alternatives.append(f"(?=(?:{general})$)(?:{'|'.join(f'(?:{t})' for t in types)})")
    valid = re_compile("|".join(alternatives) or r"(?!)")
    return Rules(str(code), _prefixes(code, region_codes[0]), valid)


# presidio's PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS (a test checks), without importing presidio here.
DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")
prepare(DEFAULT_REGIONS)


def clear_string_caches() -> None:
    """Forget every per-string decision (readings, verdicts, plans), as a new process would: for benchmarks
    that must not profit from strings repeated across outputs."""
    for cached in (reading, may_be_international, verdict, plan, may_be_national):
        cached.cache_clear()
