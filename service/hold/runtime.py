"""Hold-for-review at run time: deciding to hold, resolving a held answer from its review item, the sweeper that
resolves answers nobody polls and delivers their webhooks (both driven by the database, so a restart resumes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from typing import Any

from guardrails.reviews import ReviewNotFound, ReviewStore
from service import webhooks
from service.hold import shape
from service.hold.config import HoldConfig
from service.hold.store import HeldAnswer, HeldStore

log = logging.getLogger("outguard.service.hold")

# A reject's reason code is the decision note when the note is a code ("off-label-dose"); free text stays internal.
_CODE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
HOLD_HEADER = "X-Outguard-Hold"
WEBHOOK_HEADER = "X-Outguard-Webhook"


class Holds:
    def __init__(self, reviews: ReviewStore, cfg: HoldConfig) -> None:
        self.cfg = cfg
        self.reviews = reviews
        self.store = HeldStore(reviews.engine)
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None

    # -- deciding ---------------------------------------------------------------------------------

    def wanted(self, policy: str, header: str | None) -> bool:
        if header is not None and header.strip().lower() == "wait":
            return True
        return policy in self.cfg.policies

    def secret_for(self, key_name: str) -> str | None:
        env = self.cfg.webhooks.secrets_env.get(key_name)
        return os.environ.get(env) or None if env else None

    # -- resolving --------------------------------------------------------------------------------

    def resolve(self, row: HeldAnswer) -> HeldAnswer:
        """The row, released if every review item it waits for was decided or its time ran out (blocking: call in
        a thread). At the timeout, choices already decided keep their decision; the others get `timeout_action`."""
        if row.released:
            return row
        items = shape.reviewed(row.id, row.body)
        decided = {item_id: self._outcome(item_id) for item_id in set(items.values())}
        outcomes = {index: decided[item_id] for index, item_id in items.items()}
        if any(o is None for o in outcomes.values()):
            if time.time() < row.deadline_at:
                return row
            late = shape.Outcome(f"timeout_{self.cfg.timeout_action}", None, "review_timeout")
            outcomes = {i: late if o is None else o for i, o in outcomes.items()}
        final = {i: o for i, o in outcomes.items() if o is not None}
        whole = shape.overall(final)
        self.store.release(row.id, whole.kind, whole.reason, shape.result(row.id, row.body, final, self.cfg.refusal))
        fresh = self.store.get(row.id)
        assert fresh is not None
        return fresh

    def _outcome(self, item_id: str) -> shape.Outcome | None:
        """A decided item's outcome; None while it waits (or when it is gone: then only the timeout ends it)."""
        try:
            item = self.reviews.get(item_id)
        except ReviewNotFound:
            return None
        if item.decision is None or item.state.value != "decided":
            return None
        kind = item.decision.value
        if kind == "reject":
            return shape.Outcome(kind, None, self._reason(item_id))
        if kind == "approve_edit":
            return shape.Outcome(kind, item.final_output, None)
        return shape.Outcome(kind)  # approve, false_positive, a corrected fact that now passes: as it was held

    def _reason(self, item_id: str) -> str:
        notes = [e.note for e in self.reviews.audit_trail(item_id) if e.action == "decide:reject" and e.note]
        note = (notes[-1] if notes else "").strip()
        return note if _CODE.fullmatch(note) else "rejected"

    # -- the sweeper ------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._stopping = asyncio.Event()
            self._task = loop.create_task(self._sweep_forever(self._stopping), name="outguard-holds")

    async def stop(self, grace_s: float = 10.0) -> None:
        """End the sweeper after its round: a round cancelled mid-way would leave its worker thread holding a
        database connection past the store's close (on PostgreSQL, a connection nobody closes); cancelled only
        when a round outlasts `grace_s` (a slow webhook receiver)."""
        task, self._task = self._task, None
        stopping, self._stopping = self._stopping, None
        if task is None or task.done():
            return
        loop = task.get_loop()
        if loop is not asyncio.get_running_loop():  # started by an earlier lifespan on another loop (test clients)
            if not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
            return
        if stopping is not None:
            stopping.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, grace_s)  # cancels the task on timeout

    async def _sweep_forever(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the sweeper; the next round retries
                log.exception("hold sweeper round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.cfg.sweep_s)

    async def sweep(self) -> None:
        for row in await asyncio.to_thread(self.store.due):
            await asyncio.to_thread(self.resolve, row)
        due = await asyncio.to_thread(self.store.webhooks_due)
        await asyncio.gather(*(self._deliver(row) for row in due))

    async def _deliver(self, row: HeldAnswer) -> None:
        cfg = self.cfg.webhooks
        if not await asyncio.to_thread(self.store.claim_webhook, row, cfg.timeout_s + 5):
            return  # another sweeper (replica) took this attempt
        attempt = row.webhook_attempts + 1
        secret = self.secret_for(row.key_name)
        if secret is None or row.webhook_url is None:
            await asyncio.to_thread(
                lambda: self.store.webhook_result(
                    row, attempt, status=None, error="no webhook secret", state="failed", next_at=None
                )
            )
            return
        body = json.dumps(payload(row), separators=(",", ":")).encode()
        result = await webhooks.deliver(row.webhook_url, body, secret, row.id, cfg)
        if result.ok:
            state, next_at = "delivered", None
        elif attempt >= cfg.max_attempts:
            state, next_at = "failed", None
        else:
            state, next_at = "pending", time.time() + webhooks.backoff(attempt, cfg)
        await asyncio.to_thread(
            lambda: self.store.webhook_result(
                row, attempt, status=result.status, error=result.error, state=state, next_at=next_at
            )
        )


def payload(row: HeldAnswer) -> dict[str, Any]:
    return {
        "type": "held.resolved",
        "id": row.id,
        "outcome": row.outcome,
        "reason": row.reason,
        "result": row.result,
    }
