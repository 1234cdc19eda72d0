"""A common word's search page on SQLite walks the sort order and probes FTS5 per row instead of reading
every match: the pages it gives (every sort, keyset, other filters, neighbours) are the very pages of the
plan that reads every match."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrails import Engine
from guardrails.reviews import Decision, DecisionKind, ItemFilter, ReviewState, ReviewStore
from guardrails.reviews import store as store_module
from guardrails.reviews.model import SortKey
from tests.reviews.test_store import DEMO_RULES


@pytest.fixture
def queue(tmp_path: Path) -> ReviewStore:
    s = ReviewStore.open(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    engine = Engine.from_policy("demo", [DEMO_RULES])
    texts = ["Our plan {n} is risk-free.", "Take {n}00 mg of the plan twice a day.", "Ask crm0{n}.corp about it."]
    for n in range(36):
        item, _ = s.submit(engine.validate(texts[n % 3].format(n=n % 9)), {"request_id": f"r{n}"})
        if n % 5 == 0:
            s.decide(item.id, Decision(kind=DecisionKind.REJECT, note="plan checked"), actor="alice")
    return s


def _all_pages(s: ReviewStore, f: ItemFilter, sort: SortKey) -> list[str]:
    out: list[str] = []
    after = None
    while True:
        items, after = s.page(f, sort=sort, after=after, limit=4)
        out += [i.id for i in items]
        if after is None:
            return out


@pytest.mark.parametrize("sort", list(SortKey))
@pytest.mark.parametrize(
    "f",
    [
        ItemFilter(text="plan", states=[ReviewState.OPEN, ReviewState.IN_REVIEW]),
        ItemFilter(text="plan"),
        ItemFilter(text="plan checked", state=ReviewState.DECIDED),
        ItemFilter(text="PLAN", code="SVC003", policies=["demo"]),
        ItemFilter(text="risk", route_codes=["SVC001"]),
    ],
)
def test_walk_and_scan_give_the_same_pages(
    queue: ReviewStore, f: ItemFilter, sort: SortKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = _all_pages(queue, f, sort)
    assert scanned, "the case must match something"
    walked: list[bool] = []
    real = ReviewStore._common_search

    def spy(self: ReviewStore, flt: ItemFilter) -> bool:
        walked.append(real(self, flt))
        return walked[-1]

    monkeypatch.setattr(store_module, "WALK_MIN_MATCHES", 2)
    monkeypatch.setattr(store_module, "WALK_FACTOR", 0.1)  # walk from 2 matches on (a 36-item queue)
    monkeypatch.setattr(ReviewStore, "_common_search", spy)
    assert _all_pages(queue, f, sort) == scanned
    assert any(walked)  # the walk did run
    item = queue.get(scanned[len(scanned) // 2])
    prev_id, next_id = queue.neighbours(item, f, sort=sort)
    monkeypatch.setattr(ReviewStore, "_common_search", lambda self, flt: False)
    assert queue.neighbours(item, f, sort=sort) == (prev_id, next_id)


def test_a_word_common_only_outside_the_filter_is_not_walked(
    queue: ReviewStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "WALK_MIN_MATCHES", 2)
    monkeypatch.setattr(store_module, "WALK_FACTOR", 0.1)  # walk from 2 matches on (a 36-item queue)
    # "checked" is in every decided item's note: common, but not one pending item has it.
    pending = ItemFilter(text="checked", states=[ReviewState.OPEN])
    assert not queue._common_search(pending)
    assert queue._common_search(ItemFilter(text="checked", state=ReviewState.DECIDED))
    assert queue.page(pending)[0] == []
