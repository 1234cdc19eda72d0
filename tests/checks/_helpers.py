"""Run one check kind over a text the way the engine does, for check unit tests."""

from __future__ import annotations

from typing import Any

from guardrails.checks.base import Check, Deadline, RunContext, check_class, iter_hits
from guardrails.context import Context
from guardrails.document import Document


def build(kind: str, **params: Any) -> Check:
    cls = check_class(kind)
    return cls(cls.Params.model_validate(params))


def hits(check: Check, text: str, context: dict[str, Any] | None = None, deadline: float | None = None) -> list[Any]:
    ctx = RunContext(Context.coerce(context), Deadline(deadline))
    return list(iter_hits(check, Document(text), ctx))


def spans(check: Check, text: str, context: dict[str, Any] | None = None) -> list[str]:
    return [text[h.start : h.end] for h in hits(check, text, context)]
