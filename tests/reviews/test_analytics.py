"""Reviewer analytics on SQLite and PostgreSQL: decisions per reviewer and hour, the false-positive rate of
each rule, agreement when two reviewers judged the same fingerprint."""

from __future__ import annotations

from guardrails import Engine
from guardrails.reviews import Decision, DecisionKind, ReviewStore
from guardrails.reviews.analytics import analytics
from tests.reviews import test_store as base
from tests.reviews.test_store import submit

engine = base.engine  # the same fixtures: SQLite and a throwaway PostgreSQL
store = base.store


def test_rates_hours_and_agreement(store: ReviewStore, engine: Engine) -> None:
    decide = [
        ("a1", "Our plan is risk-free.", "alice", DecisionKind.REJECT),
        ("a2", "Our plan is risk-free.", "bob", DecisionKind.APPROVE),  # same fingerprint, bob disagrees
        ("a3", "Take 400 mg daily.", "alice", DecisionKind.REJECT),
        ("a4", "Take 400 mg daily.", "bob", DecisionKind.APPROVE_EDIT),  # same fingerprint, both "flagged"
        ("a5", "Totally guaranteed returns.", "alice", DecisionKind.REJECT),
    ]
    for rid, text, who, kind in decide:
        item, _ = submit(store, engine, text, rid)
        edit = "Ask a doctor." if kind is DecisionKind.APPROVE_EDIT else None
        store.decide(item.id, Decision(kind=kind, edited_output=edit), actor=who)
    fp_item, _ = submit(store, engine, "It is risk free, honestly.", "a6")
    store.decide(fp_item.id, Decision(kind=DecisionKind.FALSE_POSITIVE), actor="bob")
    a = analytics(store)
    assert a.items == 6
    assert sum(a.per_reviewer_hour["alice"].values()) == 3 and sum(a.per_reviewer_hour["bob"].values()) == 3
    rates = {r.rule_id: (r.decided, r.false_positives) for r in a.rules}
    assert rates["unverified-guarantee"] == (4, 1) and rates["medication-dosage"] == (2, 0)
    assert a.rules[0].rule_id == "unverified-guarantee"  # the worst rate first
    assert a.agreement.fingerprints == 2 and a.agreement.agreed == 1
    [(rule, _fp, votes)] = a.agreement.disagreements
    assert rule == "unverified-guarantee" and votes == {"alice": True, "bob": False}
