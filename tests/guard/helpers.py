"""Test-only checks and scripted LLMs for the Guard tests (the real schema/PII checks are built elsewhere)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import regex
from pydantic import Field

from guardrails.checks.base import Check, CheckParams, Hit, RunContext
from guardrails.context import Context
from guardrails.document import Document
from guardrails.engine import Engine
from guardrails.findings import Evidence
from guardrails.guard import LLMResponse, Usage

RULES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "guard" / "rules"


def engine(policy: str = "guard-test") -> Engine:
    return Engine.from_policy(policy, rules_dirs=[RULES_DIR])


class UnfinishedAnswerCheck(Check):
    """Whole-output only (a prefix always looks unfinished): flags text not ending with a full stop."""

    kind = "unfinished_answer"
    streaming = False

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        stripped = doc.text.rstrip()
        if stripped and not stripped.endswith("."):
            yield Hit(0, len(stripped))


class SchemaParams(CheckParams):
    schema_: dict[str, Any] = Field(alias="schema")


class SchemaCheck(Check):
    """A tiny JSON Schema check for top-level keys, enough to exercise regeneration with a schema excerpt."""

    kind = "schema_test"
    Params = SchemaParams
    streaming = False

    def __init__(self, params: SchemaParams) -> None:
        super().__init__(params)
        self.schema = params.schema_
        self.validator = jsonschema.Draft202012Validator(self.schema)

    def run(self, doc: Document, ctx: RunContext) -> Iterator[Hit]:
        try:
            value = json.loads(doc.text)
        except json.JSONDecodeError as exc:
            yield Hit(0, len(doc.text), values={"problem": f"not JSON: {exc.msg}"}, pointer="")
            return
        for error in self.validator.iter_errors(value):
            pointer = "".join(f"/{p}" for p in error.absolute_path)
            start, end = 0, len(doc.text)
            if len(error.absolute_path) == 1:
                m = regex.search(rf'"{regex.escape(str(error.absolute_path[0]))}"\s*:\s*("[^"]*"|[^,}}]+)', doc.text)
                if m:
                    start, end = m.span(1)
            yield Hit(
                start,
                end,
                values={"problem": error.message},
                pointer=pointer,
                evidence=Evidence(source="json-schema", details={"validator": error.validator}),
            )

    def regeneration_extras(self, context: Context | None = None) -> dict[str, Any]:
        return {"schema": self.schema}


class ScriptedLLM:
    """Replies from a script (strings, LLMResponses or exceptions to raise) and records every call."""

    def __init__(self, replies: list[Any], *, name: str = "scripted", tokens: tuple[int, int] = (10, 5)) -> None:
        self.replies = list(replies)
        self.name = name
        self.tokens = tokens
        self.calls: list[dict[str, Any]] = []

    def __call__(self, messages: list[dict[str, str]], **params: Any) -> LLMResponse:
        self.calls.append({"messages": [dict(m) for m in messages], "params": dict(params)})
        if not self.replies:
            raise AssertionError(f"{self.name}: called more often than scripted")
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, LLMResponse):
            return reply
        p, c = self.tokens
        return LLMResponse(text=reply, usage=Usage(prompt_tokens=p, completion_tokens=c, total_tokens=p + c))
