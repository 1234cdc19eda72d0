"""A report in the form the batch writes it: masked unless values were asked for, serialised once.

Workers build these (`Outcome.of`), so the parent process neither unpickles full Report objects nor masks and
serialises them: per row it only joins strings. A report that goes to the review queue is parsed again from
its masked JSON, and those are few.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardrails.engine import Engine
    from guardrails.findings import Report


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: str
    codes: tuple[str, ...]
    output: str
    """The delivered output, masked like the report."""
    report_json: str
    """The report as written: masked unless the run shows values."""
    sampled: bool
    """The policy sends it to review (a review verdict, or its sample rate drew it)."""
    needs_action: bool
    masked_json: str | None = None
    """The masked report when `report_json` is not, for rows the review queue may take."""
    review_id: str | None = None

    @classmethod
    def of(cls, report: Report, engine: Engine, sensitive: Collection[str], *, show_values: bool) -> Outcome:
        masked = report.redacted(sensitive)
        shown = report if show_values else masked
        sampled = engine.should_sample_for_review(report)
        needs_action = report.verdict.needs_action
        return cls(
            verdict=report.verdict.value,
            codes=tuple(sorted({f.code for f in report.findings})),
            output=shown.output,
            report_json=shown.model_dump_json(by_alias=True),
            sampled=sampled,
            needs_action=needs_action,
            masked_json=masked.model_dump_json(by_alias=True) if show_values and (sampled or needs_action) else None,
        )

    def masked_report(self) -> Report:
        from guardrails.findings import Report

        return Report.model_validate_json(self.masked_json or self.report_json)

    def with_review_id(self, review_id: str) -> Outcome:
        data = json.loads(self.report_json)
        data["review_id"] = review_id
        return replace(self, review_id=review_id, report_json=json.dumps(data, ensure_ascii=False))
