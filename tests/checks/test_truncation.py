from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks._helpers import build, hits


@pytest.mark.parametrize(
    ("text", "tail", "reason"),
    [
        ("Use the kill command. If you're running the", "If you're running the", "ends on 'the'"),
        (
            "First point is fine. Second point lists apples, pears,",
            "Second point lists apples, pears,",
            "ends on a comma",
        ),
        ("Run this:\n\n```python\nimport os\nos.kill(pid", "```python\nimport os\nos.kill(pid", "unclosed code block"),
        (
            "The answer is simple. You should open the terminal and type kill followed by pid",
            "You should open the terminal and type kill followed by pid",
            "last sentence has no closing punctuation",
        ),
    ],
)
def test_cut_off_outputs(text: str, tail: str, reason: str) -> None:
    [hit] = hits(build("truncation"), text)
    assert text[hit.start : hit.end] == tail
    assert hit.values == {"reason": reason}
    assert hit.fix is not None and not hit.fix.safe


@pytest.mark.parametrize(
    "text",
    [
        "The answer is simple. Open the terminal and type kill.",
        "Options:\n\n- Use kill\n- Use pkill\n- Use the task manager",
        "## Steps\n\n1. Open a terminal\n2. Run top",
        "Docs: https://docs.python.org/3/library/os.html",
        "Best regards,\nJane Doe",
        "短い。",
        "Here is code:\n```\nprint(1)\n```",
    ],
)
def test_complete_outputs(text: str) -> None:
    assert hits(build("truncation", min_chars=0), text) == []


def test_json_and_markup_are_left_to_their_own_checks() -> None:
    text = '{"name": "Ana", "tags": ["a", "b",'
    assert hits(build("truncation", min_chars=0), text) == []
    assert hits(build("truncation", min_chars=0, skip_structured=False), text) != []


def test_non_english() -> None:
    text = "Das ist die Antwort. Öffnen Sie das Terminal und geben Sie den Befehl ein und dann"
    [hit] = hits(build("truncation"), text)
    assert text[hit.start : hit.end].startswith("Öffnen")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_spans_inside(text: str) -> None:
    for hit in hits(build("truncation", min_chars=0), text):
        assert 0 <= hit.start <= hit.end <= len(text)
        if hit.fix:
            assert all(hit.start <= e.start <= e.end <= hit.end for e in hit.fix.edits)


# The line-completeness pattern as it was, searched over the whole line: the split one must agree with it.
_WHOLE_LINE = regex.compile(
    r"^\s*(?:[-*+\u2022]\s|\d+[.)]\s|#|\||>|```|https?://|[A-Z][\w .'-]{0,40}$)|https?://\S+\s*$|[\p{So}\p{Sk}]\s*$"
)
_LINE_PIECES = ["http://", "https://a.b", "x", "Y", " ", "\x1c", "\u2022 ", "- ", "1. ", "#", "|", ">", "```", "\u2705"]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_LINE_PIECES), st.text(max_size=3)), max_size=12).map("".join))
def test_complete_line_agrees_with_the_whole_line_pattern(line: str) -> None:
    from guardrails.checks.truncation import _complete_line

    line = line.rstrip().rsplit("\n", 1)[-1]
    assert _complete_line(line) is (_WHOLE_LINE.search(line) is not None)
