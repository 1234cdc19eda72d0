"""A check that kills the process running it, once: the test stand-in for an actor or executor that dies
mid-batch (out of memory, a node lost). The first process to meet `word` writes the marker and SIGKILLs itself;
the retried batch finds the marker and passes."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from pathlib import Path

from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.document import Document


class KillOnceParams(CheckParams):
    marker: str
    word: str


class KillOnce(Check):
    kind = "kill_once"
    Params = KillOnceParams

    def run(self, doc: Document, ctx: RunContext) -> Iterable[Hit]:
        params = self.params
        assert isinstance(params, KillOnceParams)
        if params.word in doc.text:
            marker = Path(params.marker)
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return ()
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
        return ()
