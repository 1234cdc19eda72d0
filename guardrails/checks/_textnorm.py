"""The `fold` view under the names the checks first used; it lives in the text layer (`guardrails.text`).

Kept so that modules written against it (regex anchors, secret_entropy) keep importing; new code imports
`guardrails.text`.
"""

from __future__ import annotations

from guardrails.text.fold import FoldedText, at_word_boundaries, fold, fold_char, is_word_char

__all__ = ["FoldedText", "at_word_boundaries", "fold", "fold_char", "is_word_char"]
