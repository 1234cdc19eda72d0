"""A search's count is capped (SQLite and PostgreSQL): a common word says "N+" instead of counting a fifth
of the queue, and a search under the cap is counted exactly with its breakdowns."""

from __future__ import annotations

from guardrails import Engine
from guardrails.reviews import ItemFilter, ReviewStore
from tests.reviews import test_store as base
from tests.reviews.test_store import submit

engine = base.engine
store = base.store


def test_search_count_stops_at_the_cap(store: ReviewStore, engine: Engine) -> None:
    for n in range(5):
        submit(store, engine, f"Plan {n} is risk-free.", f"plan{n}")
    submit(store, engine, "Take 400 mg twice a day.", "dose")
    capped = store.counts(ItemFilter(text="plan"), cap=3)
    assert capped.capped and capped.total == 3 and capped.by_state == {}
    exact = store.counts(ItemFilter(text="plan"), cap=5)
    assert not exact.capped and exact.total == 5 and exact.by_state == {"open": 5}
    assert exact.by_code == {"SVC001": 5}
    # The cap is for searches: the queue without one is counted in full (its facets are an index scan).
    whole = store.counts(ItemFilter(), cap=3)
    assert not whole.capped and whole.total == 6
    # The page itself is not capped: keyset pages walk past the counted part.
    items, cursor = store.page(ItemFilter(text="plan"), limit=4)
    assert len(items) == 4 and cursor is not None
    rest, end = store.page(ItemFilter(text="plan"), after=cursor, limit=4)
    assert len(rest) == 1 and end is None
