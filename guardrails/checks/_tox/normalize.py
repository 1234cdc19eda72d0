"""What the toxicity models read: the text layer's `toxicity` profile (see guardrails/text/profiles.py).

Zero-width and other format characters are dropped, compatibility forms (fullwidth, ligatures, math
alphabets) and accents are folded, letters from other scripts that look like Latin ones are folded inside
words that mix scripts or spoof Latin ones (Unicode's confusables), and, with `fold_spelling`, words spelled
out letter by letter are joined and leetspeak inside words is read as letters. Case and punctuation stay:
they carry tone. This module only adapts the view to the dense offset list the scorer slices.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.text import TOXICITY, sources
from guardrails.text import normalize as text_normalize


@dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    source: list[int]
    """source[i] = offset in the original text of normalised character i; source[len(text)] = len(original)."""
    changed: bool

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering normalised [start, end)."""
        if end <= start:
            s = self.source[start]
            return s, s
        return self.source[start], self.source[end - 1] + 1


def normalize(text: str, *, fold_homoglyphs: bool = True, fold_spelling: bool = True) -> Normalized:
    profile = TOXICITY.but(
        f"toxicity:{fold_homoglyphs}:{fold_spelling}",
        confusables=fold_homoglyphs,
        spacing=fold_spelling,
        leet=fold_spelling,
    )
    view = text_normalize(text, profile)
    return Normalized(view.text, sources(view), view.text != text)
