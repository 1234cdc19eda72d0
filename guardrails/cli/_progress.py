"""Progress bars for long commands: rich's on a terminal (stderr), nothing otherwise.

rich loads only when a bar is shown, so pipes, CI logs and tests pay neither its import nor its output.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Advance(Protocol):
    def __call__(self, n: int = 1) -> None: ...


def _quiet(n: int = 1) -> None:
    return None


def shows_progress() -> bool:
    # A bar is for a person watching: only when stderr is a terminal; OUTGUARD_NO_PROGRESS turns it off.
    if os.environ.get("OUTGUARD_NO_PROGRESS"):
        return False
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


@contextmanager
def progress(description: str, total: int) -> Iterator[Advance]:
    """Yields advance(n): call it as work completes. A bar on a terminal, a no-op elsewhere."""
    if not shows_progress() or total <= 0:
        yield _quiet
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance
