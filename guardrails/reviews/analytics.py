"""Reviewer analytics from the queue: decisions per reviewer and hour, the false-positive rate of each rule
(the data to retire or tune a rule) and agreement when two reviewers judged the same fingerprint.

Computed in Python over the decisions of a recent window (`days`), not in SQL: hour buckets and JSON
reports read differently on SQLite and PostgreSQL, and the window keeps the work bounded.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from guardrails.findings import FindingStatus
from guardrails.reviews.export import export_row
from guardrails.reviews.model import DecisionKind, ItemFilter
from guardrails.reviews.store import ReviewStore

MAX_ITEMS = 20_000


@dataclass
class RuleRate:
    rule_id: str
    decided: int = 0
    false_positives: int = 0

    @property
    def rate(self) -> float:
        return self.false_positives / self.decided if self.decided else 0.0


@dataclass
class Agreement:
    fingerprints: int = 0
    """Fingerprints judged by two or more reviewers."""
    agreed: int = 0
    disagreements: list[tuple[str, str, dict[str, bool]]] = field(default_factory=list)
    """(rule id, fingerprint, reviewer -> flagged) where reviewers disagreed."""

    @property
    def rate(self) -> float:
        return self.agreed / self.fingerprints if self.fingerprints else 1.0


@dataclass
class Analytics:
    since: dt.datetime
    items: int
    per_reviewer_hour: dict[str, Counter[str]]
    """reviewer -> {"YYYY-MM-DD HH:00": decisions}"""
    rules: list[RuleRate]
    agreement: Agreement


def analytics(store: ReviewStore, f: ItemFilter | None = None, *, days: float = 30) -> Analytics:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    per_hour: dict[str, Counter[str]] = defaultdict(Counter)
    rates: dict[str, RuleRate] = {}
    votes: dict[tuple[str, str, str], dict[str, bool]] = defaultdict(dict)
    n = 0
    for item in store.decided(f):
        if item.decided_at is None or item.decided_at < since:
            continue
        n += 1
        if n > MAX_ITEMS:
            break
        who = item.decided_by or "?"
        per_hour[who][item.decided_at.strftime("%Y-%m-%d %H:00")] += 1
        flagged = bool(export_row(item)["flagged"])
        for finding in item.report.findings:
            if finding.status is FindingStatus.SUPPRESSED:
                continue
            rate = rates.setdefault(finding.rule_id, RuleRate(finding.rule_id))
            rate.decided += 1
            rate.false_positives += item.decision is DecisionKind.FALSE_POSITIVE
            votes[(item.policy, finding.rule_id, finding.fingerprint)][who] = flagged
    agreement = Agreement()
    for (_policy, rule_id, fp), by_reviewer in sorted(votes.items()):
        if len(by_reviewer) < 2:
            continue
        agreement.fingerprints += 1
        if len(set(by_reviewer.values())) == 1:
            agreement.agreed += 1
        else:
            agreement.disagreements.append((rule_id, fp, dict(sorted(by_reviewer.items()))))
    rules = sorted(rates.values(), key=lambda r: (-r.rate, -r.decided, r.rule_id))
    return Analytics(
        since=since, items=min(n, MAX_ITEMS), per_reviewer_hour=dict(per_hour), rules=rules, agreement=agreement
    )
