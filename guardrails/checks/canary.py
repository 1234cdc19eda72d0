"""`canary`: a canary string from the context (or the params) appears in the output: a prompt or data leak.

Matching reads the text through the text layer twice: the `fold` view (case, accents, compatibility forms,
zero-width characters) finds the canary as written, and the `skeleton` view (look-alike letters folded,
letters and digits only, leetspeak read as letters) finds copies an attacker spaced out, punctuated or
spelled ("C A N A R Y", "c4n4ry", a Cyrillic "\u0430"). A canary is a random token, so its skeleton does not
occur by chance. Every occurrence is a hit.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix
from guardrails.text import FOLD, SKELETON, TextView, normalize, view


class CanaryParams(CheckParams):
    canaries: list[str] = Field(default_factory=list, description="Added to Context.canaries")
    min_length: int = Field(default=6, ge=1, description="Shorter canaries are ignored (they would match by chance)")
    redact: str | None = Field(default=None, description="Repair: replace each occurrence with this text")
    max_matches: int = Field(default=50, ge=1, description="Stop after this many hits in one output")
    skeleton: bool = Field(
        default=True, description="Also find copies spaced out, punctuated or leet-spelled (the `skeleton` profile)"
    )


def _find(v: TextView, needle: str) -> Iterator[tuple[int, int]]:
    pos = v.text.find(needle)
    while pos != -1:
        yield v.span(pos, pos + len(needle))
        pos = v.text.find(needle, pos + len(needle))


class CanaryCheck(Check[CanaryParams]):
    """Streaming: an occurrence found in a prefix stays; hold back the longest canary's length."""

    kind = "canary"
    streaming = True
    lookbehind = 256

    def __init__(self, params: CanaryParams) -> None:
        super().__init__(params)
        self.fixed = [c for c in params.canaries if len(c) >= params.min_length]

    def stream_lookbehind(self, context: Context) -> int | None:
        return (
            self.lookbehind if self.fixed or any(len(c) >= self.params.min_length for c in context.canaries) else None
        )

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        canaries = self.fixed + [c for c in ctx.context.canaries if len(c) >= self.params.min_length]
        if not canaries:
            return
        count = 0
        for index, canary in enumerate(dict.fromkeys(canaries)):
            for start, end in self._occurrences(doc, canary):
                count += 1
                if count > self.params.max_matches:
                    return
                yield self._hit(index, start, end)

    def _occurrences(self, doc: Document, canary: str) -> list[tuple[int, int]]:
        folded = view(doc, FOLD)
        needle = normalize(canary, FOLD).text
        found = list(_find(folded, needle)) if needle else []
        skeleton = normalize(canary, SKELETON).text if self.params.skeleton else ""
        if len(skeleton) >= self.params.min_length:
            # Copies the fold view missed: those that overlap none it found.
            more = _find(view(doc, SKELETON), skeleton)
            found.extend(m for m in more if not any(m[0] < e and s < m[1] for s, e in found))
            found.sort()
        return found

    def _hit(self, index: int, start: int, end: int) -> Hit:
        fix = None
        if self.params.redact is not None:
            fix = Fix(
                title="redact canary",
                edits=[Edit(start=start, end=end, replacement=self.params.redact)],
                redacts=True,  # a canary inside another redacted value merges with it (repair.py)
            )
        # The canary itself is secret: evidence names its index, never its text.
        return Hit(
            start,
            end,
            values={"canary_index": index},
            fingerprint_key=f"canary-{index}",
            evidence=Evidence(matched=f"<canary {index}>", details={"canary_index": index}),
            fix=fix,
        )


CHECK = CanaryCheck
