"""Turn a Report's regeneration request into targeted feedback that replaces, never extends, earlier feedback.

Every attempt sends the caller's original messages plus at most two feedback messages: the previous answer
(cut to `max_previous_chars`) and one user message naming what failed, where, and what must change, with the
schema or template excerpt. Each part is capped, so the prompt cannot grow from one attempt to the next
however many attempts run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from guardrails.findings import Action, RegenerationItem, Report
from guardrails.guard.llm import Message


@dataclass(frozen=True, slots=True)
class FeedbackSettings:
    """Caps that keep the feedback prompt bounded. Defaults suit chat models with a few thousand tokens."""

    max_items: int = 8
    max_excerpt_chars: int = 80
    max_instruction_chars: int = 300
    max_schema_chars: int = 2000
    max_template_chars: int = 2000
    max_previous_chars: int = 4000
    include_previous: bool = True


_HEADER = (
    "Your previous answer was rejected by automatic output checks. Write a new, complete answer to the "
    "original request that fixes every problem below and keeps everything else that was correct."
)
_FOOTER = "Reply with the corrected answer only, without commentary about these instructions."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _where(item: RegenerationItem) -> str:
    span = item.span
    if span is None:
        return ""
    parts = []
    if span.pointer is not None:
        parts.append(f"field {span.pointer or '/'}")
    if span.path is not None:
        parts.append(f"element {span.path}")
    if span.line is not None:
        parts.append(f"line {span.line}, column {span.column}")
    return " at " + "; ".join(parts) if parts else ""


def _item_line(n: int, item: RegenerationItem, s: FeedbackSettings) -> str:
    line = f"{n}. [{item.code} {item.rule_id}]{_where(item)}: {_cut(item.message, s.max_instruction_chars)}"
    if item.excerpt:
        line += f"\n   offending text: {json.dumps(_cut(item.excerpt, s.max_excerpt_chars), ensure_ascii=False)}"
    line += f"\n   must change: {_cut(item.instruction, s.max_instruction_chars)}"
    return line


def _items_for(report: Report) -> list[RegenerationItem]:
    """The regeneration request's items, or (for a blocked output, which has none) the blocking findings."""
    if report.regeneration is not None and report.regeneration.reasons:
        return list(report.regeneration.reasons)
    items = []
    for f in report.open_findings:
        if f.action in (Action.BLOCK, Action.REGENERATE, Action.REVIEW):
            items.append(
                RegenerationItem(
                    code=f.code,
                    rule_id=f.rule_id,
                    message=f.message,
                    instruction=f"Produce an answer without this problem: {f.message}",
                    span=f.span,
                )
            )
    return items


def feedback_text(report: Report, settings: FeedbackSettings | None = None) -> str:
    """The user message telling the model what to change, built only from the latest Report."""
    s = settings or FeedbackSettings()
    items = _items_for(report)
    lines = [_HEADER, "", "Problems:"]
    lines += [_item_line(n, item, s) for n, item in enumerate(items[: s.max_items], 1)]
    if len(items) > s.max_items:
        lines.append(f"(and {len(items) - s.max_items} more problems of the same kinds)")
    request = report.regeneration
    if request is not None and request.schema_ is not None:
        schema = json.dumps(request.schema_, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        lines += ["", "The answer must be JSON valid against this JSON Schema:", _cut(schema, s.max_schema_chars)]
    if request is not None and request.template is not None:
        lines += ["", "The answer must fit this HTML template:", _cut(request.template, s.max_template_chars)]
    lines += ["", _FOOTER]
    return "\n".join(lines)


def feedback_messages(
    original: list[Message], previous_output: str, report: Report, settings: FeedbackSettings | None = None
) -> tuple[list[Message], int]:
    """Original messages + (previous answer, feedback); returns the messages and the feedback's size in chars."""
    s = settings or FeedbackSettings()
    extra: list[Message] = []
    if s.include_previous:
        extra.append({"role": "assistant", "content": _cut(previous_output, s.max_previous_chars)})
    extra.append({"role": "user", "content": feedback_text(report, s)})
    return [*original, *extra], sum(len(m["content"]) for m in extra)
