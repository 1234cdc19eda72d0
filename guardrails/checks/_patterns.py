"""Patterns a check compiles while its policy compiles, through the store the rules layer installs.

`guardrails.rules.patterns` keeps compiled patterns on disk (checksummed, beside the rules cache) and sets
`store` here for the length of a policy's compile; checks sit below the rules layer, so they ask here. Without a
store (outside a compile, the cache off) these are `re.compile` and `build()`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Store(Protocol):
    def re_compile(self, pattern: str, flags: int) -> re.Pattern[str]: ...

    def derived(self, what: str, pattern: str, flags: int, build: Callable[[], T]) -> T: ...


store: Store | None = None


def re_compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile(pattern, flags)`, from the store when one is installed."""
    current = store
    return re.compile(pattern, flags) if current is None else current.re_compile(pattern, flags)


def derived(what: str, pattern: str, flags: int, build: Callable[[], T]) -> T:
    """`build()`, a plain value read from a pattern by parsing it, from the store when one is installed."""
    current = store
    return build() if current is None else current.derived(what, pattern, flags, build)
