"""Held answers and webhook deliveries, kept in the review queue's database (SQLite or PostgreSQL).

The held answer is stored as the chat completion the caller would have received, unredacted: it is what a reviewer's
approval releases. It is readable only through the key that asked (service/hold/routes.py), never listed.
A row leaves `held` exactly once (compare-and-set), so a release is idempotent across pollers, the sweeper,
replicas and restarts.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()

held = sa.Table(
    "held_answers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # the review item's id
    sa.Column("key_name", sa.String(200), nullable=False),
    sa.Column("policy", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),  # held | released
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=True),  # approve | approve_edit | reject | timeout_block | ...
    sa.Column("reason", sa.String(100), nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("webhook_url", sa.Text, nullable=True),
    sa.Column("webhook_state", sa.String(20), nullable=False, index=True),  # none | pending | delivered | failed
    sa.Column("webhook_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("webhook_next_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("deadline_at", sa.Float, nullable=False),
    sa.Column("resolved_at", sa.Float, nullable=True),
)

# The review items a held answer waits for (one per reviewed choice; a validate call or a one-choice completion has
# just its own). Rows held before this table existed have none: their own id is then the only item.
held_items = sa.Table(
    "held_answer_items",
    metadata,
    sa.Column("held_id", sa.String(32), primary_key=True),
    sa.Column("item_id", sa.String(32), primary_key=True),
)
# The review page asks by item (which of these rows is a client waiting on?): the primary key leads with held_id.
_items_by_item = sa.Index("ix_held_answer_items_item_id", held_items.c.item_id)

deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("held_id", sa.String(32), nullable=False, index=True),
    sa.Column("key_name", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Column("at", sa.Float, nullable=False),
)


# The review queue's table, by name only (guardrails.reviews owns it): the sweeper asks which items are decided.
_items = sa.table("review_items", sa.column("id"), sa.column("state"))


@dataclass(frozen=True)
class HeldAnswer:
    id: str
    key_name: str
    policy: str
    state: str
    body: dict[str, Any]
    outcome: str | None
    reason: str | None
    result: dict[str, Any] | None
    webhook_url: str | None
    webhook_state: str
    webhook_attempts: int
    created_at: float
    deadline_at: float

    @property
    def released(self) -> bool:
        return self.state == "released"


@dataclass(frozen=True, slots=True)
class HeldMark:
    """What the review page shows of a held answer on one of its items: no body, no key, no webhook."""

    item_id: str
    held_id: str
    state: str  # held | released
    deadline_at: float
    outcome: str | None  # set once released: approve | ... | timeout_block | timeout_release | mixed

    @property
    def released(self) -> bool:
        return self.state == "released"


def _row(r: Any) -> HeldAnswer:
    return HeldAnswer(
        id=r["id"],
        key_name=r["key_name"],
        policy=r["policy"],
        state=r["state"],
        body=json.loads(r["body"]),
        outcome=r["outcome"],
        reason=r["reason"],
        result=None if r["result"] is None else json.loads(r["result"]),
        webhook_url=r["webhook_url"],
        webhook_state=r["webhook_state"],
        webhook_attempts=r["webhook_attempts"],
        created_at=r["created_at"],
        deadline_at=r["deadline_at"],
    )


def _urgency(mark: HeldMark) -> tuple[bool, float]:
    return (mark.released, mark.deadline_at)


class HeldStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        # create_all skips the indexes of a table that exists already (a database from before the index)
        with contextlib.suppress(sa.exc.DBAPIError):  # a replica created it between the check and the CREATE
            _items_by_item.create(engine, checkfirst=True)

    def hold(
        self,
        item_id: str,
        key_name: str,
        policy: str,
        body: dict[str, Any],
        *,
        timeout_s: float,
        webhook: str | None,
        items: Collection[str] = (),
    ) -> HeldAnswer:
        """Store a held answer waiting for `items` (review item ids; `item_id` when empty). The same review item
        is held once (a retried request gets the first hold)."""
        now = time.time()
        row = {
            "id": item_id,
            "key_name": key_name,
            "policy": policy,
            "state": "held",
            "body": json.dumps(body),
            "webhook_url": webhook,
            "webhook_state": "none",
            "webhook_attempts": 0,
            "created_at": now,
            "deadline_at": now + timeout_s,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(held.insert().values(**row))
                waits = sorted({item_id, *items})
                conn.execute(held_items.insert(), [{"held_id": item_id, "item_id": i} for i in waits])
        except sa.exc.IntegrityError:
            pass
        found = self.get(item_id)
        assert found is not None
        return found

    def get(self, item_id: str) -> HeldAnswer | None:
        if not (0 < len(item_id) <= 32) or "\x00" in item_id:
            return None
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(held).where(held.c.id == item_id)).mappings().first()
        return None if r is None else _row(r)

    def marks(self, item_ids: Collection[str]) -> dict[str, HeldMark]:
        """The held answer each of these review items belongs to, if any, in one query (the review page's rows).

        An item held by several answers (a request id shared by a retried request and an n > 1 completion) gets
        the one still waiting with the nearest deadline. Rows held before `held_answer_items` existed are found by
        their own id."""
        ids = sorted({i for i in item_ids if 0 < len(i) <= 32 and "\x00" not in i})
        if not ids:
            return {}
        cols = (held.c.id, held.c.state, held.c.deadline_at, held.c.outcome)
        by_item = (
            sa.select(held_items.c.item_id.label("item_id"), *cols)
            .join(held, held.c.id == held_items.c.held_id)
            .where(held_items.c.item_id.in_(ids))
        )
        by_own_id = sa.select(held.c.id.label("item_id"), *cols).where(held.c.id.in_(ids))
        found: dict[str, HeldMark] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(sa.union_all(by_item, by_own_id)).mappings():
                mark = HeldMark(r["item_id"], r["id"], r["state"], float(r["deadline_at"]), r["outcome"])
                if mark.item_id not in found or _urgency(mark) < _urgency(found[mark.item_id]):
                    found[mark.item_id] = mark
        return found

    def waiting(self, limit: int = 1000) -> list[HeldMark]:
        """Review items a client is waiting on (their held answer not released yet), nearest deadline first, then
        by item id: one query, from the index on `state` (few rows are ever held at once)."""
        cols = (held.c.id, held.c.state, held.c.deadline_at, held.c.outcome)
        item = sa.func.coalesce(held_items.c.item_id, held.c.id)
        query = (
            sa.select(item.label("item_id"), *cols)
            .select_from(held.outerjoin(held_items, held_items.c.held_id == held.c.id))
            .where(held.c.state == "held")
            .order_by(held.c.deadline_at, item)
            .limit(max(1, limit))
        )
        seen: dict[str, HeldMark] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(query).mappings():
                seen.setdefault(
                    r["item_id"], HeldMark(r["item_id"], r["id"], r["state"], float(r["deadline_at"]), None)
                )
        return list(seen.values())

    def due(self, limit: int = 200) -> list[HeldAnswer]:
        """Held answers whose review items are all decided or whose time ran out: one query, however many wait."""
        decided = sa.select(_items.c.id).where(_items.c.id == held.c.id, _items.c.state == "decided").exists()
        item_decided = (
            sa.select(_items.c.id).where(_items.c.id == held_items.c.item_id, _items.c.state == "decided").exists()
        )
        undecided = sa.select(held_items.c.item_id).where(held_items.c.held_id == held.c.id, ~item_decided).exists()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(held)
                .where(held.c.state == "held", sa.or_(held.c.deadline_at <= time.time(), sa.and_(decided, ~undecided)))
                .order_by(held.c.created_at)
                .limit(limit)
            ).mappings()
            return [_row(r) for r in rows]

    def release(self, item_id: str, outcome: str, reason: str | None, result: dict[str, Any]) -> bool:
        """Leave `held` once; True for the caller that did (it alone schedules the webhook)."""
        now = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(
                held.update()
                .where(held.c.id == item_id, held.c.state == "held")
                .values(
                    state="released",
                    outcome=outcome,
                    reason=reason,
                    result=json.dumps(result),
                    resolved_at=now,
                    webhook_state=sa.case((held.c.webhook_url.is_(None), "none"), else_="pending"),
                    webhook_next_at=now,
                )
            )
        return done.rowcount == 1

    def webhooks_due(self, limit: int = 50) -> list[HeldAnswer]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(held)
                .where(held.c.webhook_state == "pending", held.c.webhook_next_at <= time.time())
                .order_by(held.c.webhook_next_at)
                .limit(limit)
            ).mappings()
            return [_row(r) for r in rows]

    def claim_webhook(self, row: HeldAnswer, lease_s: float) -> bool:
        """Take the next attempt (compare-and-set on the attempt count): one replica delivers each attempt."""
        with self.engine.begin() as conn:
            done = conn.execute(
                held.update()
                .where(held.c.id == row.id, held.c.webhook_state == "pending")
                .where(held.c.webhook_attempts == row.webhook_attempts)
                .values(webhook_attempts=row.webhook_attempts + 1, webhook_next_at=time.time() + lease_s)
            )
        return done.rowcount == 1

    def webhook_result(
        self, row: HeldAnswer, attempt: int, *, status: int | None, error: str | None, state: str, next_at: float | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                deliveries.insert().values(
                    held_id=row.id,
                    key_name=row.key_name,
                    attempt=attempt,
                    url=row.webhook_url or "",
                    status=status,
                    error=None if error is None else error[:500],
                    at=time.time(),
                )
            )
            conn.execute(
                held.update()
                .where(held.c.id == row.id, held.c.webhook_attempts == attempt)
                .values(webhook_state=state, webhook_next_at=next_at)
            )

    def delivery_log(self, held_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = sa.select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if held_id is not None:
            q = q.where(deliveries.c.held_id == held_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]
