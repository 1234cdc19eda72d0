"""Resolving a held answer that waits for several review items (service/hold/runtime.py), in process on SQLite and
PostgreSQL: the sweeper's query finds it only once every item is decided or its time ran out, and at the timeout
the decided choices keep their decision while the others get the timeout action."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guardrails import Engine
from guardrails.reviews import Decision, DecisionKind, ReviewStore
from service.hold import HoldConfig, Holds
from tests.service.conftest import DEMO_RULES

DOSES = ["Take 400 mg twice a day.", "Take 200 mg once a day."]


@pytest.fixture(params=["sqlite", "postgresql"])
def reviews(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReviewStore]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/q.db"
    store = ReviewStore.open(url)
    try:
        yield store
    finally:
        store.close()


def held_completion(reviews: ReviewStore) -> tuple[dict[str, Any], list[str]]:
    engine = Engine.from_policy("demo", [DEMO_RULES])
    infos, ids = [], []
    for text in DOSES:
        report = engine.validate(text)
        item, _ = reviews.submit(report)
        ids.append(str(item.id))
        infos.append({"verdict": "review", "review_id": str(item.id), "report": report.model_dump(mode="json")})
    choices = [
        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
        for i, t in enumerate(DOSES)
    ]
    body = {"object": "chat.completion", "choices": choices, "outguard": {**infos[0], "choices": infos}}
    return body, ids


def test_released_only_when_every_item_is_decided(reviews: ReviewStore) -> None:
    holds = Holds(reviews, HoldConfig(timeout_s=3600))
    body, (first, second) = held_completion(reviews)
    holds.store.hold(first, "k", "demo", body, timeout_s=3600, webhook=None, items=[first, second])
    reviews.decide(first, Decision(kind=DecisionKind.APPROVE), actor="r")
    assert holds.store.due() == []  # one of two decided: the sweeper leaves it
    row = holds.store.get(first)
    assert row is not None and not holds.resolve(row).released
    reviews.decide(second, Decision(kind=DecisionKind.APPROVE_EDIT, edited_output="Ask a pharmacist."), actor="r")
    assert [r.id for r in holds.store.due()] == [first]
    done = holds.resolve(row)
    assert done.released and done.outcome == "mixed" and done.result is not None
    assert [c["message"]["content"] for c in done.result["choices"]] == [DOSES[0], "Ask a pharmacist."]


def test_at_the_timeout_decided_choices_keep_their_decision(reviews: ReviewStore) -> None:
    holds = Holds(reviews, HoldConfig(timeout_s=0.05))
    body, (first, second) = held_completion(reviews)
    holds.store.hold(first, "k", "demo", body, timeout_s=0.05, webhook=None, items=[first, second])
    reviews.decide(second, Decision(kind=DecisionKind.APPROVE), actor="r")
    time.sleep(0.1)
    (row,) = holds.store.due()
    done = holds.resolve(row)
    assert done.result is not None
    assert [c["finish_reason"] for c in done.result["choices"]] == ["content_filter", "stop"]
    assert done.result["choices"][1]["message"]["content"] == DOSES[1]
    assert done.result["outguard"]["held"]["outcome"] == "mixed"
    assert done.result["outguard"]["choices"][0]["held"]["reason"] == "review_timeout"
