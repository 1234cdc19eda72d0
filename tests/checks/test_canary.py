from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks._helpers import build, hits, spans


def test_canary_found_across_case_and_zero_width_and_evidence_hides_it() -> None:
    check = build("canary", redact="[redacted]")
    text = "a CANARY-12ab b canary-\u200b12ab c"
    found = hits(check, text, {"canaries": ["canary-12ab"]})
    assert [text[h.start : h.end] for h in found] == ["CANARY-12ab", "canary-\u200b12ab"]
    assert all(h.evidence.matched == "<canary 0>" for h in found)
    assert found[0].fix is not None and found[0].fix.edits[0].replacement == "[redacted]"


def test_short_canaries_are_ignored_and_params_canaries_apply() -> None:
    check = build("canary", canaries=["SECRET-TOKEN-1"])
    assert spans(check, "x secret-token-1 abc", {"canaries": ["abc"]}) == ["secret-token-1"]


def test_no_canaries_no_hits() -> None:
    assert hits(build("canary"), "anything") == []


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_spans_inside(text: str) -> None:
    for hit in hits(build("canary", min_length=1), text, {"canaries": ["é", "ss", "\u0130x"]}):
        assert 0 <= hit.start <= hit.end <= len(text)
