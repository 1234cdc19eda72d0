"""A check that kills the worker process validating it, once: a worker lost mid-batch (OOM killer, a segfault)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document


class KillOnceParams(CheckParams):
    word: str
    marker: str


class KillOnceCheck(Check):
    kind = "tests.batch._checks:KillOnceCheck"
    Params = KillOnceParams

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        p = self.params
        assert isinstance(p, KillOnceParams)
        if p.word in doc.text and not Path(p.marker).exists():
            Path(p.marker).write_text("killed", encoding="utf-8")
            os._exit(9)
        return iter(())
