"""The review queue on SQLite and on a real throwaway PostgreSQL, through the same code."""

from __future__ import annotations

import io
import json
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy")

from guardrails import Engine, Severity
from guardrails.reviews import (
    Decision,
    DecisionKind,
    FactCorrection,
    ItemFilter,
    ReviewConflict,
    ReviewError,
    ReviewNotFound,
    ReviewState,
    ReviewStore,
    export_jsonl,
)

DEMO_RULES = Path(__file__).resolve().parents[2] / "service" / "demo" / "rules"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_policy("demo", [DEMO_RULES])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReviewStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reviews.sqlite3'}"
    else:
        import sqlalchemy as sa

        base = request.getfixturevalue("postgres_url")
        name = f"reviews_{abs(hash(request.node.nodeid)) % 10**9}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        url = base.rsplit("/", 1)[0] + f"/{name}"
    s = ReviewStore.open(url)
    yield s
    s.close()


def submit(store: ReviewStore, engine: Engine, text: str, rid: str, **kw: Any) -> Any:
    return store.submit(engine.validate(text), {"request_id": rid}, **kw)


def test_sqlite_runs_wal_with_full_sync(tmp_path: Path) -> None:
    s = ReviewStore.open(f"sqlite:///{tmp_path / 'sub' / 'q.sqlite3'}")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    s.close()


def test_submit_is_idempotent_on_request_id(store: ReviewStore, engine: Engine) -> None:
    item, created = submit(store, engine, "Guaranteed returns of 9%.", "req-1")
    again, created_again = submit(store, engine, "Something else entirely, 5 mg.", "req-1")
    assert created and not created_again
    assert again.id == item.id and again.output == "Guaranteed returns of 9%."
    assert store.count() == 1
    assert item.state is ReviewState.OPEN and item.codes == ["SVC001"]
    assert item.max_severity is Severity.MEDIUM
    assert item.report.verdict.value == "review"
    assert item.context == {"request_id": "req-1"}


def test_concurrent_submits_of_one_request_store_one_item(store: ReviewStore, engine: Engine) -> None:
    report = engine.validate("risk-free, honestly")
    ids: list[str] = []

    def go() -> None:
        item, _ = store.submit(report, {"request_id": "same"})
        ids.append(item.id)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and store.count() == 1


def test_filters_and_counts(store: ReviewStore, engine: Engine) -> None:
    submit(store, engine, "Guaranteed returns!", "a")
    submit(store, engine, "Take 400 mg daily.", "b")
    submit(store, engine, "Take 5 mg, guaranteed results.", "c")
    assert {i.request_id for i in store.items(ItemFilter(code="SVC003"))} == {"b", "c"}
    assert {i.request_id for i in store.items(ItemFilter(severity=Severity.HIGH))} == {"b", "c"}
    assert store.count(ItemFilter(policy="demo")) == 3
    assert store.count(ItemFilter(policies=[])) == 0
    assert store.count(ItemFilter(policies=["other"])) == 0
    assert store.count(ItemFilter(older_than_s=3600)) == 0
    assert store.count(ItemFilter(newer_than_s=3600)) == 3
    counts = store.counts()
    assert counts.total == 3
    assert counts.by_code == {"SVC001": 2, "SVC003": 2}
    assert counts.by_severity == {"medium": 1, "high": 2}
    assert counts.by_state == {"open": 3}
    # Arrival order.
    assert [i.request_id for i in store.items()] == ["a", "b", "c"]


def test_assign_decide_and_audit(store: ReviewStore, engine: Engine) -> None:
    item, _ = submit(store, engine, "Ask db01.corp, guaranteed returns.", "x")
    assigned = store.assign(item.id, "alice", actor="alice")
    assert assigned.state is ReviewState.IN_REVIEW and assigned.assignee == "alice"
    decided = store.decide(item.id, Decision(kind=DecisionKind.APPROVE, note="fine"), actor="alice")
    assert decided.state is ReviewState.DECIDED and decided.decision is DecisionKind.APPROVE
    assert decided.final_output == "Ask [internal host], guaranteed returns."  # the repaired text is released
    with pytest.raises(ReviewConflict):
        store.decide(item.id, Decision(kind=DecisionKind.REJECT), actor="bob")
    with pytest.raises(ReviewConflict):
        store.assign(item.id, "bob", actor="bob")
    trail = store.audit_trail(item.id)
    assert [e.action for e in trail] == ["submit", "assign", "decide:approve"]
    last = trail[-1]
    assert last.actor == "alice" and last.note == "fine"
    assert last.before is not None and last.before["state"] == "in_review"
    assert last.after is not None and last.after["decision"] == "approve"
    assert last.at.tzinfo is not None


def test_approve_with_edit_releases_the_edit(store: ReviewStore, engine: Engine) -> None:
    item, _ = submit(store, engine, "Take 400 mg.", "e")
    with pytest.raises(ValueError, match="edited_output"):
        Decision(kind=DecisionKind.APPROVE_EDIT)
    done = store.decide(
        item.id, Decision(kind=DecisionKind.APPROVE_EDIT, edited_output="Ask your doctor."), actor="bob"
    )
    assert done.final_output == "Ask your doctor."


def test_false_positive_suppresses_that_fingerprint_for_that_policy(store: ReviewStore, engine: Engine) -> None:
    text = "Our plan is risk-free."
    item, _ = submit(store, engine, text, "fp")
    suppressor = store.suppressor(ttl_s=3600)
    guarded = Engine.from_policy("demo", [DEMO_RULES], suppressor=suppressor)
    assert guarded.validate(text).verdict.value == "review"
    store.decide(item.id, Decision(kind=DecisionKind.FALSE_POSITIVE), actor="carol")
    # The local write invalidated the cache: the same finding is now suppressed...
    report = guarded.validate(text)
    assert report.verdict.value == "pass"
    assert [f.status.value for f in report.findings] == ["suppressed"]
    # ...but only that fingerprint (other matched text still flags) and only in that policy.
    assert guarded.validate("Our plan is RISK FREE.").verdict.value == "review"
    assert not suppressor("other-policy", "unverified-guarantee", report.findings[0].fingerprint)
    [sup] = store.suppressions()
    assert (sup.policy, sup.rule_id, sup.created_by, sup.item_id) == ("demo", "unverified-guarantee", "carol", item.id)
    # A pool worker of validate_many gets the set as it stands, not the database handle.
    snapshot = pickle.loads(pickle.dumps(suppressor))
    assert snapshot.keys == {("demo", "unverified-guarantee", report.findings[0].fingerprint)}
    assert _pooled_verdicts(guarded, text) == {"pass"}


def _pooled_verdicts(engine: Engine, text: str) -> set[str]:
    return {r.verdict.value for r in engine.validate_many([text] * 8, workers=2, chunksize=2)}


def test_false_positive_with_unknown_fingerprint_is_refused(store: ReviewStore, engine: Engine) -> None:
    item, _ = submit(store, engine, "risk-free", "fp2")
    with pytest.raises(ReviewError, match="no open finding"):
        store.decide(item.id, Decision(kind=DecisionKind.FALSE_POSITIVE, fingerprints=["nope"]), actor="c")
    assert store.get(item.id).state is ReviewState.OPEN  # nothing half-written


def test_correct_fact_writes_through_the_writer(store: ReviewStore, engine: Engine) -> None:
    item, _ = submit(store, engine, "The dose is 20 mg.", "fact")
    decision = Decision(
        kind=DecisionKind.CORRECT_FACT, fact=FactCorrection(entity="aspirin", attribute="dose", value="20 mg")
    )
    with pytest.raises(ReviewError, match="facts store"):
        store.decide(item.id, decision, actor="d")
    written: list[tuple[Any, ...]] = []

    def writer(fact: FactCorrection, actor: str) -> dict[str, Any]:
        written.append((fact.entity, fact.attribute, fact.value, actor))
        return {"entity": fact.entity, "attribute": fact.attribute, "value": fact.value}

    with pytest.raises(ReviewError, match="validate the output again"):
        store.decide(item.id, decision, actor="d", fact_writer=writer)
    assert written == [] and store.get(item.id).state is ReviewState.OPEN
    # The corrected facts clear the output: validated again, then released as the engine delivers it.
    seen: list[str] = []

    def passes(it: Any) -> Any:
        seen.append(it.output)
        return engine.validate("The dose is right.")

    decided = store.decide(item.id, decision, actor="d", fact_writer=writer, revalidate=passes)
    assert written == [("aspirin", "dose", "20 mg", "d")] and seen == ["The dose is 20 mg."]
    assert decided.state is ReviewState.DECIDED and decided.verdict == "pass" and decided.codes == []
    assert decided.final_output == "The dose is right."
    last = store.audit_trail(item.id)[-1]
    assert last.action == "decide:correct_fact"
    assert last.after["fact"]["value"] == "20 mg"  # type: ignore[index]
    assert last.after["revalidated"]["verdict"] == "pass"  # type: ignore[index]


def test_correct_fact_that_still_flags_keeps_the_item_queued(store: ReviewStore, engine: Engine) -> None:
    item, _ = submit(store, engine, "The dose is 20 mg.", "fact3")
    decision = Decision(kind=DecisionKind.CORRECT_FACT, fact=FactCorrection(entity="a", attribute="b", value=1))
    flagged = engine.validate("Guaranteed returns and 20 mg.")
    after = store.decide(
        item.id, decision, actor="d", fact_writer=lambda f, a: {"entity": f.entity}, revalidate=lambda it: flagged
    )
    assert after.state is ReviewState.OPEN and after.decision is None and after.final_output is None
    assert after.verdict == "review" and after.codes == sorted({f.code for f in flagged.findings})
    assert [i.id for i in store.items(ItemFilter(code="SVC001"))] == [item.id]  # the new codes are filterable
    last = store.audit_trail(item.id)[-1]
    assert last.action == "correct_fact" and last.after["revalidated"]["verdict"] == "review"  # type: ignore[index]
    # Still decidable afterwards.
    assert store.decide(item.id, Decision(kind=DecisionKind.REJECT), actor="d").state is ReviewState.DECIDED


def test_failing_fact_writer_leaves_the_item_open(store: ReviewStore, engine: Engine) -> None:
    item, _ = submit(store, engine, "The dose is 20 mg.", "fact2")

    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("facts store down")

    decision = Decision(kind=DecisionKind.CORRECT_FACT, fact=FactCorrection(entity="a", attribute="b", value=1))
    with pytest.raises(RuntimeError):
        store.decide(item.id, decision, actor="d", fact_writer=broken, revalidate=lambda it: engine.validate(""))
    assert store.get(item.id).state is ReviewState.OPEN
    assert [e.action for e in store.audit_trail(item.id)] == ["submit"]


def test_unknown_item_and_long_request_id(store: ReviewStore, engine: Engine) -> None:
    with pytest.raises(ReviewNotFound):
        store.get("missing")
    # The Context refuses it before anything runs (a pydantic error naming the field)...
    with pytest.raises(ValueError, match="request_id"):
        submit(store, engine, "x", "r" * 500)
    # ...and the store still guards a Context built without validation.
    from guardrails import Context

    with pytest.raises(ReviewError, match="request_id"):
        store.submit(engine.validate("x"), Context.model_construct(request_id="r" * 500))


def test_hostile_and_non_english_text_round_trips(store: ReviewStore, engine: Engine) -> None:
    text = "Gewinn garantiert 🚀 — 100% safe; '; DROP TABLE review_items; -- \x00 مرحبا 你好"
    item, _ = submit(store, engine, text, "ünïcødé-🚀")
    assert store.get(item.id).output == text
    assert store.get_by_request("ünïcødé-🚀") is not None
    assert store.count() == 1


def test_export_jsonl_labels(store: ReviewStore, engine: Engine) -> None:
    outcomes = {
        "approve": Decision(kind=DecisionKind.APPROVE),
        "reject": Decision(kind=DecisionKind.REJECT),
        "edit": Decision(kind=DecisionKind.APPROVE_EDIT, edited_output="fixed"),
        "fp": Decision(kind=DecisionKind.FALSE_POSITIVE),
    }
    for rid, decision in outcomes.items():
        item, _ = submit(store, engine, f"{rid}: guaranteed returns", rid)
        store.decide(item.id, decision, actor="eve")
    submit(store, engine, "still open: risk-free", "open")
    buf = io.StringIO()
    assert export_jsonl(store.decided(), buf) == 4
    rows = {r["request_id"]: r for r in map(json.loads, buf.getvalue().splitlines())}
    assert {k: r["flagged"] for k, r in rows.items()} == {"approve": False, "reject": True, "edit": True, "fp": False}
    assert rows["edit"]["corrected"] == "fixed" and rows["edit"]["text"] == "edit: guaranteed returns"
    assert rows["reject"]["codes"] == ["SVC001"] and rows["reject"]["reviewer"] == "eve"


def test_request_id_with_nul_is_refused(store: ReviewStore, engine: Engine) -> None:
    with pytest.raises(ValueError, match="NUL"):
        submit(store, engine, "risk-free", "a\x00b")
    from guardrails import Context

    with pytest.raises(ReviewError, match="NUL"):
        store.submit(engine.validate("risk-free"), Context.model_construct(request_id="a\x00b"))


def test_suppressions_from_another_process_arrive_after_the_ttl(store: ReviewStore, engine: Engine) -> None:
    import time

    text = "Totally risk-free."
    item, _ = submit(store, engine, text, "other")
    cache = store.suppressor(ttl_s=0.2)
    assert not cache("demo", "unverified-guarantee", engine.validate(text).findings[0].fingerprint)
    # Another process (another store object on the same database) marks the false positive.
    other = ReviewStore(store.engine)
    other.decide(item.id, Decision(kind=DecisionKind.FALSE_POSITIVE), actor="elsewhere")
    fp = engine.validate(text).findings[0].fingerprint
    deadline = time.monotonic() + 10
    while not cache("demo", "unverified-guarantee", fp):
        assert time.monotonic() < deadline, "the cache never picked up the other process's suppression"
        time.sleep(0.05)


def test_nul_in_lookups_finds_nothing(store: ReviewStore, engine: Engine) -> None:
    item, _ = submit(store, engine, "risk-free", "nul-lookups")
    with pytest.raises(ReviewNotFound):
        store.get("a\x00b")
    with pytest.raises(ReviewNotFound):
        store.decide("a\x00b", Decision(kind=DecisionKind.APPROVE), actor="x")
    assert store.get_by_request("nul\x00lookups") is None
    assert store.items(ItemFilter(code="SVC\x00001")) == [] and store.count(ItemFilter(policy="demo\x00")) == 0
    assert store.get(item.id).state is ReviewState.OPEN


def test_concurrent_decisions_in_process_one_wins(store: ReviewStore, engine: Engine) -> None:
    for n in range(10):
        item, _ = submit(store, engine, "risk-free", f"race-{n}")
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def decide(
            kind: DecisionKind,
            item_id: str = item.id,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                store.decide(item_id, Decision(kind=kind), actor=kind.value)
                outcomes.append("won")
            except ReviewConflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=decide, args=(k,)) for k in (DecisionKind.APPROVE, DecisionKind.REJECT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["conflict", "won"]
        assert len([e for e in store.audit_trail(item.id) if e.action.startswith("decide:")]) == 1
