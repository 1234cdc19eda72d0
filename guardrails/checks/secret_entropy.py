"""`secret_entropy`: a credential assigned to a keyword (`api_key = "9f3k..."`, `password: Summer2024!`).

Provider formats (AWS, GitHub, Stripe...) have fixed prefixes and are `regex` rules; a generic token has
none, so what marks it is its context and its shape. A hit needs all of:

- a keyword ending an identifier (`api key` matches `api_key`, `API-KEY`, `apiKey`, `OPENAI_API_KEY`);
- an assignment right after it (`=`, `:`, `:=`, `=>`, or ` is `), markdown emphasis and quotes allowed;
- a value of at least `min_length` characters, with no whitespace, that is no placeholder (`<...>`,
  `${VAR}`, `****`, `your_key_here`, a function call) and mixes at least `min_classes` character classes;
- a Shannon entropy per character of at least `min_entropy` bits, scaled down for values shorter than the
  alphabet they could use (a random 16-character token cannot reach 4.5 bits; see `_entropy_floor`).

The keyword search looks for each keyword's last word in the shared folded text (str.find, no regex), and
the assignment pattern runs only from those places: most outputs mention no keyword and cost a few finds.
The thresholds follow detect-secrets' (base64 4.5, hex 3.0 bits for long strings); the library itself
scans line by line with every plugin and took ~50 ms per 2 KB output, a hundred times the budget.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

from pydantic import Field, field_validator

from guardrails.checks._textnorm import FoldedText, fold
from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix

_VALUE_CHARS = r"[^\s\"'`,;<>(){}\[\]|]"
# Values that are documentation, not credentials: templates, environment lookups, masks, "your key here".
_PLACEHOLDER = re.compile(
    r"""^(?:[$%{<#*]|.*(?:your|example|placeholder|xxxx|here|changeme|change_me|redacted|dummy|sample|
    env\.|environ|getenv|secrets\.|vault|null|none|undefined|\.\.\.|\*\*))""",
    re.IGNORECASE | re.VERBOSE,
)
_CLASSES = (str.islower, str.isupper, str.isdigit)
_CLASS_SIZES = ((str.islower, 26), (str.isupper, 26), (str.isdigit, 10), (lambda c: not c.isalnum(), 16))
_HEX = frozenset("0123456789abcdefABCDEF")
# Identifier punctuation does not make a value look random ("config.db_password" is one class).
_PLAIN_SYMBOLS = frozenset("._-/")


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _entropy_floor(value: str, min_entropy: float) -> float:
    """The bits per character asked of `value`: `min_entropy`, or 80% of what a random value of its length and
    alphabet can reach when that is less (16 random characters carry at most 4 bits each, hex at most 4)."""
    if all(c in _HEX for c in value):
        alphabet = 16
    else:
        alphabet = sum(size for test, size in _CLASS_SIZES if any(test(c) for c in value)) or 2
    return min(min_entropy, 0.8 * math.log2(min(max(len(value), 2), alphabet)))


def _names(words: list[str]) -> str:
    return "|".join(r"[_.\- ]?".join(map(re.escape, w.split())) for w in words)


def _classes(value: str) -> int:
    kinds = sum(any(test(c) for c in value) for test in _CLASSES)
    return kinds + any(not c.isalnum() and c not in _PLAIN_SYMBOLS for c in value)


class SecretEntropyParams(CheckParams):
    keywords: list[str] = Field(
        min_length=1,
        description="Words that name a credential; a space matches `_`, `-`, `.`, a space or nothing (camelCase)",
    )
    bare_keywords: list[str] = Field(
        default_factory=list, description="Keywords whose value follows after a space alone (`Bearer 9f...`)"
    )
    prose_verbs: list[str] = Field(
        default_factory=lambda: ["is", "was"], description="Words that assign in prose: `the token is 9f...`"
    )
    min_length: int = Field(default=16, ge=1, description="Shortest value that counts")
    max_length: int = Field(default=400, ge=1)
    min_classes: int = Field(default=2, ge=1, le=4, description="Lower, upper, digit, symbol: how many must occur")
    min_entropy: float = Field(default=3.5, ge=0, le=8, description="Bits per character (scaled for short values)")
    replacement: str | None = Field(default=None, description="Repair: replace the value with this text")
    fix_safe: bool = True
    max_matches: int = Field(default=50, ge=1)

    @field_validator("keywords", "bare_keywords")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        for kw in value:
            if not kw.strip() or not re.fullmatch(r"[^\W_]+(?: [^\W_]+)*", kw.strip()):
                raise ValueError(f"keyword {kw!r}: use letters and digits, words separated by one space")
        return value


class SecretEntropyCheck(Check):
    """Streaming: a value still being written can only grow; hold back the keyword, separator and value."""

    kind = "secret_entropy"
    Params = SecretEntropyParams
    streaming = True
    lookbehind = 0  # set per instance

    def __init__(self, params: SecretEntropyParams) -> None:
        super().__init__(params)
        self.p = params
        words = sorted({kw.strip().lower() for kw in params.keywords}, key=len, reverse=True)
        bare = sorted({kw.strip().lower() for kw in params.bare_keywords}, key=len, reverse=True)
        # The last word of each keyword, folded, searched in the folded text to find where to look; a value
        # that contains one is a reference to a credential (`settings.API_KEY`), not the credential.
        self.cues = tuple(sorted({fold(w.split()[-1]) for w in words + bare}))
        verbs = "|".join(map(re.escape, params.prose_verbs))
        prose = rf"|\s+(?:{verbs})\s*:?" if verbs else ""
        assigned = rf"""(?P<name>(?i:(?:{_names(words)})))(?![^\W_])
            [*"'`\]]{{0,3}}\s{{0,3}}(?::=|=>|=|:{prose})[*"'`\ \t]{{0,6}}"""
        spaced = rf"(?P<bare>(?i:(?:{_names(bare)})))(?![^\W_])\s{{1,3}}" if bare else "(?P<bare>(?!))"
        self.pattern = re.compile(
            rf"""(?:{assigned}|{spaced})(?P<value>{_VALUE_CHARS}{{{params.min_length},{params.max_length}}})""",
            re.VERBOSE,
        )
        self.longest_name = max(len(w) for w in words + bare) + 8
        self.lookbehind = self.longest_name + 16 + params.max_length

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        folded = doc.view("folded", lambda d: FoldedText.of(d.text))
        text = doc.text
        n = 0
        for lo, hi in self._windows(folded):
            for m in self.pattern.finditer(text, lo, hi):
                start = m.start("name") if m.group("name") is not None else m.start("bare")
                if start > 0 and (text[start - 1].isalnum() and not text[start].isupper()):
                    continue  # inside a longer word ("monkey = ..."), unless camelCase ("myApiKey")
                hit = self._judge(m)
                if hit is None:
                    continue
                n += 1
                if n > self.p.max_matches:
                    return
                if n % 32 == 0:
                    ctx.deadline.check()
                yield hit

    def _windows(self, folded: FoldedText) -> list[tuple[int, int]]:
        """Original-text ranges from a little before each cue to where its value can end."""
        ftext = folded.text
        windows: list[tuple[int, int]] = []
        reach = 16 + self.p.max_length
        for cue in self.cues:
            pos = ftext.find(cue)
            while pos != -1:
                start, end = folded.span(pos, pos + len(cue))
                windows.append((max(0, start - self.longest_name), min(len(folded.original), end + reach)))
                pos = ftext.find(cue, pos + len(cue))
        if len(windows) < 2:
            return windows
        windows.sort()
        merged = [windows[0]]
        for a, b in windows[1:]:
            if a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def _judge(self, m: re.Match[str]) -> Hit | None:
        value = m.group("value")
        start = m.start("value")
        value = value.rstrip(".:*")  # sentence punctuation after the value, not part of it ("!" may be in it)
        if len(value) < self.p.min_length or _PLACEHOLDER.match(value) or len(set(value)) < 4:
            return None
        end = start + len(value)
        if end < len(m.string) and m.string[end] == "(":
            return None  # a function call (`getpass.getpass()`), not a value
        lowered = value.lower()
        if any(cue in lowered for cue in self.cues):
            return None
        if _classes(value) < self.p.min_classes:
            return None
        entropy = _entropy(value)
        if entropy < _entropy_floor(value, self.p.min_entropy):
            return None
        fix = None
        if self.p.replacement is not None:
            fix = Fix(
                title=f"replace the value with {self.p.replacement!r}",
                edits=[Edit(start=start, end=end, replacement=self.p.replacement)],
                safe=self.p.fix_safe,
            )
        name = m.group("name") or m.group("bare")
        # The value is the secret: evidence and message name the keyword and the value's shape, never the value.
        return Hit(
            start,
            end,
            values={"keyword": name, "length": len(value)},
            evidence=Evidence(
                matched=f"<{len(value)} characters>",
                score=round(entropy, 2),
                threshold=round(_entropy_floor(value, self.p.min_entropy), 2),
                details={"keyword": name, "classes": _classes(value)},
            ),
            fix=fix,
        )


CHECK = SecretEntropyCheck
