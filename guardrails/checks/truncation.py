"""`truncation`: an output cut off mid-sentence (a token limit, a dropped stream).

Signals, judged on the end of the text: an unclosed code fence; a last prose line that ends without
closing punctuation, on a word that cannot end a sentence ("the", "and", "of", a comma or colon) or simply
without punctuation after at least `min_words` words. Lines that are complete without punctuation (list
items, headings, table rows, code, URLs, sign-offs) do not count. The span is the unfinished tail: from
the end of the last complete sentence to the end of the text. The fix (unsafe: it drops content) removes
that tail.

Not streaming: every prefix of an output looks cut off.
"""

from __future__ import annotations

from collections.abc import Iterator

import regex
from pydantic import Field

from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix

_CLOSERS = tuple(".!?\u2026\u3002\uff01\uff1f:;)]}\"'`*_\u201d\u2019>|~")
_DANGLING_WORDS = (
    "a an the and or but of to in on at for with by from as that which who whose than if because while "
    "is are was were be been will would can could should may might must has have had not no your my our their "
    "its this these those such into over under between about like including e.g i.e"
)
_DANGLING = frozenset(_DANGLING_WORDS.split())
_SENTENCE_END = regex.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*(?=\s|$)")
# A line complete without closing punctuation: how it starts (a list item, heading, table row, quote, fence, link,
# a short capitalised line) or how it ends (a link, a symbol). The end is searched only in the line's last run of
# non-space characters, found from the end: searched over a whole line, the pattern was tried at every character
# (~30 us on a 2 KB line, the most of this check under `default`).
_LINE_START = regex.compile(r"\s*(?:[-*+\u2022]\s|\d+[.)]\s|#|\||>|```|https?://|[A-Z][\w .'-]{0,40}$)")
_LINE_END = regex.compile(r"https?://\S+\s*$|[\p{So}\p{Sk}]\s*$")
_LAST_SPACE = regex.compile(r"(?r)\s")


def _complete_line(line: str) -> bool:
    """`line` (no trailing whitespace) reads as complete without punctuation."""
    if _LINE_START.match(line):
        return True
    space = _LAST_SPACE.search(line)
    return _LINE_END.search(line, space.end() if space else 0) is not None


_NON_WORD_EDGE = "\"'`*_()[]{}<>,;:!?-\u201c\u201d\u2018\u2019"


class TruncationParams(CheckParams):
    min_chars: int = Field(default=40, ge=0, description="Shorter outputs are not judged")
    min_words: int = Field(default=6, ge=1, description="Words the last line needs to be judged without punctuation")
    fix: bool = Field(default=True, description="Offer the unsafe fix that drops the unfinished tail")
    skip_structured: bool = Field(
        default=True, description="Skip outputs that start as JSON or markup: the JSON and HTML checks judge those"
    )


class TruncationCheck(Check[TruncationParams]):
    kind = "truncation"
    streaming = False

    def _reason(self, text: str) -> str | None:
        stripped = text.rstrip()
        if text.count("```") % 2 == 1:
            return "unclosed code block"
        # Only the end matters; a 1 MB single-line output must not cost a scan of all of it.
        last_line = stripped[-2000:].rsplit("\n", 1)[-1]
        if stripped.endswith(",") or stripped.endswith(" -"):
            return "ends on a comma"
        tokens = last_line.split()
        last_word = tokens[-1].lower().strip(_NON_WORD_EDGE) if tokens else ""
        if stripped.endswith(_CLOSERS):
            return None
        if last_word in _DANGLING:
            return f"ends on {last_word!r}"
        if _complete_line(last_line):
            return None
        if len(tokens) >= self.params.min_words:
            return "last sentence has no closing punctuation"
        return None

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        text = doc.text
        stripped = text.rstrip()
        if len(stripped) < self.params.min_chars:
            return
        if self.params.skip_structured and stripped.lstrip()[:1] in ("{", "[", "<"):
            return
        reason = self._reason(text)
        if reason is None:
            return
        # The unfinished tail starts after the last sentence end (or the last line break, or the fence).
        tail_from = max(0, len(stripped) - 4000)
        start = 0
        if reason == "unclosed code block":
            start = stripped.rfind("```")
        else:
            for m in _SENTENCE_END.finditer(stripped, tail_from):
                start = m.end()
            start = max(start, stripped.rfind("\n") + 1)
            while start < len(stripped) and stripped[start].isspace():
                start += 1
        end = len(stripped)
        fix = None
        if self.params.fix and start > 0:
            fix = Fix(
                title="drop the unfinished tail", edits=[Edit(start=start, end=len(text), replacement="")], safe=False
            )
        yield Hit(
            start,
            len(text) if fix else end,
            values={"reason": reason},
            evidence=Evidence(details={"reason": reason}),
            fix=fix,
        )


CHECK = TruncationCheck
