"""`secret_entropy`: a credential assigned to a keyword (`api_key = "9f3k..."`, `password: Summer2024!`).

Provider formats (AWS, GitHub, Stripe...) have fixed prefixes and are `regex` rules; a generic token has
none, so what marks it is its context and its shape. A hit needs all of:

- a keyword ending an identifier (`api key` matches `api_key`, `API-KEY`, `apiKey`, `OPENAI_API_KEY`);
- an assignment right after it (`=`, `:`, `:=`, `=>`, or ` is `), markdown emphasis and quotes allowed;
- a value of at least `min_length` characters, with no whitespace, that is no placeholder (`<...>`,
  `${VAR}`, `****`, `your_key_here`, a function call) and mixes at least `min_classes` character classes;
- a Shannon entropy per character of at least `min_entropy` bits, scaled down for values shorter than the
  alphabet they could use (a random 16-character token cannot reach 4.5 bits; see `_entropy_floor`).

Each keyword's last word (its cue) is looked up in the folded text by the policy's shared Aho-Corasick pass
(with the ban lists and regex anchors), and the assignment is matched only where a cue ends: most outputs
mention no keyword and cost nothing beyond that pass.
The thresholds follow detect-secrets' (base64 4.5, hex 3.0 bits for long strings); the library itself
scans line by line with every plugin and took ~50 ms per 2 KB output, a hundred times the budget.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

import ahocorasick
from pydantic import Field, field_validator

from guardrails.checks._foldscan import ScanSource, ScanUser, share_among
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


_IDENT_BEFORE = re.compile(r"[A-Za-z0-9_.\-]+$")


def _compile(pattern: str | None, key: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"key 'params.{key}': invalid regular expression: {exc}") from exc


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
    max_length: int = Field(default=400, ge=1, description="Longest value that counts")
    min_classes: int = Field(default=2, ge=1, le=4, description="Lower, upper, digit, symbol: how many must occur")
    min_entropy: float = Field(default=3.5, ge=0, le=8, description="Bits per character (scaled for short values)")
    skip_values: str | None = Field(
        default=None, description="Regex: values it matches (from their start) are left to other rules (provider keys)"
    )
    skip_names: str | None = Field(
        default=None, description="Regex: identifiers it finds (`aws_secret_access_key`) are left to other rules"
    )
    replacement: str | None = Field(default=None, description="Repair: replace the value with this text")
    fix_safe: bool = Field(default=True, description="Mark the replacement fix safe (applied without allow_unsafe)")
    max_matches: int = Field(default=50, ge=1, description="Stop after this many hits in one output")

    @field_validator("keywords", "bare_keywords")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        for kw in value:
            if not kw.strip() or not re.fullmatch(r"[^\W_]+(?: [^\W_]+)*", kw.strip()):
                raise ValueError(f"keyword {kw!r}: use letters and digits, words separated by one space")
        return value


class SecretEntropyCheck(Check[SecretEntropyParams], ScanUser, ScanSource):
    """Streaming: a value still being written can only grow; hold back the keyword, separator and value."""

    kind = "secret_entropy"
    streaming = True
    lookbehind = 0  # set per instance

    def __init__(self, params: SecretEntropyParams) -> None:
        super().__init__(params)
        words = sorted({kw.strip().lower() for kw in params.keywords}, key=len, reverse=True)
        bare = sorted({kw.strip().lower() for kw in params.bare_keywords}, key=len, reverse=True)
        # The last word of each keyword, folded, searched in the folded text to find where to look; a value
        # that contains one is a reference to a credential (`settings.API_KEY`), not the credential.
        self.cues = tuple(sorted({fold(w.split()[-1]) for w in words + bare}))
        # Cue lookups ride on the policy's shared pass over the folded text (ban lists, regex anchors).
        self._keys = {cue: len(cue) for cue in self.cues}
        self.automaton = ahocorasick.Automaton()
        for cue, length in self._keys.items():
            self.automaton.add_word(cue, length)
        self.automaton.make_automaton()
        verbs = "|".join(map(re.escape, params.prose_verbs))
        prose = rf"|\s+(?:{verbs})\s*:?" if verbs else ""
        value = rf"(?P<value>{_VALUE_CHARS}{{{params.min_length},{params.max_length}}})"
        # Each cue occurrence ends a candidate keyword: the keyword is looked for ending there (a short
        # backwards search), the assignment and value matched from there. A cue in prose ("key features")
        # fails the assignment at its first character, so most cost one match attempt.
        self._name = re.compile(rf"(?i:{_names(words)})$") if words else None
        self._bare_name = re.compile(rf"(?i:{_names(bare)})$") if bare else None
        self._assigned = re.compile(
            rf"""(?![^\W_])[*"'`\]]{{0,3}}\s{{0,3}}(?::=|=>|=|:{prose})[*"'`\ \t]{{0,6}}{value}""", re.VERBOSE
        )
        self._spaced = re.compile(rf"(?![^\W_])\s{{1,3}}{value}")
        # Another rule that redacts the same value would make two overlapping fixes (the stream validator can
        # apply only one): values and names that a provider rule owns are left to it.
        self._skip_values = _compile(params.skip_values, "skip_values")
        self._skip_names = _compile(params.skip_names, "skip_names")
        self.longest_name = max(len(w) for w in words + bare) + 8
        # The value is one whitespace-free token (however long): hold back the name and separator before it.
        self.lookbehind = self.longest_name + 16 + params.min_length
        self.boundary = "token"

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        folded = doc.view("folded", lambda d: FoldedText.of(d.text))
        text = doc.text
        n = 0
        last_end = -1
        for cue_end in self._cue_ends(doc, folded):
            hit = self._at(text, cue_end)
            if hit is None or hit.start < last_end:
                continue
            last_end = hit.end
            n += 1
            if n > self.params.max_matches:
                return
            if n % 32 == 0:
                ctx.deadline.check()
            yield hit

    def folded_keys(self) -> Mapping[str, int]:
        return self._keys

    def scan_users(self) -> Sequence[ScanUser]:
        return (self,)

    def bind(self, siblings: Sequence[Check]) -> None:
        share_among(siblings)

    def _cue_ends(self, doc: Document, folded: FoldedText) -> list[int]:
        """Original-text offsets where a cue word ends, in order."""
        shared = self.shared
        raw = shared[0].hits(doc, shared[1]) if shared is not None else self.automaton.iter(folded.text)
        return sorted({folded.span(end_idx - length + 1, end_idx + 1)[1] for end_idx, length in raw})

    def _at(self, text: str, end: int) -> Hit | None:
        """The hit whose keyword ends at `end`, if the text there assigns a value to a keyword."""
        lo = max(0, end - self.longest_name)
        for name_re, tail_re in ((self._name, self._assigned), (self._bare_name, self._spaced)):
            if name_re is None:
                continue
            tail = tail_re.match(text, end)
            if tail is None:
                continue
            name = name_re.search(text, lo, end)
            if name is None:
                continue
            start = name.start()
            if start > 0 and text[start - 1].isalnum() and not text[start].isupper():
                continue  # inside a longer word ("monkey = ..."), unless camelCase ("myApiKey")
            if self._skip_names is not None:
                ident = _IDENT_BEFORE.search(text, max(0, start - 40), start)
                if self._skip_names.search(text[ident.start() if ident else start : end]):
                    continue
            if self._skip_values is not None and self._skip_values.match(tail.group("value")):
                continue
            return self._judge(tail, name.group())
        return None

    def _judge(self, m: re.Match[str], name: str) -> Hit | None:
        value = m.group("value")
        start = m.start("value")
        value = value.rstrip(".:*")  # sentence punctuation after the value, not part of it ("!" may be in it)
        if len(value) < self.params.min_length or _PLACEHOLDER.match(value) or len(set(value)) < 4:
            return None
        end = start + len(value)
        if end < len(m.string) and m.string[end] == "(":
            return None  # a function call (`getpass.getpass()`), not a value
        lowered = value.lower()
        if any(cue in lowered for cue in self.cues):
            return None
        if _classes(value) < self.params.min_classes:
            return None
        entropy = _entropy(value)
        if entropy < _entropy_floor(value, self.params.min_entropy):
            return None
        fix = None
        if self.params.replacement is not None:
            fix = Fix(
                title=f"replace the value with {self.params.replacement!r}",
                edits=[Edit(start=start, end=end, replacement=self.params.replacement)],
                safe=self.params.fix_safe,
            )
        # The value is the secret: evidence and message name the keyword and the value's shape, never the value.
        return Hit(
            start,
            end,
            values={"keyword": name, "length": len(value)},
            evidence=Evidence(
                matched=f"<{len(value)} characters>",
                score=round(entropy, 2),
                threshold=round(_entropy_floor(value, self.params.min_entropy), 2),
                details={"keyword": name, "classes": _classes(value)},
            ),
            fix=fix,
        )


CHECK = SecretEntropyCheck
