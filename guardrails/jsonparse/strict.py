"""Strict RFC 8259 parsing on CPython's C decoder, with NaN/Infinity rejected (json.loads accepts them)."""

from __future__ import annotations

import json
from typing import Any

from guardrails.errors import OutguardError


class NonFiniteNumber(OutguardError, ValueError):
    """NaN, Infinity or -Infinity: accepted by Python's json module, but not JSON."""


def _reject_constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not a valid JSON number")


DECODER = json.JSONDecoder(parse_constant=_reject_constant)
WHITESPACE = " \t\n\r"


def loads(text: str) -> Any:
    """Parse a whole text as one JSON value; raises JSONDecodeError, NonFiniteNumber or RecursionError."""
    return DECODER.decode(text)


def raw_decode(text: str, start: int) -> tuple[Any, int]:
    """Parse one JSON value starting exactly at `start`; returns (value, end offset)."""
    return DECODER.raw_decode(text, start)


def skip_ws(text: str, pos: int, end: int | None = None) -> int:
    n = len(text) if end is None else end
    while pos < n and text[pos] in WHITESPACE:
        pos += 1
    return pos
