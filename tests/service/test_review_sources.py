"""Sources beside grounding findings (service/review/render.py): which passage is highlighted, and how a
long source is previewed."""

from __future__ import annotations

from typing import Any

from guardrails import Engine
from guardrails.findings import Finding
from service.review import render

OUTPUT = "The Growth Fund returned 25% a year since 2019."


def _finding(sources: list[dict[str, Any]]) -> Finding:
    report = Engine.from_policy("facts").validate(OUTPUT, {"sources": sources})
    return next(f for f in report.findings if f.check == "grounding")


def test_the_closest_source_sentence_is_highlighted() -> None:
    sources = [{"text": "Fees are 1%. The Growth Fund returned 5% a year since 2019. Ask us."}, {"text": "Weather."}]
    passages = render.source_passages(OUTPUT, _finding(sources), render.sources_of({"sources": sources}))
    assert [p.kind for p in passages] == ["closest", None]
    assert [t for t, k in passages[0].segments if k] == ["The Growth Fund returned 5% a year since 2019."]
    assert "".join(t for t, _ in passages[0].segments) == sources[0]["text"]  # nothing lost or added
    assert passages[1].segments == [("Weather.", None)] and passages[1].label == "source 2"


def test_a_source_holding_the_claim_is_marked_as_support() -> None:
    finding = _finding([{"text": "Nothing here."}])
    passages = render.source_passages(OUTPUT, finding, [{"id": "kb", "text": "Some said 25% A YEAR, others 25%."}])
    assert passages[0].kind == "support" and [t for t, k in passages[0].segments if k] == ["25%"]
    assert passages[0].label == "kb"


def test_a_long_source_is_previewed_around_its_passage_on_word_boundaries() -> None:
    text = "Past performance is no guide. " * 60 + "The fund returned 7% in 2019." + " Tail words here." * 30
    passages = render.source_passages(OUTPUT, _finding([{"text": "x"}]), [{"text": text}])
    preview = passages[0].preview
    assert preview is not None and len("".join(t for t, _ in preview)) <= render.SOURCE_PREVIEW_CHARS + 100
    shown = "".join(t for t, _ in preview)
    assert shown.startswith("… ") and shown.split()[1] in {"Past", "performance", "is", "no", "guide."}
    assert shown.endswith(" …") and [t for t, k in preview if k] == ["The fund returned 7% in 2019."]
    assert "".join(t for t, _ in passages[0].segments) == text


def test_only_grounding_findings_get_sources_and_odd_context_is_ignored() -> None:
    report = Engine.from_policy("facts").validate(OUTPUT, {"sources": [{"text": "x"}]})
    finding = report.findings[0].model_copy(update={"check": "regex"})
    assert render.source_passages(OUTPUT, finding, [{"text": "x"}]) == []
    assert render.sources_of({"sources": "not a list"}) == []
    assert render.sources_of({"sources": [{"text": 5}, "x", {"text": "ok"}]}) == [{"text": "ok"}]
