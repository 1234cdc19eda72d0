"""The JSON view's entry: prose that cannot hold JSON gets build_view's empty view without parsing."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks._json import JsonExtractParams, json_view
from guardrails.checks.base import Deadline, RunContext
from guardrails.context import Context
from guardrails.document import Document
from guardrails.jsonparse import view as view_module
from guardrails.jsonparse.view import build_view

PARAMS = JsonExtractParams()
CTX = RunContext(Context(), Deadline(None))

# Starts and pieces that make build_view work: JSON scalars and containers, parentheses, fences, whitespace
# before them, and look-alikes that are not JSON (U+FEFF, "True", a non-breaking space).
PIECES = st.sampled_from(
    [" ", "\t", "\n", "\r", "\u00a0", "\ufeff", "\f", "{", "}", "[", "]", "(", ")", '"', "'", ":", ",", "-", "1",
     "0.5", "true", "false", "null", "NaN", "Infinity", "-Infinity", "True", "none", "```", "```json\n", "`",
     "the order", "ships", " today", "é", "x", "#", "\\"]
)  # fmt: skip


def _fields(view: object) -> dict[str, object]:
    return {f.name: getattr(view, f.name) for f in dataclasses.fields(view)}  # type: ignore[arg-type]


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=12).map("".join))
def test_the_entry_gives_build_views_answer(text: str) -> None:
    expected = build_view(text, expect_json=False, pick=PARAMS.pick, max_depth=PARAMS.max_depth)
    assert _fields(json_view(Document(text), CTX, PARAMS)) == _fields(expected)


@pytest.mark.parametrize(
    "text",
    [
        "The order ships today; the tracking page has updates.",
        "  \n Anyone can write to the desk: ana.1@mail3.example.com, (555) 201-9999.",
        "",
        " \t\r\n",
    ],
)
def test_prose_is_not_parsed(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prose whose first character opens no JSON value costs no parse: build_view is never called."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("build_view called on prose")

    monkeypatch.setattr("guardrails.checks._json.build_view", refuse)
    assert not json_view(Document(text), CTX, PARAMS).present


@pytest.mark.parametrize("text", ['"quoted"', " 42", "null", "-1", '(see {"a": 1})', "Note:\n```\n{}\n```"])
def test_what_may_be_json_is_still_parsed(text: str) -> None:
    assert _fields(json_view(Document(text), CTX, PARAMS)) == _fields(build_view(text, expect_json=False))
    assert view_module.build_view is build_view
