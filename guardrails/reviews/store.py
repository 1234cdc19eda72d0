"""ReviewStore: submit, list, assign and decide review items, with an audit trail, on SQLite or PostgreSQL.

Concurrency: every transition (assign, decide) holds the item's row for its whole transaction, a
`SELECT ... FOR UPDATE` on PostgreSQL and the database's write lock on SQLite (`BEGIN IMMEDIATE`: SQLite
has no row locks, and a deferred transaction reads before it writes, so two deciders both saw "open"). The
update is also a compare-and-set on the state and `updated_at` it read, so of two concurrent decisions
exactly one wins and the other raises ReviewConflict before any side effect (a fact write) runs.

Durability: every write commits before the call returns, so an item the caller was told about survives
a crash of this process. On SQLite the database runs in WAL mode with `synchronous=FULL`: NORMAL would
already survive a killed process (the WAL sits in the OS page cache), but it can lose the last commits on
power loss, and review submissions are rare enough (only `review` verdicts and a sample) that the extra
fsync per commit costs nothing that matters while an acknowledged item must never vanish.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from guardrails.context import Context
from guardrails.findings import FindingStatus, Report, Severity
from guardrails.reviews import schema
from guardrails.reviews.model import (
    AuditEntry,
    Decision,
    DecisionKind,
    FactCorrection,
    ItemFilter,
    QueueCounts,
    ReviewItem,
    ReviewState,
    Suppression,
)

FactWriter = Callable[[FactCorrection, str], dict[str, Any]]
"""(correction, actor) -> the row written, as JSON-able data (for the audit trail)."""

Revalidator = Callable[[ReviewItem], Report]
"""item -> a fresh Report of the item's output under its policy (after a fact was corrected)."""

_RELEASABLE = frozenset({"pass", "repaired"})

MAX_REQUEST_ID = 200
_SEVERITIES = list(Severity)


class ReviewError(Exception):
    """A request the queue cannot honour; the message says why, for people."""


class ReviewNotFound(ReviewError):
    pass


class ReviewConflict(ReviewError):
    """The item is not in a state that allows this (already decided, assigned to someone else)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; everything we stored was UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN (deferred, issued just before the first write) cannot take the
    # write lock up front; SQLAlchemy's begin event below issues BEGIN itself.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN (waiting up to busy_timeout): what a row lock is elsewhere.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_db_engine(url: str) -> Engine:
    """A SQLAlchemy engine for `url`; SQLite files get their directory created and WAL + synchronous=FULL."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class ReviewStore:
    """The review queue. Thread-safe; every method runs in its own transaction and commits before returning."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._caches: list[SuppressionCache] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> ReviewStore:
        store = cls(create_db_engine(url))
        if create:
            schema.metadata.create_all(store.engine)
        return store

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- submit ---------------------------------------------------------------------------------

    def submit(
        self, report: Report, context: Context | dict[str, Any] | None = None, *, sampled: bool = False
    ) -> tuple[ReviewItem, bool]:
        """Queue a report; returns (item, created). The same request id is stored once."""
        ctx = Context.coerce(context)
        request_id = ctx.request_id or uuid.uuid4().hex
        if len(request_id) > MAX_REQUEST_ID:
            raise ReviewError(f"request_id is {len(request_id)} characters, over the limit of {MAX_REQUEST_ID}")
        if "\x00" in request_id:
            raise ReviewError("request_id must not contain NUL characters")
        existing = self.get_by_request(request_id)
        if existing is not None:
            return existing, False
        item_id = uuid.uuid4().hex
        open_findings = [f for f in report.findings if f.status is not FindingStatus.SUPPRESSED]
        codes = sorted({f.code for f in open_findings})
        worst = max((f.severity.rank for f in open_findings), default=None)
        now = _now()
        row = {
            "id": item_id,
            "request_id": request_id,
            "policy": report.policy,
            "policy_version": report.policy_version,
            "verdict": report.verdict.value,
            "state": ReviewState.OPEN.value,
            "assignee": None,
            "sampled": sampled,
            "output": report.original,
            "delivered": report.output,
            "report_json": report.model_dump_json(by_alias=True),
            "context_json": ctx.model_dump_json(by_alias=True, exclude_defaults=True),
            "codes": " ".join(codes),
            "severity_rank": worst,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(schema.items.insert().values(**row))
                if codes:
                    conn.execute(schema.item_codes.insert(), [{"item_id": item_id, "code": c} for c in codes])
                self._audit(
                    conn, item_id, "system", "submit", before=None, after={"state": "open", "verdict": row["verdict"]}
                )
        except sa.exc.IntegrityError:
            # A concurrent submit with the same request id won the race: answer with its item.
            existing = self.get_by_request(request_id)
            if existing is None:
                raise
            return existing, False
        item = self.get(item_id)
        return item, True

    # -- read -----------------------------------------------------------------------------------

    def get(self, item_id: str) -> ReviewItem:
        if not _storable(item_id):
            raise ReviewNotFound(f"no review item {item_id!r}")
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(schema.items).where(schema.items.c.id == item_id)).mappings().first()
        if row is None:
            raise ReviewNotFound(f"no review item {item_id!r}")
        return _item(row)

    def get_by_request(self, request_id: str) -> ReviewItem | None:
        if not _storable(request_id):
            return None
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(schema.items).where(schema.items.c.request_id == request_id)).mappings().first()
            )
        return None if row is None else _item(row)

    def _where(self, f: ItemFilter) -> list[sa.ColumnElement[bool]]:
        c = schema.items.c
        clauses: list[sa.ColumnElement[bool]] = []
        texts = [f.code, f.policy, f.assignee, *(f.policies or [])]
        if not all(_storable(t) for t in texts if t is not None):
            return [sa.false()]  # nothing stored holds NUL, and PostgreSQL refuses it even as a parameter
        if f.state is not None:
            clauses.append(c.state == f.state.value)
        if f.policy is not None:
            clauses.append(c.policy == f.policy)
        if f.policies is not None:
            clauses.append(c.policy.in_(f.policies) if f.policies else sa.false())
        if f.severity is not None:
            clauses.append(c.severity_rank >= f.severity.rank)
        if f.code is not None:
            sub = sa.select(schema.item_codes.c.item_id).where(schema.item_codes.c.code == f.code)
            clauses.append(c.id.in_(sub))
        if f.assignee is not None:
            clauses.append(c.assignee == f.assignee)
        now = _now()
        if f.older_than_s is not None:
            clauses.append(c.created_at <= now - dt.timedelta(seconds=f.older_than_s))
        if f.newer_than_s is not None:
            clauses.append(c.created_at >= now - dt.timedelta(seconds=f.newer_than_s))
        return clauses

    def items(self, f: ItemFilter | None = None, *, limit: int = 50, offset: int = 0) -> list[ReviewItem]:
        """Items matching the filter, oldest first (the queue is worked in arrival order)."""
        query = (
            sa.select(schema.items)
            .where(*self._where(f or ItemFilter()))
            .order_by(schema.items.c.created_at, schema.items.c.id)
            .limit(max(0, min(limit, 1000)))
            .offset(max(0, offset))
        )
        with self.engine.connect() as conn:
            return [_item(r) for r in conn.execute(query).mappings()]

    def ids(self, f: ItemFilter | None = None, *, limit: int = 10_000) -> list[str]:
        query = (
            sa.select(schema.items.c.id)
            .where(*self._where(f or ItemFilter()))
            .order_by(schema.items.c.created_at, schema.items.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [str(r) for r in conn.execute(query).scalars()]

    def count(self, f: ItemFilter | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(schema.items).where(*self._where(f or ItemFilter()))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def counts(self, f: ItemFilter | None = None) -> QueueCounts:
        """Counts of the filtered set by state, code, worst severity and policy (for the queue's facets)."""
        c = schema.items.c
        where = self._where(f or ItemFilter())
        with self.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(schema.items).where(*where)).scalar_one())

            def group(col: Any) -> dict[str, int]:
                rows = conn.execute(sa.select(col, sa.func.count()).where(*where).group_by(col))
                return {str(k): int(n) for k, n in rows if k is not None}

            by_state = group(c.state)
            by_policy = group(c.policy)
            by_rank = group(c.severity_rank)
            code_rows = conn.execute(
                sa.select(schema.item_codes.c.code, sa.func.count())
                .select_from(schema.item_codes.join(schema.items, schema.items.c.id == schema.item_codes.c.item_id))
                .where(*where)
                .group_by(schema.item_codes.c.code)
            )
            by_code = {str(k): int(n) for k, n in code_rows}
        by_severity = {_SEVERITIES[int(k)].value: n for k, n in by_rank.items()}
        return QueueCounts(
            total=total, by_state=by_state, by_code=by_code, by_severity=by_severity, by_policy=by_policy
        )

    def audit_trail(self, item_id: str) -> list[AuditEntry]:
        query = sa.select(schema.audit).where(schema.audit.c.item_id == item_id).order_by(schema.audit.c.id)
        with self.engine.connect() as conn:
            return [
                AuditEntry(
                    id=r["id"],
                    item_id=r["item_id"],
                    actor=r["actor"],
                    at=_aware(r["at"]) or _now(),
                    action=r["action"],
                    before=json.loads(r["before_json"]) if r["before_json"] else None,
                    after=json.loads(r["after_json"]) if r["after_json"] else None,
                    note=r["note"],
                )
                for r in conn.execute(query).mappings()
            ]

    def decided(self, f: ItemFilter | None = None, *, batch: int = 500) -> Iterator[ReviewItem]:
        """Every decided item matching `f`, in decision order, streamed in batches."""
        base = (f or ItemFilter()).model_copy(update={"state": ReviewState.DECIDED})
        offset = 0
        while True:
            query = (
                sa.select(schema.items)
                .where(*self._where(base))
                .order_by(schema.items.c.decided_at, schema.items.c.id)
                .limit(batch)
                .offset(offset)
            )
            with self.engine.connect() as conn:
                rows = [_item(r) for r in conn.execute(query).mappings()]
            yield from rows
            if len(rows) < batch:
                return
            offset += batch

    # -- transitions ----------------------------------------------------------------------------

    @contextmanager
    def _transition(self) -> Iterator[Connection]:
        """A write transaction that locks what it reads (see the module docstring)."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    def assign(self, item_id: str, assignee: str | None, *, actor: str) -> ReviewItem:
        """Assign to a reviewer (state in_review), or release with assignee None (state open)."""
        with self._transition() as conn:
            before = self._row_for_update(conn, item_id)
            if before["state"] == ReviewState.DECIDED.value:
                raise ReviewConflict(f"item {item_id} is already decided")
            state = ReviewState.OPEN if assignee is None else ReviewState.IN_REVIEW
            self._compare_and_set(conn, before, assignee=assignee, state=state.value, updated_at=_now())
            self._audit(
                conn,
                item_id,
                actor,
                "assign" if assignee else "release",
                before={"state": before["state"], "assignee": before["assignee"]},
                after={"state": state.value, "assignee": assignee},
            )
        return self.get(item_id)

    def decide(
        self,
        item_id: str,
        decision: Decision,
        *,
        actor: str,
        fact_writer: FactWriter | None = None,
        revalidate: Revalidator | None = None,
    ) -> ReviewItem:
        """Record a decision. Decided items are final: deciding again raises ReviewConflict.

        `correct_fact` writes the fact, then validates the item's output again (`revalidate`): only an
        output that now passes (or is repaired) is released; one still flagged stays in the queue with the
        new report, its findings and verdict, and the audit trail records the correction either way.
        """
        if decision.kind is DecisionKind.CORRECT_FACT and fact_writer is None:
            raise ReviewError("correct_fact needs a facts store, and none is configured")
        if decision.kind is DecisionKind.CORRECT_FACT and revalidate is None:
            raise ReviewError("correct_fact needs the item's policy to validate the output again, and none is given")
        suppressed: list[dict[str, str]] = []
        with self._transition() as conn:
            row = self._row_for_update(conn, item_id)
            if row["state"] == ReviewState.DECIDED.value:
                raise ReviewConflict(f"item {item_id} was already decided ({row['decision']} by {row['decided_by']})")
            # Deciding an item assigned to someone else is allowed (a lead clears a queue); the audit shows who.
            report = Report.model_validate_json(row["report_json"])
            final: str | None = None
            after_extra: dict[str, Any] = {}
            held = False  # a corrected fact that still leaves the output flagged keeps the item queued
            if decision.kind is DecisionKind.APPROVE:
                final = row["delivered"]
            elif decision.kind is DecisionKind.APPROVE_EDIT:
                final = decision.edited_output
            elif decision.kind is DecisionKind.FALSE_POSITIVE:
                final = row["output"]
                suppressed = self._suppress(conn, report, decision.fingerprints, actor, item_id)
                after_extra["suppressed"] = suppressed
            elif decision.kind is DecisionKind.CORRECT_FACT:
                assert decision.fact is not None and fact_writer is not None and revalidate is not None
                after_extra["fact"] = fact_writer(decision.fact, actor)
                fresh = revalidate(_item(row))
                after_extra["revalidated"] = _report_summary(fresh)
                if fresh.verdict.value not in _RELEASABLE:
                    self._still_flagged(conn, row, fresh, actor=actor, decision=decision, after_extra=after_extra)
                    held = True
                else:
                    self._replace_report(conn, item_id, fresh)
                    final = fresh.output
            if not held:
                self._decided(conn, row, decision, actor=actor, final=final, after_extra=after_extra)
        if suppressed:
            self._invalidate_caches()
        return self.get(item_id)

    def _decided(
        self,
        conn: Connection,
        row: RowMapping,
        decision: Decision,
        *,
        actor: str,
        final: str | None,
        after_extra: dict[str, Any],
    ) -> None:
        item_id = row["id"]
        now = _now()
        self._compare_and_set(
            conn,
            row,
            state=ReviewState.DECIDED.value,
            decision=decision.kind.value,
            final_output=final,
            decided_by=actor,
            decided_at=now,
            updated_at=now,
            assignee=row["assignee"] or actor,
        )
        self._audit(
            conn,
            item_id,
            actor,
            f"decide:{decision.kind.value}",
            before={"state": row["state"], "assignee": row["assignee"], "output": row["delivered"]},
            after={
                "state": ReviewState.DECIDED.value,
                "decision": decision.kind.value,
                "output": final,
                **after_extra,
            },
            note=decision.note,
        )

    def _still_flagged(
        self,
        conn: Connection,
        row: RowMapping,
        fresh: Report,
        *,
        actor: str,
        decision: Decision,
        after_extra: dict[str, Any],
    ) -> None:
        """A corrected fact did not clear the output: keep the item in the queue with its new report."""
        self._replace_report(conn, row["id"], fresh)
        self._compare_and_set(conn, row, updated_at=_now())
        self._audit(
            conn,
            row["id"],
            actor,
            "correct_fact",
            before={"state": row["state"], "verdict": row["verdict"], "codes": row["codes"].split()},
            after={"state": row["state"], **after_extra},
            note=decision.note,
        )

    def _replace_report(self, conn: Connection, item_id: str, report: Report) -> None:
        open_findings = [f for f in report.findings if f.status is not FindingStatus.SUPPRESSED]
        codes = sorted({f.code for f in open_findings})
        conn.execute(
            schema.items.update()
            .where(schema.items.c.id == item_id)
            .values(
                verdict=report.verdict.value,
                delivered=report.output,
                report_json=report.model_dump_json(by_alias=True),
                codes=" ".join(codes),
                severity_rank=max((f.severity.rank for f in open_findings), default=None),
            )
        )
        conn.execute(schema.item_codes.delete().where(schema.item_codes.c.item_id == item_id))
        if codes:
            conn.execute(schema.item_codes.insert(), [{"item_id": item_id, "code": c} for c in codes])

    def _compare_and_set(self, conn: Connection, before: RowMapping, **values: Any) -> None:
        """Update the item only if it is still as read: of two racing transitions one wins, the other conflicts."""
        c = schema.items.c
        done = conn.execute(
            schema.items.update()
            .where(c.id == before["id"], c.state == before["state"], c.updated_at == before["updated_at"])
            .values(**values)
        )
        if done.rowcount != 1:
            raise ReviewConflict(f"item {before['id']} was changed by someone else meanwhile; reload it")

    def _row_for_update(self, conn: Connection, item_id: str) -> RowMapping:
        if not _storable(item_id):
            raise ReviewNotFound(f"no review item {item_id!r}")
        query = sa.select(schema.items).where(schema.items.c.id == item_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise ReviewNotFound(f"no review item {item_id!r}")
        return row

    def _audit(
        self,
        conn: Connection,
        item_id: str,
        actor: str,
        action: str,
        *,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        note: str | None = None,
    ) -> None:
        conn.execute(
            schema.audit.insert().values(
                item_id=item_id,
                actor=actor,
                at=_now(),
                action=action,
                before_json=json.dumps(before, default=str) if before is not None else None,
                after_json=json.dumps(after, default=str) if after is not None else None,
                note=note,
            )
        )

    # -- suppressions ---------------------------------------------------------------------------

    def _suppress(
        self, conn: Connection, report: Report, fingerprints: Sequence[str] | None, actor: str, item_id: str
    ) -> list[dict[str, str]]:
        wanted = set(fingerprints) if fingerprints is not None else None
        chosen = {
            (f.rule_id, f.fingerprint)
            for f in report.findings
            if f.status is FindingStatus.OPEN and (wanted is None or f.fingerprint in wanted)
        }
        if wanted is not None:
            unknown = wanted - {fp for _, fp in chosen}
            if unknown:
                raise ReviewError(f"no open finding with fingerprint(s) {', '.join(sorted(unknown))} in this item")
        if not chosen:
            raise ReviewError("this item has no open finding to mark as a false positive")
        existing = {
            (r.rule_id, r.fingerprint)
            for r in conn.execute(
                sa.select(schema.suppressions.c.rule_id, schema.suppressions.c.fingerprint).where(
                    schema.suppressions.c.policy == report.policy
                )
            )
        }
        new = sorted(chosen - existing)
        if new:
            conn.execute(
                schema.suppressions.insert(),
                [
                    {
                        "policy": report.policy,
                        "rule_id": rule_id,
                        "fingerprint": fp,
                        "created_by": actor,
                        "created_at": _now(),
                        "item_id": item_id,
                    }
                    for rule_id, fp in new
                ],
            )
        return [{"policy": report.policy, "rule_id": r, "fingerprint": fp} for r, fp in sorted(chosen)]

    def suppressions(self, policy: str | None = None) -> list[Suppression]:
        query = sa.select(schema.suppressions)
        if policy is not None:
            query = query.where(schema.suppressions.c.policy == policy)
        with self.engine.connect() as conn:
            return [
                Suppression(
                    policy=r["policy"],
                    rule_id=r["rule_id"],
                    fingerprint=r["fingerprint"],
                    created_by=r["created_by"],
                    created_at=_aware(r["created_at"]) or _now(),
                    item_id=r["item_id"],
                )
                for r in conn.execute(query).mappings()
            ]

    def suppressor(self, ttl_s: float = 5.0) -> SuppressionCache:
        """A callable for `Engine(suppressor=...)`: an in-memory set, refreshed every `ttl_s` and on local writes."""
        cache = SuppressionCache(self, ttl_s)
        with self._lock:
            self._caches.append(cache)
        return cache

    def _invalidate_caches(self) -> None:
        with self._lock:
            for cache in self._caches:
                cache.invalidate()


class SuppressionCache:
    """(policy, rule id, fingerprint) -> suppressed? Answered from memory so validation stays in microseconds.

    The first call loads synchronously; afterwards a stale set is refreshed in a background thread while
    the old one keeps answering (validation never waits on the database). A decision taken through this
    store reloads the set at once, in the deciding thread.
    """

    def __init__(self, store: ReviewStore, ttl_s: float) -> None:
        self._store = store
        self._ttl = ttl_s
        self._keys: frozenset[tuple[str, str, str]] | None = None
        self._loaded_at = float("-inf")
        self._refreshing = threading.Lock()

    def invalidate(self) -> None:
        self.reload()

    def reload(self) -> None:
        with self._refreshing:
            self._load()

    def _load(self) -> None:
        keys = frozenset((s.policy, s.rule_id, s.fingerprint) for s in self._store.suppressions())
        self._keys, self._loaded_at = keys, time.monotonic()

    def _refresh_in_background(self) -> None:
        if not self._refreshing.acquire(blocking=False):
            return  # a refresh is already running

        def run() -> None:
            try:
                self._load()
            except Exception:  # the database is unreachable: keep answering from the last good set
                self._loaded_at = time.monotonic()
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name="outguard-suppressions", daemon=True).start()

    def __call__(self, policy: str, rule_id: str, fp: str) -> bool:
        keys = self._keys
        if keys is None:
            self.reload()
            keys = self._keys or frozenset()
        elif time.monotonic() - self._loaded_at >= self._ttl:
            self._refresh_in_background()
        return (policy, rule_id, fp) in keys

    def snapshot(self) -> FrozenSuppressions:
        """The current set, fixed: what a worker process of `Engine.validate_many` gets when pickled."""
        if self._keys is None:
            self.reload()
        return FrozenSuppressions(self._keys or frozenset())

    def __reduce__(self) -> tuple[type[FrozenSuppressions], tuple[frozenset[tuple[str, str, str]]]]:
        return FrozenSuppressions, (self.snapshot().keys,)


@dataclass(frozen=True)
class FrozenSuppressions:
    """A fixed set of suppressed (policy, rule id, fingerprint) keys: a picklable suppressor."""

    keys: frozenset[tuple[str, str, str]]

    def __call__(self, policy: str, rule_id: str, fp: str) -> bool:
        return (policy, rule_id, fp) in self.keys


def _item(row: RowMapping) -> ReviewItem:
    rank = row["severity_rank"]
    return ReviewItem(
        id=row["id"],
        request_id=row["request_id"],
        policy=row["policy"],
        policy_version=row["policy_version"],
        verdict=row["verdict"],
        state=ReviewState(row["state"]),
        assignee=row["assignee"],
        sampled=bool(row["sampled"]),
        output=row["output"],
        delivered=row["delivered"],
        report=Report.model_validate_json(row["report_json"]),
        context=json.loads(row["context_json"]),
        codes=row["codes"].split() if row["codes"] else [],
        max_severity=_SEVERITIES[rank] if rank is not None else None,
        decision=DecisionKind(row["decision"]) if row["decision"] else None,
        final_output=row["final_output"],
        decided_by=row["decided_by"],
        created_at=_aware(row["created_at"]) or _now(),
        updated_at=_aware(row["updated_at"]) or _now(),
        decided_at=_aware(row["decided_at"]),
    )


def _storable(text: str) -> bool:
    """Whether a caller's string can be a key or a query parameter: PostgreSQL text refuses NUL."""
    return "\x00" not in text


def _report_summary(report: Report) -> dict[str, Any]:
    """What the audit trail keeps of a re-validation: the verdict and each finding's code, rule and message."""
    return {
        "verdict": report.verdict.value,
        "codes": sorted({f.code for f in report.findings if f.status is not FindingStatus.SUPPRESSED}),
        "findings": [
            {"code": f.code, "rule_id": f.rule_id, "message": f.message, "status": f.status.value}
            for f in report.findings
        ],
    }
