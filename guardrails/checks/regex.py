"""`regex`: flag every match of a pattern (the `regex` module, with a timeout against catastrophic patterns)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import regex
from pydantic import Field, field_validator

from guardrails.checks.base import Check, CheckParams, DeadlineExceeded, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix

_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE, "u": regex.UNICODE}


class RegexParams(CheckParams):
    pattern: str = Field(description="A `regex`-module pattern")
    flags: str = Field(default="", description="Any of i (ignore case), m, s, x")
    group: int | str = Field(default=0, description="Capture group whose span is flagged")
    window: Literal["all", "head", "tail"] = Field(default="all", description="Search all text, or only its head/tail")
    window_chars: int = Field(default=300, ge=1, description="Size of the head/tail window")
    max_matches: int = Field(default=100, ge=1)
    replacement: str | None = Field(default=None, description="When set, each match gets a fix replacing it")
    fix_safe: bool = True

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: str) -> str:
        bad = sorted(set(value) - set(_FLAGS))
        if bad:
            raise ValueError(f"unknown flag(s) {''.join(bad)!r}; use any of {''.join(_FLAGS)}")
        return value


class RegexCheck(Check):
    kind = "regex"
    Params = RegexParams
    streaming = True
    lookbehind = 200

    def __init__(self, params: RegexParams) -> None:
        super().__init__(params)
        self.p = params
        flags = 0
        for f in params.flags:
            flags |= _FLAGS[f]
        try:
            self.compiled = regex.compile(params.pattern, flags)
        except regex.error as exc:
            raise ValueError(f"key 'params.pattern': invalid regular expression: {exc}") from exc

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        text = doc.text
        lo, hi = 0, len(text)
        if self.p.window == "head":
            hi = min(hi, self.p.window_chars)
        elif self.p.window == "tail":
            lo = max(0, hi - self.p.window_chars)
        try:
            matches = self.compiled.finditer(text, lo, hi, timeout=ctx.deadline.remaining())
            for n, m in enumerate(matches):
                if n >= self.p.max_matches:
                    break
                start, end = m.span(self.p.group)
                if start < 0:
                    continue
                fix = None
                if self.p.replacement is not None:
                    fix = Fix(
                        title=f"replace with {self.p.replacement!r}",
                        edits=[Edit(start=start, end=end, replacement=m.expand(self.p.replacement))],
                        safe=self.p.fix_safe,
                    )
                yield Hit(
                    start,
                    end,
                    evidence=Evidence(pattern=self.p.pattern),
                    fix=fix,
                    values={k: v for k, v in m.groupdict().items() if v is not None},
                )
        except TimeoutError as exc:
            raise DeadlineExceeded(f"pattern {self.p.pattern[:60]!r} timed out") from exc


CHECK = RegexCheck
