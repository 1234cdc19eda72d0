"""`json_repair`: one kind of JSON damage (trailing comma, single quotes, truncation...) and its fix.

The tolerant parser (guardrails.jsonparse) finds every repair in one pass over the shared JSON view;
each rule of this kind reports the repairs of its `issue`, one finding per occurrence, each with a Fix
whose edits lie inside the finding. Valid JSON has no repairs, so it is never changed, and every fix
was checked to yield valid JSON together with the others before it is offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import Field

from guardrails.checks._json import JsonExtractParams, json_view
from guardrails.checks.base import Check, Hit, RunContext
from guardrails.context import Context
from guardrails.document import Document
from guardrails.findings import Edit, Evidence, Fix
from guardrails.jsonparse.tolerant import Issue, Repair
from guardrails.jsonparse.view import JsonView


class JsonRepairParams(JsonExtractParams):
    issue: Issue = Field(description="Which kind of damage this rule reports and fixes")
    max_hits: int = Field(default=20, ge=1, description="Occurrences reported one by one; the rest share one finding")
    fix_safe: bool | None = Field(
        default=None, description="Override the fix's safety (default: decided per repair, see the rule description)"
    )


class JsonRepairCheck(Check[JsonRepairParams]):
    kind = "json_repair"

    def regeneration_extras(self, context: Context | None = None) -> dict[str, Any]:
        # Damage the schema could not settle (schema-guided repair): the request carries the schema, so the
        # model sees what the ambiguous reading had to satisfy.
        schema = context.schema_ if context is not None else None
        return {"schema": schema} if isinstance(schema, dict) else {}

    def run(self, doc: Document, ctx: RunContext) -> Iterable[Hit]:
        view = json_view(doc, ctx, self.params)
        if not view.repairs:
            # Not a generator function: nearly every output has no repairs, and seventeen rules of this kind
            # ask on each one; an empty tuple costs less to make and to drain than a generator.
            return ()
        return self._hits(doc, view)

    def _hits(self, doc: Document, view: JsonView) -> Iterator[Hit]:
        mine = [r for r in view.repairs if r.issue == self.params.issue]
        head, rest = mine[: self.params.max_hits], mine[self.params.max_hits :]
        if rest:  # keep the report readable: the last finding carries every remaining repair
            head, rest = mine[: self.params.max_hits - 1], mine[self.params.max_hits - 1 :]
        for r in head:
            yield self._hit(doc, [r], r.note)
        if rest:
            yield self._hit(doc, rest, f"{rest[0].note}, and {len(rest) - 1} more like it")

    def _hit(self, doc: Document, repairs: list[Repair], note: str) -> Hit:
        start = min(r.start for r in repairs)
        end = max(r.end for r in repairs)
        safe = all(r.safe for r in repairs) if self.params.fix_safe is None else self.params.fix_safe
        edits = [Edit(start=e.start, end=e.end, replacement=e.replacement) for r in repairs for e in r.edits]
        return Hit(
            start,
            end,
            values={"note": note, "count": len(repairs)},
            evidence=Evidence(
                matched=doc.text[start:end][:120],
                details={"issue": self.params.issue, "occurrences": len(repairs)},
            ),
            fix=Fix(title=note, edits=edits, safe=safe),
        )


CHECK = JsonRepairCheck
