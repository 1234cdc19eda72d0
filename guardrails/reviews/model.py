"""Review queue data: items, states, decisions, audit entries, suppressions and queue filters."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guardrails.findings import Report, Severity


class ReviewState(StrEnum):
    OPEN = "open"
    IN_REVIEW = "in_review"
    DECIDED = "decided"


class DecisionKind(StrEnum):
    APPROVE = "approve"
    APPROVE_EDIT = "approve_edit"
    REJECT = "reject"
    FALSE_POSITIVE = "false_positive"
    CORRECT_FACT = "correct_fact"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactCorrection(_Model):
    """The known-facts row a reviewer writes when the output was right and the facts store was wrong."""

    entity: str = Field(min_length=1, max_length=500)
    attribute: str = Field(min_length=1, max_length=500)
    value: Any = Field(description="A typed value object, or a bare value read with `type`, `unit`, `currency`")
    type: str | None = Field(default=None, max_length=20, description="number, money, date, boolean, enum, text")
    unit: str | None = Field(default=None, max_length=100)
    currency: str | None = Field(default=None, max_length=3)
    source: str | None = Field(default=None, max_length=2000)


class Decision(_Model):
    kind: DecisionKind
    note: str | None = Field(default=None, max_length=10_000)
    edited_output: str | None = Field(default=None, description="For approve_edit: the text to deliver instead")
    fingerprints: list[str] | None = Field(
        default=None, description="For false_positive: which findings to suppress (default: all open findings)"
    )
    fact: FactCorrection | None = Field(default=None, description="For correct_fact: the row to write")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Decision:
        if self.kind is DecisionKind.APPROVE_EDIT and self.edited_output is None:
            raise ValueError("approve_edit needs 'edited_output'")
        if self.kind is DecisionKind.CORRECT_FACT and self.fact is None:
            raise ValueError("correct_fact needs 'fact' (entity, attribute, value)")
        return self


class ReviewItem(_Model):
    id: str
    request_id: str
    policy: str
    policy_version: str
    verdict: str
    state: ReviewState
    assignee: str | None
    sampled: bool = Field(description="True when queued by the policy's sample rate rather than a review verdict")
    output: str = Field(description="The original output under review")
    delivered: str = Field(description="The output the engine would deliver (repaired when repairs applied)")
    report: Report
    context: dict[str, Any]
    codes: list[str]
    max_severity: Severity | None
    decision: DecisionKind | None
    final_output: str | None = Field(description="What the reviewer released (approve / approve_edit)")
    decided_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    decided_at: dt.datetime | None
    claim_expires_at: dt.datetime | None = Field(
        default=None, description="When the assignee's claim lapses (None: an assignment without a lease)"
    )

    def claimed_by_other(self, reviewer: str, now: dt.datetime) -> bool:
        """Someone else holds a live claim on this item."""
        if self.state is not ReviewState.IN_REVIEW or self.assignee in (None, reviewer):
            return False
        return self.claim_expires_at is None or self.claim_expires_at > now


class AuditEntry(_Model):
    id: int
    item_id: str
    actor: str
    at: dt.datetime
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None


class Suppression(_Model):
    policy: str
    rule_id: str
    fingerprint: str
    created_by: str
    created_at: dt.datetime
    item_id: str | None
    hits: int = Field(default=0, description="Outputs it has silenced since it was made (counted by the sidecars)")
    example: str | None = Field(default=None, description="The text it was made for (from the item's output)")
    message: str | None = Field(default=None, description="The finding's message on that item")


class ItemFilter(_Model):
    """Queue filters; every field narrows the set. `policies` restricts to what a reviewer may see."""

    state: ReviewState | None = None
    states: list[ReviewState] | None = Field(default=None, description="Any of these states")
    code: str | None = None
    severity: Severity | None = Field(default=None, description="Items whose worst finding is at least this")
    policy: str | None = None
    policies: list[str] | None = Field(default=None, description="Visibility scope: None means every policy")
    older_than_s: float | None = Field(default=None, ge=0)
    newer_than_s: float | None = Field(default=None, ge=0)
    assignee: str | None = None
    text: str | None = Field(default=None, max_length=500, description="Full-text search of output, context, notes")
    route_policies: list[str] | None = Field(
        default=None, description="With route_codes: items of these policies or with one of those codes (a routing)"
    )
    route_codes: list[str] | None = Field(default=None, description="See route_policies")
    ids: list[str] | None = Field(default=None, description="Only these items (the review page's held-answers view)")

    @property
    def routed(self) -> bool:
        return self.route_policies is not None or self.route_codes is not None


class SortKey(StrEnum):
    AGE = "age"  # oldest first: the queue is worked in arrival order
    NEWEST = "newest"
    SEVERITY = "severity"  # worst open finding first, then oldest
    POLICY = "policy"


class QueueCounts(_Model):
    total: int
    capped: bool = Field(
        default=False,
        description="The set is larger than the count's cap: `total` is the cap, the breakdowns are left empty",
    )
    by_state: dict[str, int]
    by_code: dict[str, int]
    by_severity: dict[str, int]
    by_policy: dict[str, int]
