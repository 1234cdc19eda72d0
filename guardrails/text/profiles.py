"""Profiles: which normalisation steps a check reads its text through, and the views they build.

A profile is data (flags); `normalize(text, profile)` builds its view, `view(doc, profile)` builds it once
per document and shares it between the checks that chose the same profile. Profiles whose per-character
options are the `fold` ones start from the fast `FoldedText` view (and reuse the document's "folded" view,
which the regex anchors and ban lists already share); the others run `chars_step`. Spacing, leetspeak and
confusables are composed on top, in that order, each with an exact offset map.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from guardrails.document import Document
from guardrails.text.fold import FoldedText
from guardrails.text.steps import CharOptions, chars_step, confusables_step, leet_step, skeleton_step, spacing_step
from guardrails.text.view import TextView, compose

# The fold options' flags: the view every ban list and regex anchor already shares as "folded".
_FOLD_FLAGS: tuple[object, ...] = (True, "NFKD", True, True, True, True, False, False, False, False)


@dataclass(frozen=True, slots=True)
class Profile:
    """What a view undoes. `whitespace` (runs of whitespace read as one space) needs the fold options."""

    name: str
    invisible: bool = True
    """Drop zero-width, direction, tag and other format characters (and, outside `fold`, control characters)."""
    form: Literal["NFKC", "NFKD"] | None = "NFKD"
    """Unicode compatibility form: fullwidth letters, ligatures and math alphabets read as plain letters."""
    accents: bool = True
    case: bool = True
    punct: bool = True
    """Curly quotes, dashes and non-breaking spaces read as their ASCII forms."""
    whitespace: bool = True
    confusables: bool = False
    spacing: bool = False
    leet: bool = False
    skeleton: bool = False
    """Letters and digits only, leetspeak read everywhere: for random tokens, never for words."""

    key: str = field(init=False, compare=False, repr=False)
    """The document view key: views are shared by profiles with the same flags, whatever their names."""

    def __post_init__(self) -> None:
        if self.whitespace and not self.uses_fold:
            raise ValueError(f"profile {self.name!r}: `whitespace` needs the fold options (NFKD, case, accents...)")
        flags: tuple[object, ...] = (self.invisible, self.form, self.accents, self.case, self.punct, self.whitespace)
        flags += (self.confusables, self.spacing, self.leet, self.skeleton)
        key = "folded" if flags == _FOLD_FLAGS else "text:" + ",".join(map(str, flags))
        object.__setattr__(self, "key", key)  # computed once: views are looked up per document and check

    @property
    def uses_fold(self) -> bool:
        return (self.invisible, self.form, self.accents, self.case, self.punct) == (True, "NFKD", True, True, True)

    def but(self, name: str, **changes: object) -> Profile:
        return replace(self, name=name, **changes)  # type: ignore[arg-type]


FOLD = Profile("fold")
"""Case, accents, compatibility forms, quotes and dashes, invisible characters, whitespace runs."""
EVASION = Profile("evasion", confusables=True, spacing=True, leet=True)
"""`fold` plus look-alike letters, spelled-out words and leetspeak: for lists of words people try to sneak past."""
TOXICITY = Profile("toxicity", case=False, punct=False, whitespace=False, confusables=True, spacing=True, leet=True)
"""What a classifier should read: case and punctuation kept (they carry tone), every evasion undone."""
PII = Profile("pii", form="NFKC", accents=False, case=False, punct=False, whitespace=False, confusables=True)
"""What PII patterns read: fullwidth at signs and look-alike letters undone, nothing else changed."""
SKELETON = Profile("skeleton", skeleton=True)
"""Canaries and other random tokens: spaced ("C A N A R Y"), punctuated or leet-spelled copies match too."""
FACTS = Profile("facts", invisible=False, punct=False, whitespace=False)
"""Case and accents, for comparing stated values and names with known facts."""


def _base(text: str, profile: Profile) -> TextView:
    if profile.uses_fold:
        folded = FoldedText.of(text)
        if profile.whitespace:
            return folded
        # Without whitespace runs folded: the per-character steps on their own.
    opts = CharOptions(profile.invisible, profile.form, profile.accents, profile.case, profile.punct)
    return chars_step(text, opts)


def _extend(base: TextView, profile: Profile) -> TextView:
    out = base
    # Spacing first: joining "a \u0430 b" (one letter Cyrillic) makes one mixed word. Leet before look-alikes:
    # reading "a1" as "ai" adds Latin letters, which the look-alike step counts. In this order a second pass
    # changes nothing (tests/text/test_views.py).
    if profile.spacing:
        out = compose(out, spacing_step(out.text))
    if profile.leet:
        out = compose(out, leet_step(out.text))
    if profile.confusables:
        out = compose(out, confusables_step(out.text, lower=profile.case))
    if profile.skeleton:
        out = compose(out, skeleton_step(out.text))
    return out


@lru_cache(maxsize=64)
def _fold_part(profile: Profile) -> Profile:
    return replace(profile, name=f"{profile.name}:base", confusables=False, spacing=False, leet=False, skeleton=False)


def normalize(text: str, profile: Profile = FOLD) -> TextView:
    """The view of `text` under `profile`."""
    return _extend(_base(text, profile), profile)


def view(doc: Document, profile: Profile = FOLD) -> TextView:
    """The view of a document's text under `profile`, built once per document and profile."""
    if not (profile.confusables or profile.spacing or profile.leet or profile.skeleton):
        return doc.view(profile.key, lambda d: _base(d.text, profile))
    base = _fold_part(profile)
    return doc.view(profile.key, lambda d: _extend(view(d, base), profile))
