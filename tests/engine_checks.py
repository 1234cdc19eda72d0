"""Check kinds used only by the engine tests, loaded through the `module:Class` kind syntax."""

from __future__ import annotations

import time
from collections.abc import Iterator

from pydantic import Field

from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix, RegenerationItem


class CrashCheck(Check):
    kind = "tests.engine_checks:CrashCheck"

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        raise RuntimeError("boom")


class SleepParams(CheckParams):
    seconds: float = 0.05
    cooperative: bool = False


class SleepCheck(Check):
    kind = "tests.engine_checks:SleepCheck"
    Params = SleepParams

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        assert isinstance(self.params, SleepParams)
        end = time.perf_counter() + self.params.seconds
        while time.perf_counter() < end:
            if self.params.cooperative:
                ctx.deadline.check()
            time.sleep(0.001)
        return iter(())


class WordParams(CheckParams):
    word: str
    replacement: str | None = None
    safe: bool = True
    edit_outside: bool = Field(default=False, description="propose an edit beyond the hit (must be refused)")


class WordCheck(Check):
    """Flags each occurrence of a word; optionally proposes replacing it."""

    kind = "tests.engine_checks:WordCheck"
    Params = WordParams

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        p = self.params
        assert isinstance(p, WordParams)
        start = doc.text.find(p.word)
        while start != -1:
            end = start + len(p.word)
            fix = None
            if p.replacement is not None:
                lo, hi = (0, len(doc.text)) if p.edit_outside else (start, end)
                fix = Fix(title="replace", edits=[Edit(start=lo, end=hi, replacement=p.replacement)], safe=p.safe)
            yield Hit(start, end, evidence=Evidence(score=1.0), fix=fix)
            start = doc.text.find(p.word, end)


class BadSpanCheck(Check):
    kind = "tests.engine_checks:BadSpanCheck"

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        yield Hit(0, len(doc.text) + 5)


class InstructingCheck(Check):
    """Flags the whole text and says, as data, what a regeneration must change."""

    kind = "tests.engine_checks:InstructingCheck"

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        item = RegenerationItem(code="", rule_id="", message="", instruction="Fill the 'price' slot.")
        yield Hit(0, len(doc.text), regeneration=item)
