"""`canary`: a canary string from the context (or the params) appears in the output: a prompt or data leak.

Matching ignores case, accents and zero-width characters (a model, or an attacker, may break a canary
with U+200B), but not spacing inside the canary. Every occurrence is a hit.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from guardrails.checks._textnorm import FoldedText, fold
from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix


class CanaryParams(CheckParams):
    canaries: list[str] = Field(default_factory=list, description="Added to Context.canaries")
    min_length: int = Field(default=6, ge=1, description="Shorter canaries are ignored (they would match by chance)")
    redact: str | None = Field(default=None, description="Repair: replace each occurrence with this text")
    max_matches: int = Field(default=50, ge=1)


class CanaryCheck(Check):
    """Streaming: an occurrence found in a prefix stays; hold back the longest canary's length."""

    kind = "canary"
    Params = CanaryParams
    streaming = True
    lookbehind = 256

    def __init__(self, params: CanaryParams) -> None:
        super().__init__(params)
        self.p = params
        self.fixed = [c for c in params.canaries if len(c) >= params.min_length]

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        canaries = self.fixed + [c for c in ctx.context.canaries if len(c) >= self.p.min_length]
        if not canaries:
            return
        folded = doc.view("folded", lambda d: FoldedText.of(d.text))
        count = 0
        for index, canary in enumerate(dict.fromkeys(canaries)):
            needle = fold(canary)
            if not needle:
                continue
            pos = folded.text.find(needle)
            while pos != -1:
                count += 1
                if count > self.p.max_matches:
                    return
                start, end = folded.span(pos, pos + len(needle))
                fix = None
                if self.p.redact is not None:
                    fix = Fix(
                        title="redact canary",
                        edits=[Edit(start=start, end=end, replacement=self.p.redact)],
                        redacts=True,  # a canary inside another redacted value merges with it (repair.py)
                    )
                # The canary itself is secret: evidence names its index, never its text.
                yield Hit(
                    start,
                    end,
                    values={"canary_index": index, "fingerprint_text": f"canary-{index}"},
                    evidence=Evidence(matched=f"<canary {index}>", details={"canary_index": index}),
                    fix=fix,
                )
                pos = folded.text.find(needle, pos + len(needle))


CHECK = CanaryCheck
