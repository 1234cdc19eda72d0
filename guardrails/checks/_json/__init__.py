"""What the JSON checks share: extraction params and the one JSON view per document."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field

from guardrails.checks.base import CheckParams, DeadlineExceeded, RunContext
from guardrails.document import Document
from guardrails.jsonparse.view import JsonView, Pick, build_view, view_key


class JsonExtractParams(CheckParams):
    expect_json: bool = Field(
        default=False,
        description="The output must be JSON: prose around it is extracted and no JSON is a finding. "
        "When false (and the Context has no schema), only outputs that start like JSON are checked.",
    )
    pick: Literal["largest", "first", "last"] = Field(
        default="largest", description="Which of several JSON values in the output is the JSON"
    )
    max_depth: int = Field(default=512, ge=1, le=100_000, description="Deeper nesting is a finding, not a crash")


def json_view(doc: Document, ctx: RunContext, params: JsonExtractParams, *, expect: bool = False) -> JsonView:
    """The document's JSON view, parsed once per validation and shared by every JSON rule.

    The same view `jsonparse.view.document_view` returns for these settings (same key), looked up without
    rebuilding its key strings: twenty JSON rules ask for it on every output."""
    expect_json = expect or params.expect_json or ctx.context.schema_ is not None
    key, flag_key = _keys(expect_json, params.pick, params.max_depth)
    view: JsonView | None = doc.cached(key)
    if view is not None:
        # Built: then parsing never timed out for this key (a view is only stored when its build finished).
        return view
    if not expect_json and _no_json_start(doc.text):
        # Prose: build_view would find nothing (see _no_json_start), after failing a parse (an exception, ~5 us)
        # and two scans; this is the same empty view, for ~0.3 us.
        return doc.view(key, _empty_view)
    timed_out: list[bool] = doc.view(flag_key, _flag)
    if timed_out[0]:
        # Parsing ran out of time once: every later JSON rule on this document is late without parsing again.
        raise DeadlineExceeded("parsing the JSON ran past the deadline")
    schema = ctx.context.schema_

    def build(d: Document) -> JsonView:
        view = build_view(
            d.text, expect_json=expect_json, pick=params.pick, max_depth=params.max_depth, deadline=ctx.deadline
        )
        if schema is not None and view.present and not (view.strict and not view.repairs and view.candidates <= 1):
            # Damaged JSON and a schema in the Context: rank the candidate repairs by it (imported here:
            # valid outputs, the common case, never load the schema-guided path).
            from guardrails.checks._json.salvage import ranked_view

            view = ranked_view(view, schema, ctx.deadline)
        return view

    try:
        return doc.view(key, build)
    except DeadlineExceeded:
        timed_out[0] = True
        raise


# What can open a text build_view looks into when JSON is not expected: a JSON value (strict.loads: an object,
# array, string, number, true/false/null, or the NaN/Infinity it parses to reject) or a parenthesised one.
_JSON_OPENERS = frozenset('{[("-0123456789tfnNI')
_JSON_WS = " \t\n\r"  # strict.WHITESPACE, what build_view skips before the first character


def _no_json_start(text: str) -> bool:
    """True when build_view(text, expect_json=False) is the empty view: no fence, and the first character after
    JSON whitespace opens nothing it reads (it then returns before looking further)."""
    stripped = text.lstrip(_JSON_WS)
    return not stripped or (stripped[0] not in _JSON_OPENERS and "```" not in text)


def _empty_view(d: Document) -> JsonView:
    return JsonView(d.text)


@lru_cache(maxsize=64)
def _keys(expect_json: bool, pick: Pick, max_depth: int) -> tuple[str, str]:
    """The view's key and its timed-out flag's key."""
    key = view_key(expect_json, pick, max_depth)
    return key, key + "\x1ftimed-out"


def _flag(_: Document) -> list[bool]:
    return [False]
