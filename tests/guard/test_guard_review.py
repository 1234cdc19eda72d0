"""Guard(on_review=...): a `review` verdict is decided by a callback or a coroutine before delivery."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from guardrails import Engine
from guardrails.guard import Guard, HeldAnswer, Review

DEMO_RULES = Path(__file__).resolve().parents[2] / "service" / "demo" / "rules"
DOSE = "Take 400 mg twice a day."


@pytest.fixture(scope="module")
def eng() -> Engine:
    return Engine.from_policy("demo", [DEMO_RULES])


def llm(text: str) -> Any:
    def call(messages: list[dict[str, Any]], **params: Any) -> str:
        return text

    return call


def test_approve_delivers_the_answer(eng: Engine) -> None:
    seen: list[HeldAnswer] = []

    def reviewer(held: HeldAnswer) -> Review:
        seen.append(held)
        return Review.approve()

    result = Guard(eng, llm(DOSE), on_review=reviewer).run("dose?")
    assert seen[0].output == DOSE and seen[0].report.verdict.value == "review"
    assert [f.code for f in seen[0].report.findings] == ["SVC003"]
    assert result.output == DOSE and not result.held
    assert result.review == Review.approve() and result.review_id == seen[0].id


def test_edit_is_delivered_and_recorded(eng: Engine) -> None:
    result = Guard(eng, llm(DOSE), on_review=lambda h: Review.edit("Ask a pharmacist.")).run("dose?")
    assert result.output == "Ask a pharmacist."
    assert result.review is not None and result.review.decision == "edit" and result.review.original == DOSE
    assert result.report.verdict.value == "review"  # the report still describes the answer that was checked


def test_reject_is_the_refusal_with_the_reason(eng: Engine) -> None:
    result = Guard(eng, llm(DOSE), on_review=lambda h: Review.reject("off-label-dose")).run("dose?")
    assert DOSE not in result.output and result.output
    assert result.review is not None and result.review.reason == "off-label-dose"
    assert result.finish_reason == "content_filter"


def test_undecided_is_held_with_the_id_and_no_output(eng: Engine) -> None:
    ids: list[str] = []

    def later(held: HeldAnswer) -> None:
        ids.append(held.id)  # e.g. queued for a person; the caller comes back with the id

    result = Guard(eng, llm(DOSE), on_review=later).run("dose?")
    assert result.held and result.review_id == ids[0] and result.output == "" and result.review is None


def test_awaitable_reviewer_in_arun_and_run(eng: Engine) -> None:
    async def reviewer(held: HeldAnswer) -> Review:
        await asyncio.sleep(0)
        return Review.edit("Checked: ask a pharmacist.")

    guard = Guard(eng, llm(DOSE), on_review=reviewer)
    assert asyncio.run(guard.arun("dose?")).output == "Checked: ask a pharmacist."
    assert guard.run("dose?").output == "Checked: ask a pharmacist."


def test_passing_answers_never_reach_the_reviewer(eng: Engine) -> None:
    def reviewer(held: HeldAnswer) -> Review:
        raise AssertionError("called for a passing answer")

    result = Guard(eng, llm("Ask your pharmacist."), on_review=reviewer).run("dose?")
    assert result.output == "Ask your pharmacist." and result.review is None and result.review_id is None


def test_without_on_review_nothing_changes(eng: Engine) -> None:
    result = Guard(eng, llm(DOSE)).run("dose?")
    assert result.output == DOSE and not result.held and result.review_id is None


def test_a_wrong_return_type_is_an_error(eng: Engine) -> None:
    with pytest.raises(TypeError, match="Review or None"):
        Guard(eng, llm(DOSE), on_review=lambda h: "approve").run("dose?")  # type: ignore[arg-type,return-value]
