"""Colour for people at a terminal, nothing for pipes and files: NO_COLOR and FORCE_COLOR respected.

Plain ANSI escapes: a few styles on text the CLI builds itself need no library and cost no import.
"""

from __future__ import annotations

import os
from typing import TextIO

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}


def wants_colour(stream: TextIO) -> bool:
    """https://no-color.org: a non-empty NO_COLOR turns colour off; a non-empty FORCE_COLOR turns it on
    even for a pipe (CI logs that render ANSI); otherwise colour only a terminal that is not `dumb`."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Style:
    """Wraps text in ANSI styles when enabled; the identity when not, so callers never branch."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles or not text:
            return text
        return f"\x1b[{';'.join(_CODES[s] for s in styles)}m{text}\x1b[0m"


PLAIN = Style(False)

# Verdicts and actions share these colours: red stops the output, yellow asks a person or the model.
TONE = {
    "pass": ("green",),
    "repaired": ("cyan",),
    "warn": ("yellow",),
    "repair": ("cyan",),
    "review": ("yellow", "bold"),
    "regenerate": ("magenta", "bold"),
    "block": ("red", "bold"),
}
