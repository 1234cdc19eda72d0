"""Finding 3: two reviewers deciding the same item at the same moment.

Exactly one decision may win; the other gets 409 with the error shape, and the audit trail shows one
decision, on SQLite as on PostgreSQL. Two threads, two HTTP clients, a barrier so that both requests leave
at the same instant, against a real `guardrails serve` process, many times over.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from guardrails.reviews import ReviewState, ReviewStore
from tests.service.server import Server, start_server, stop

ROUNDS = 25


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    srv = start_server(tmp_path, db_url=db_url)
    try:
        yield srv
    finally:
        stop(srv)


def _queue(srv: Server, n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]  # the PostgreSQL database is shared by the session's tests
    with srv.client("validate") as c:
        ids = []
        for i in range(n):
            body = {"output": f"Guaranteed returns, round {i}.", "request_id": f"race-{run}-{i}"}
            r = c.post("/v1/validate", json=body)
            assert r.status_code == 200 and r.json()["verdict"] == "review", r.text
            ids.append(r.json()["review_id"])
    return ids


def _race(srv: Server, item_id: str, kinds: tuple[str, str]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(kinds))
    answers: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * len(kinds)
    clients = [srv.client("review") for _ in kinds]
    for c in clients:  # open the connections first: the barrier then releases two ready requests
        assert c.get("/healthz").status_code == 200

    def decide(n: int) -> None:
        barrier.wait()
        try:
            answers[n] = clients[n].post(f"/v1/reviews/{item_id}/decision", json={"kind": kinds[n], "note": f"r{n}"})
        except BaseException as exc:  # reported below, not swallowed
            answers[n] = exc

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(len(kinds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    out = []
    for a in answers:
        assert isinstance(a, httpx.Response), a
        out.append(a)
    return out


def test_concurrent_decisions_one_wins_the_other_conflicts(server: Server) -> None:
    ids = _queue(server, ROUNDS)
    store = ReviewStore.open(server.db_url, create=False)
    try:
        for n, item_id in enumerate(ids):
            kinds = ("approve", "reject") if n % 2 else ("reject", "approve")
            answers = _race(server, item_id, kinds)
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200, 409], f"round {n}: {[(a.status_code, a.text[:200]) for a in answers]}"
            winner = next(a for a in answers if a.status_code == 200).json()
            loser = next(a for a in answers if a.status_code == 409).json()
            assert loser["error"]["code"] == "conflict" and loser["error"]["message"]
            item = store.get(item_id)
            assert item.state is ReviewState.DECIDED and item.decision == winner["decision"]
            decisions = [e for e in store.audit_trail(item_id) if e.action.startswith("decide:")]
            assert len(decisions) == 1, f"round {n}: {[e.action for e in decisions]}"
            assert decisions[0].action == f"decide:{winner['decision']}"
    finally:
        store.close()


def test_concurrent_claims_do_not_both_win(server: Server) -> None:
    """Deciding while another reviewer decides with an edit: still one winner, the edit never overwritten."""
    ids = _queue(server, 8)
    store = ReviewStore.open(server.db_url, create=False)
    try:
        for item_id in ids:
            barrier = threading.Barrier(2)
            results: dict[str, int] = {}

            def edit(
                c: httpx.Client,
                name: str,
                text: str,
                target: str = item_id,
                barrier: threading.Barrier = barrier,
                results: dict[str, int] = results,
            ) -> None:
                barrier.wait()
                r = c.post(f"/v1/reviews/{target}/decision", json={"kind": "approve_edit", "edited_output": text})
                results[name] = r.status_code

            with server.client("review") as a, server.client("review") as b:
                a.get("/healthz"), b.get("/healthz")
                ts = [
                    threading.Thread(target=edit, args=(a, "a", "edit by A")),
                    threading.Thread(target=edit, args=(b, "b", "edit by B")),
                ]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join(60)
            assert sorted(results.values()) == [200, 409], results
            won = "a" if results["a"] == 200 else "b"
            assert store.get(item_id).final_output == f"edit by {won.upper()}"
    finally:
        store.close()
