"""Export decided review items as labelled JSONL for `guardrails eval`.

One line per decided item; `guardrails eval decisions.jsonl --text-field text --label-field flagged`:

- `text`: the original output the engine flagged
- `flagged`: true when the reviewer confirmed a problem (reject, approve_edit), false when the output was
  fine (approve, false_positive, correct_fact: the output was right and the facts store was wrong)
- `decision`, `codes` (finding codes on the original), `policy`, `policy_version`, `request_id`, `id`,
  `reviewer`, `decided_at` (ISO 8601 UTC), `sampled`, and `corrected` (the text released by approve_edit)
- `rules_dirs`: the rules directories the exporting sidecar serves (only when the exporter knows them), so
  that `guardrails eval FILE` scores the policy the rows came from without `--policy` / `--rules`
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import IO, Any

from guardrails.reviews.model import DecisionKind, ReviewItem

EXPORT_FIELDS = (
    "id",
    "request_id",
    "text",
    "flagged",
    "decision",
    "codes",
    "policy",
    "policy_version",
    "reviewer",
    "decided_at",
    "sampled",
    "corrected",
    "rules_dirs",
)

_FLAGGED = {
    DecisionKind.REJECT: True,
    DecisionKind.APPROVE_EDIT: True,
    DecisionKind.APPROVE: False,
    DecisionKind.FALSE_POSITIVE: False,
    DecisionKind.CORRECT_FACT: False,
}


def export_row(item: ReviewItem, rules_dirs: Sequence[str] | None = None) -> dict[str, Any]:
    if item.decision is None:
        raise ValueError(f"item {item.id} is not decided")
    row = {
        "id": item.id,
        "request_id": item.request_id,
        "text": item.output,
        "flagged": _FLAGGED[item.decision],
        "decision": item.decision.value,
        "codes": item.codes,
        "policy": item.policy,
        "policy_version": item.policy_version,
        "reviewer": item.decided_by,
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "sampled": item.sampled,
        "corrected": item.final_output if item.decision is DecisionKind.APPROVE_EDIT else None,
    }
    if rules_dirs is not None:
        row["rules_dirs"] = list(rules_dirs)
    return row


def export_jsonl(items: Iterable[ReviewItem], out: IO[str], *, rules_dirs: Sequence[str] | None = None) -> int:
    """Write one JSON object per decided item; returns the number written."""
    n = 0
    for item in items:
        out.write(json.dumps(export_row(item, rules_dirs), ensure_ascii=False) + "\n")
        n += 1
    return n
