"""The reviewers' workbench in the store, on SQLite and on a real PostgreSQL: reopen and undo, suppressions
with revoke and hit counts, claims with a lease and "next", open-only severity, full-text search, sorting
and keyset pagination."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from guardrails import Engine
from guardrails.reviews import (
    Decision,
    DecisionKind,
    ItemFilter,
    ReviewConflict,
    ReviewError,
    ReviewNotFound,
    ReviewState,
    ReviewStore,
)
from guardrails.reviews import schema as review_schema
from guardrails.reviews.model import SortKey
from tests.reviews import test_store as base
from tests.reviews.test_store import DEMO_RULES, submit

engine = base.engine  # the same fixtures: SQLite and a throwaway PostgreSQL
store = base.store

FP = Decision(kind=DecisionKind.FALSE_POSITIVE)


def test_reopen_needs_a_reason_and_lifts_the_false_positives_suppression(store: ReviewStore, engine: Engine) -> None:
    text = "Our plan is risk-free."
    item, _ = submit(store, engine, text, "reopen")
    guarded = Engine.from_policy("demo", [DEMO_RULES], suppressor=store.suppressor(ttl_s=3600))
    store.decide(item.id, FP, actor="alice")
    assert guarded.validate(text).verdict.value == "pass"
    with pytest.raises(ReviewError, match="reason"):
        store.reopen(item.id, actor="bob", reason="  ")
    again = store.reopen(item.id, actor="bob", reason="it is a guarantee after all")
    assert again.state is ReviewState.OPEN and again.decision is None and again.decided_by is None
    assert store.suppressions() == []
    assert guarded.validate(text).verdict.value == "review"  # the finding counts again at once
    trail = store.audit_trail(item.id)
    assert [e.action for e in trail] == ["submit", "decide:false_positive", "reopen"]
    assert trail[-1].note == "it is a guarantee after all" and trail[-1].before is not None
    assert trail[-1].before["decision"] == "false_positive" and trail[-1].after is not None
    assert trail[-1].after["revoked"][0]["rule_id"] == "unverified-guarantee"
    # Decided again, differently: the trail keeps all three.
    store.decide(item.id, Decision(kind=DecisionKind.REJECT), actor="bob")
    assert [e.action for e in store.audit_trail(item.id)][-1] == "decide:reject"
    with pytest.raises(ReviewConflict):
        store.reopen(submit(store, engine, "risk-free too", "open-one")[0].id, actor="bob", reason="x")


def test_undo_is_the_deciders_within_the_window(store: ReviewStore, engine: Engine) -> None:
    item, _ = submit(store, engine, "Take 400 mg.", "undo")
    store.decide(item.id, Decision(kind=DecisionKind.APPROVE), actor="alice")
    with pytest.raises(ReviewConflict, match="only alice"):
        store.reopen(item.id, actor="bob", reason="", undo=True)
    assert store.reopen(item.id, actor="alice", reason="", undo=True).state is ReviewState.OPEN
    assert store.audit_trail(item.id)[-1].action == "undo"
    store.decide(item.id, Decision(kind=DecisionKind.APPROVE), actor="alice")
    with store.engine.begin() as conn:  # an hour later
        conn.execute(
            review_schema.items.update()
            .where(review_schema.items.c.id == item.id)
            .values(decided_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
    with pytest.raises(ReviewConflict, match="undo window"):
        store.reopen(item.id, actor="alice", reason="", undo=True)


def test_suppressions_list_count_what_they_silenced_and_can_be_revoked(store: ReviewStore, engine: Engine) -> None:
    text = "Totally risk-free."
    item, _ = submit(store, engine, text, "sup")
    cache = store.suppressor(ttl_s=3600)
    guarded = Engine.from_policy("demo", [DEMO_RULES], suppressor=cache)
    store.decide(item.id, FP, actor="carol")
    for _ in range(3):
        assert guarded.validate(text).verdict.value == "pass"
    cache.flush_hits()
    [sup] = store.suppressions(details=True)
    assert (sup.rule_id, sup.created_by, sup.hits, sup.example) == ("unverified-guarantee", "carol", 3, "risk-free")
    assert sup.message
    with pytest.raises(ReviewNotFound):
        store.revoke_suppression("demo", sup.rule_id, "0" * 16, actor="root", reason="x")
    store.revoke_suppression("demo", sup.rule_id, sup.fingerprint, actor="root", reason="too broad")
    assert store.suppressions() == []
    assert guarded.validate(text).verdict.value == "review"
    last = store.audit_trail(item.id)[-1]
    assert (last.action, last.actor, last.note) == ("revoke_suppression", "root", "too broad")
    # Made again later, it counts from zero.
    item2, _ = submit(store, engine, text, "sup-2")
    store.decide(item2.id, FP, actor="carol")
    assert store.suppressions()[0].hits == 0


def test_next_gives_two_reviewers_different_items_and_mine_first(store: ReviewStore, engine: Engine) -> None:
    ids = [submit(store, engine, f"risk-free offer {n}", f"n{n}")[0].id for n in range(4)]
    a = store.claim_next("alice")
    b = store.claim_next("bob")
    assert a is not None and b is not None and (a.id, b.id) == (ids[0], ids[1])
    assert a.state is ReviewState.IN_REVIEW and a.claim_expires_at is not None
    assert store.claim_next("alice") == store.get(a.id)  # still holding one: that one again
    store.decide(a.id, Decision(kind=DecisionKind.APPROVE), actor="alice")
    nxt = store.claim_next("alice")
    assert nxt is not None and nxt.id == ids[2]  # bob's claim is skipped
    # "Assign to me" is a claim too: the item stays in the pending view, and "next" honours it.
    store.assign(ids[3], "carol", actor="carol", lease=True)
    assert store.claim_next("dave") is None
    pending = ItemFilter(states=[ReviewState.OPEN, ReviewState.IN_REVIEW])
    assert ids[3] in store.ids(pending)
    assert store.ids(ItemFilter(assignee="carol", state=ReviewState.IN_REVIEW)) == [ids[3]]
    # A lapsed lease frees the item for the next reviewer.
    with store.engine.begin() as conn:
        conn.execute(
            review_schema.items.update()
            .where(review_schema.items.c.id == ids[3])
            .values(claim_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    taken = store.claim_next("dave")
    assert taken is not None and taken.id == ids[3] and taken.assignee == "dave"
    assert [e.action for e in store.audit_trail(ids[3])][-2:] == ["assign", "claim"]


def test_concurrent_next_never_hands_one_item_to_two_reviewers(store: ReviewStore, engine: Engine) -> None:
    for n in range(8):
        submit(store, engine, f"guaranteed returns {n}", f"c{n}")
    got: dict[str, str | None] = {}
    barrier = threading.Barrier(6)

    def grab(name: str) -> None:
        barrier.wait()
        item = store.claim_next(name)
        got[name] = item.id if item else None

    threads = [threading.Thread(target=grab, args=(f"r{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [v for v in got.values() if v]
    assert len(got) == 6 and len(claimed) == 6 and len(set(claimed)) == 6


def test_severity_is_of_what_is_still_open(store: ReviewStore, engine: Engine) -> None:
    # SVC002 (high) is repaired; only SVC001 (medium) is left for the reviewer.
    item, _ = submit(store, engine, "Ask db01.corp, guaranteed returns.", "sev")
    assert item.max_severity is not None and item.max_severity.value == "medium"
    assert item.codes == ["SVC001", "SVC002"]


def test_full_text_search_over_output_context_and_notes(store: ReviewStore, engine: Engine) -> None:
    store.submit(engine.validate("Guaranteed returns on the Growth Fund."), {"request_id": "s1"})
    store.submit(
        engine.validate("Take 400 mg."),
        {"request_id": "s2", "prompt": "What dose of ibuprofen for a headache?"},
    )
    c, _ = submit(store, engine, "Das Produkt ist risk-free, garantiert.", "s3")
    store.decide(c.id, Decision(kind=DecisionKind.REJECT, note="escalated to compliance"), actor="alice")

    def found(text: str, **kw: Any) -> set[str]:
        return {i.request_id for i in store.items(ItemFilter(text=text, **kw))}

    assert found("growth fund") == {"s1"}
    assert found("ibuprofen") == {"s2"}  # the prompt, from the context
    assert found("compliance") == {"s3"}  # a reviewer's note
    assert found("garantiert") == {"s3"}
    assert found("growth ibuprofen") == set()  # every word must match
    assert found('"OR( NEAR*') == set() and found("") == {"s1", "s2", "s3"}  # query syntax is never an error
    assert found("fund\x00") == set()
    assert found("compliance", state=ReviewState.OPEN) == set()
    assert store.count(ItemFilter(text="headache")) == 1


@pytest.mark.parametrize("sort", list(SortKey))
def test_keyset_pages_walk_every_item_once_in_order(store: ReviewStore, engine: Engine, sort: SortKey) -> None:
    texts = ["Guaranteed returns!", "Take 400 mg.", "risk-free", "Ask db01.corp.", "Take 5 mg, guaranteed."]
    for n in range(11):
        submit(store, engine, texts[n % len(texts)], f"k{n}")
    with store.engine.begin() as conn:  # two items share a timestamp: the id breaks the tie
        first = conn.execute(sa.select(review_schema.items.c.created_at).limit(1)).scalar()
        k7 = review_schema.items.c.request_id == "k7"
        conn.execute(review_schema.items.update().where(k7).values(created_at=first))
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page, cursor = store.page(sort=sort, after=cursor, limit=3)
        seen.extend(i.id for i in page)
        if cursor is None:
            break
    assert seen == [i.id for i in store.items(sort=sort, limit=100)]
    assert len(set(seen)) == 11
    assert store.page(sort=sort, after="garbage!")[0][0].id == seen[0]  # a bad cursor starts over


def test_upgrade_adds_the_new_column_and_indexes_old_items(tmp_path: Any, engine: Engine) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = ReviewStore.open(url)
    item, _ = submit(old, engine, "risk-free forever", "old-1")
    with old.engine.begin() as conn:
        conn.execute(review_schema.search.delete())
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_review_items_state_created")
        conn.exec_driver_sql("ALTER TABLE review_items DROP COLUMN claim_expires_at")
    old.close()
    new = ReviewStore.open(url)
    assert [i.id for i in new.items(ItemFilter(text="forever"))] == [item.id]
    assert new.claim_next("alice") is not None
    new.close()
