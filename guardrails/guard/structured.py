"""Structured outputs and tool calls, checked like any output.

`response_format` in the call's parameters becomes the schema the JSON checks use (`json_schema`: its schema;
`json_object`: any JSON object), unless the caller's Context already names one. Each tool call's `arguments` is
validated against its tool's `parameters` schema (the caller's Context otherwise, so PII, secrets and canaries
are checked there too; broken arguments get schema-guided repair, see `repair_arguments`): a repaired call
carries the repaired arguments, a failing one asks for a regeneration
whose feedback names the tool, the call and the JSON pointer. A legacy `function_call` (the deprecated
`functions` parameter) is checked the same way against its function's `parameters`; a `custom` tool's call
(free-text `input`, no schema) is checked as text by the policy, like any output.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from guardrails.checks._json.salvage import RepairResult, repair
from guardrails.context import Context
from guardrails.findings import Report, Verdict
from guardrails.guard.feedback import FeedbackSettings, feedback_messages, feedback_text
from guardrails.guard.llm import LLMResponse, Message

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


class ToolCallCheck(BaseModel):
    """One tool call of an answer and what the engine decided about its arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int
    id: str
    name: str
    report: Report | None = None
    """None when the call names a tool the request did not offer (always a regeneration)."""

    @property
    def verdict(self) -> Verdict:
        return Verdict.REGENERATE if self.report is None else self.report.verdict


def output_context(ctx: Context, params: dict[str, Any]) -> Context:
    """`ctx` with the schema `response_format` asks for, when the caller's context has none."""
    fmt = params.get("response_format")
    if ctx.schema_ is not None or not isinstance(fmt, dict):
        return ctx
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if isinstance(schema, dict):
            return ctx.model_copy(update={"schema_": schema})
    elif fmt.get("type") == "json_object":
        return ctx.model_copy(update={"schema_": _ANY_OBJECT})
    return ctx


def tool_schemas(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each offered function's `parameters` schema by name (a function without one takes any object): the
    `tools` of type function, and the legacy `functions` (a name in both: the tool's)."""
    out: dict[str, dict[str, Any]] = {}
    functions = params.get("functions")
    tools = params.get("tools")
    fns = [t.get("function") if isinstance(t, dict) else None for t in tools] if isinstance(tools, list) else []
    for fn in [*(functions if isinstance(functions, list) else []), *fns]:
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            schema = fn.get("parameters")
            out[fn["name"]] = schema if isinstance(schema, dict) else _ANY_OBJECT
    return out


def custom_tools(params: dict[str, Any]) -> set[str]:
    """The names of the offered `custom` tools (their calls carry free text, checked as text)."""
    tools = params.get("tools")
    names = set()
    for tool in tools if isinstance(tools, list) else []:
        custom = tool.get("custom") if isinstance(tool, dict) and tool.get("type") == "custom" else None
        if isinstance(custom, dict) and isinstance(custom.get("name"), str):
            names.add(custom["name"])
    return names


def answer_calls(response: LLMResponse) -> list[dict[str, Any]]:
    """The calls of an answer to check: its tool calls, or its legacy `function_call` as one call (no id)."""
    if response.tool_calls:
        return response.tool_calls
    legacy = response.function_call
    return [{"id": "", "type": "function", "function": legacy}] if legacy is not None else []


def is_custom(call: dict[str, Any]) -> bool:
    return call.get("type") == "custom"


def call_parts(call: dict[str, Any]) -> tuple[str, str, str]:
    """A call's id, tool name and arguments text (a custom tool's: its `input`; empty strings where the provider
    left them out)."""
    if is_custom(call):
        custom = call.get("custom")
        custom = custom if isinstance(custom, dict) else {}
        name, args, call_id = custom.get("name"), custom.get("input"), call.get("id")
    else:
        fn = call.get("function")
        fn = fn if isinstance(fn, dict) else {}
        name, args, call_id = fn.get("name"), fn.get("arguments"), call.get("id")
    return (
        call_id if isinstance(call_id, str) else "",
        name if isinstance(name, str) else "",
        args if isinstance(args, str) else "",
    )


def repair_arguments(call: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> RepairResult | None:
    """A tool call's arguments through schema-guided repair with its tool's `parameters` schema (see
    `guardrails.checks._json.salvage.repair`); None when the call names a tool that was not offered.

    The engine path (`Engine.validate` with the schema as `Context.schema`) ranks the same candidates; this
    is for callers that want the value, the edits and what an unsafe repair would drop without a Report."""
    _, name, args = call_parts(call)
    schema = schemas.get(name)
    if schema is None:
        return None
    return repair(args, schema)


_DELIVERED = ("role", "content", "refusal", "annotations", "tool_calls", "function_call")
"""The message keys delivered. Any other is text nobody checked: `audio` (its transcript; the sidecar refuses audio
output), a vendor's `reasoning_content`, keys the API adds later."""


def delivered_message(response: LLMResponse, text: str, checks: list[ToolCallCheck]) -> dict[str, Any] | None:
    """The assistant message to deliver when it is more than its text: the provider's, with the checked content
    (a declared refusal: content null and the checked `refusal`), each call's checked (repaired) arguments or
    custom input, the legacy `function_call` likewise; `annotations` only while the content is the provider's own
    text (their offsets index it). None when the answer is plain text."""
    source = response.message
    message = {k: v for k, v in (source or {}).items() if k in _DELIVERED}
    if all(not v for k, v in message.items() if k not in ("role", "content")):
        return None
    if response.refusal is not None:
        message["content"], message["refusal"] = None, text
    else:
        message["content"] = text or (None if checks else "")
        message.pop("refusal", None)  # beside content it is text nobody checked (a refusal alone is the answer)
        if text != response.text:
            message.pop("annotations", None)
    checked = [_checked_call(call, check) for call, check in zip(answer_calls(response), checks, strict=True)]
    if response.tool_calls:
        message["tool_calls"] = checked
    elif checked:
        message["function_call"] = checked[0]["function"]
    return message


def _checked_call(call: dict[str, Any], check: ToolCallCheck) -> dict[str, Any]:
    """The call as delivered: its (repaired) arguments, or a custom tool's checked input."""
    key, field = ("custom", "input") if is_custom(call) else ("function", "arguments")
    part = dict(call.get(key) or {})
    if check.report is not None:
        part[field] = check.report.output
    return {**call, key: part}


def _pointer(report: Report) -> str:
    for f in report.open_findings:
        if f.span is not None and f.span.pointer is not None:
            return f.span.pointer or "/"
    return ""


def tool_feedback(checks: list[ToolCallCheck], settings: FeedbackSettings) -> str:
    """One line per failing call: the tool, the call id and position, and each problem with its JSON pointer."""
    lines = []
    for c in checks:
        if not c.verdict.needs_action or c.verdict is Verdict.REVIEW:
            continue
        head = f"Tool call #{c.index + 1} (id {c.id or '?'}) to `{c.name}`"
        if c.report is None:
            lines.append(f"{head}: no such tool was offered; call one of the tools given, or answer in text.")
            continue
        problems = feedback_text(c.report, settings).split("\nProblems:\n", 1)[-1]
        problems = problems.rsplit("\n\n", 1)[0]  # the shared footer is said once, below
        lines.append(f"{head} has invalid arguments{' at ' + _pointer(c.report) if _pointer(c.report) else ''}:")
        lines.append(problems)
    return "\n".join(lines)


def regeneration_messages(
    original: list[Message],
    response: LLMResponse,
    report: Report,
    checks: list[ToolCallCheck],
    settings: FeedbackSettings,
) -> tuple[list[Message], int]:
    """Feedback for the next attempt: the content's, plus what was wrong with each failing tool call.

    The previous tool calls are quoted as text in an assistant message: an assistant message carrying
    `tool_calls` must be answered by tool messages, which a rejected call never gets.
    """
    tools = tool_feedback(checks, settings)
    if not tools:
        return feedback_messages(original, response.text, report, settings)
    calls = [{"name": call_parts(c)[1], "arguments": call_parts(c)[2]} for c in answer_calls(response)]
    previous = (response.text + "\n" if response.text else "") + "Tool calls: " + json.dumps(calls, ensure_ascii=False)
    text = "Your previous answer was rejected by automatic output checks.\n" + tools
    if report.verdict.needs_action and report.verdict is not Verdict.REVIEW:
        text += "\n\n" + feedback_text(report, settings)
    else:
        text += "\n\nCall the tools again with corrected arguments; reply with the corrected answer only."
    extra: list[Message] = []
    if settings.include_previous:
        extra.append({"role": "assistant", "content": previous[: settings.max_previous_chars]})
    extra.append({"role": "user", "content": text})
    return [*original, *extra], sum(len(m["content"]) for m in extra)
