"""Stopping the hold sweeper waits for its round: a round cancelled mid-way left its worker thread using the
database after the review store closed (on PostgreSQL, a connection nobody closed: a ResourceWarning later)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from guardrails.reviews import ReviewStore
from service.hold import HoldConfig, Holds


def test_stop_waits_for_the_round_in_flight_then_ends_the_sweeper(tmp_path: Path) -> None:
    store = ReviewStore.open(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    holds = Holds(store, HoldConfig(sweep_s=0.05))
    entered, finished = threading.Event(), threading.Event()
    due = holds.store.due

    def slow_due(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        time.sleep(0.5)  # a round's query in its worker thread
        rows = due(*args, **kwargs)
        finished.set()
        return rows

    holds.store.due = slow_due  # type: ignore[method-assign]

    async def run() -> bool:
        holds.start()
        while not entered.is_set():
            await asyncio.sleep(0.01)
        await holds.stop()
        return finished.is_set()

    try:
        assert asyncio.run(run()) is True  # the thread's query ended before stop() returned
        entered.clear()
        time.sleep(0.2)
        assert not entered.is_set()  # no round after stop
    finally:
        store.close()


def test_a_round_that_outlasts_the_grace_is_cancelled(tmp_path: Path) -> None:
    store = ReviewStore.open(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    holds = Holds(store, HoldConfig(sweep_s=0.05))
    release = threading.Event()

    def stuck(*args: Any, **kwargs: Any) -> Any:
        release.wait(5)
        return []

    holds.store.due = stuck  # type: ignore[method-assign]

    async def run() -> float:
        holds.start()
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await holds.stop(grace_s=0.2)
        return time.monotonic() - t0

    try:
        assert asyncio.run(run()) < 3  # bounded by the grace, not by the stuck query (8x slack for loaded CI)
    finally:
        release.set()
        store.close()
