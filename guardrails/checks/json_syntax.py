"""`json_syntax`: is there JSON, does it parse, where exactly does it break (to the character)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from guardrails.checks._json import JsonExtractParams, json_view
from guardrails.checks.base import Check, Hit, RunContext
from guardrails.document import Document
from guardrails.findings import Evidence


class JsonSyntaxParams(JsonExtractParams):
    issue: Literal["missing", "invalid", "too-deep", "duplicate-key"] = Field(
        description="missing: no JSON where JSON is expected; invalid: a syntax error; too-deep: nesting past "
        "max_depth; duplicate-key: an object repeats a key (json.loads silently keeps the last)"
    )


class JsonSyntaxCheck(Check[JsonSyntaxParams]):
    kind = "json_syntax"

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        issue = self.params.issue
        view = json_view(doc, ctx, self.params)
        text = doc.text
        if issue == "missing":
            # Only when JSON is expected (the rule says so, or the Context carries a schema).
            expected = self.params.expect_json or ctx.context.schema_ is not None
            if expected and not view.present:
                yield Hit(
                    0, len(text), values={"detail": "no JSON object or array"}, evidence=Evidence(matched=text[:80])
                )
            return
        if not view.present:
            return
        if issue == "too-deep":
            if view.too_deep:
                at = view.start
                yield Hit(
                    at,
                    min(at + 1, len(text)),
                    values={"limit": self.params.max_depth},
                    evidence=Evidence(threshold=self.params.max_depth, details={"error": view.error}),
                )
            return
        if issue == "invalid":
            if view.strict or view.too_deep:
                return
            pos = view.start if view.error_pos is None else min(view.error_pos, len(text))
            line, column = doc.line_col(pos)
            error = view.error or "invalid JSON"
            details: dict[str, Any] = {"error": view.error, "repairable": view.ok, "repairs": len(view.repairs)}
            if view.loss is not None:  # the regeneration request names what a repair could only guess
                error = f"{error}; a repair would be a guess: {view.loss}"
                details["repair_loses"] = view.loss
            if view.ambiguity is not None:  # schema-guided repair could not settle it
                error = f"{error}; {view.ambiguity}"
                details["ambiguity"] = view.ambiguity
            yield Hit(
                pos,
                min(pos + 1, len(text)),
                values={"error": error, "line": line, "column": column},
                evidence=Evidence(source="json", details=details),
            )
            return
        if issue == "duplicate-key" and view.strict:
            yield from _duplicate_keys(text, view.start, view.end)


_KEY_AT = '"{}"\\s*:'


def _duplicate_keys(text: str, start: int, end: int) -> Iterator[Hit]:
    """Only run when the rule is on: a second C-speed parse with a hook that sees every key list."""
    dups: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                dups.append(k)
            seen.add(k)
        return dict(pairs)

    try:
        json.loads(text[start:end], object_pairs_hook=hook)
    except (ValueError, RecursionError):
        return
    reported: set[str] = set()
    for key in dups:
        if key in reported:
            continue
        reported.add(key)
        token = json.dumps(key, ensure_ascii=False)[1:-1]
        pattern = re.compile(_KEY_AT.format(re.escape(token)))
        hits = [m for m in pattern.finditer(text, start, end)]
        at = hits[1] if len(hits) > 1 else (hits[0] if hits else None)
        if at is None:
            continue
        yield Hit(at.start(), at.start() + len(token) + 2, values={"key": key}, evidence=Evidence(details={"key": key}))


CHECK = JsonSyntaxCheck
