"""What a held answer looks like while it waits and once it is decided.

Two kinds of held answer share the queue: a proxy completion (`object: chat.completion`, possibly with several
choices, any of which may have asked for review) and a `/v1/validate` call (`object: outguard.validation`). Both are
stored as what a reviewer's approval releases; these functions turn that and the decisions into the result a
long-poll, a held stream or a webhook delivers. Pure functions on JSON values: no database, no clock.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from guardrails import Report

COMPLETION = "chat.completion"
VALIDATION = "outguard.validation"
_REFUSED = frozenset({"reject", "timeout_block"})
_REPLACED = frozenset({"refusal", "annotations"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one reviewed item: the decision (or the timeout), the reviewer's text on an edit, and the
    reason code on a refusal."""

    kind: str  # approve | approve_edit | false_positive | correct_fact | reject | timeout_block | timeout_release
    edited: str | None = None
    reason: str | None = None

    @property
    def refused(self) -> bool:
        return self.kind in _REFUSED

    @property
    def as_held(self) -> bool:
        """The held text is delivered as it was (approved, a false positive, released at the timeout): only then
        may the result's report quote it. A reviewer who edited or refused it did not release those words."""
        return not self.refused and self.edited is None

    def mark(self, held_id: str) -> dict[str, Any]:
        """The `held` object a result carries (the shape the proxy's results have always had)."""
        mark: dict[str, Any] = {"id": held_id, "outcome": self.kind}
        if self.reason is not None:
            mark["reason"] = self.reason
        mark["edited"] = self.edited is not None
        return mark


def unquoted(report: Report) -> Report:
    """The report without the text it describes: every finding's value masked, output, original and edits left
    out. It says why an answer waits or was refused, never what the answer said."""
    ids = {f.rule_id for f in (*report.findings, *report.residual)}
    masked = report.redacted(ids)
    return masked.model_copy(update={"output": "", "original": "", "edits": [], "masked": True})


def unquoted_json(report: dict[str, Any]) -> dict[str, Any]:
    return unquoted(Report.model_validate(report)).model_dump(mode="json", by_alias=True)


def _infos(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Each choice's `outguard` info: under `outguard.choices` with n > 1, else `outguard` itself."""
    info: dict[str, Any] = body.get("outguard") or {}
    choices: list[dict[str, Any]] | None = info.get("choices")
    return choices if choices else [info]


def reviewed(held_id: str, body: dict[str, Any]) -> dict[int, str]:
    """Choice index -> the review item deciding it. A validation has one item: the held answer's own id."""
    if body.get("object") == VALIDATION:
        return {0: held_id}
    found = {
        i: str(info["review_id"])
        for i, info in enumerate(_infos(body))
        if info.get("verdict") == "review" and info.get("review_id")
    }
    return found or {0: held_id}


def needs_hold(infos: list[dict[str, Any]]) -> bool:
    return any(info.get("verdict") == "review" and info.get("review_id") for info in infos)


def overall(outcomes: dict[int, Outcome]) -> Outcome:
    """One outcome for the whole held answer (the webhook's `outcome`, the row's): the choices' common one, else
    `mixed`; the first refusal's reason; edited when any choice was."""
    kinds = {o.kind for o in outcomes.values()}
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    reason = next((o.reason for o in outcomes.values() if o.reason is not None), None)
    edited = next((o.edited for o in outcomes.values() if o.edited is not None), None)
    return Outcome(kind, edited, reason)


# -- while it waits ----------------------------------------------------------------------------------------------


def waiting_info(body: dict[str, Any]) -> dict[str, Any]:
    """The `outguard` field of the 202 (and of a held stream's marks): verdicts and ids, every report unquoted, so
    nothing of any choice reaches the client before the decision."""
    info = copy.deepcopy(body.get("outguard") or {})
    if body.get("object") == VALIDATION:
        report = body["report"]
        return {"verdict": report["verdict"], "review_id": report.get("review_id"), "report": unquoted_json(report)}
    for part in (info, *info.get("choices", [])):
        if isinstance(part.get("report"), dict):
            part["report"] = unquoted_json(part["report"])
    return info


# -- once decided ------------------------------------------------------------------------------------------------


def result(held_id: str, body: dict[str, Any], outcomes: dict[int, Outcome], refusal: str) -> dict[str, Any]:
    if body.get("object") == VALIDATION:
        return _validation(held_id, body, outcomes[0])
    return _completion(held_id, body, outcomes, refusal)


def _validation(held_id: str, body: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """A held validate call, decided: the output to deliver (the one validated or repaired, the reviewer's on an
    edit, none on a refusal) and the report (redacted; unquoted unless the output is delivered as validated)."""
    output = None if outcome.refused else body["output"] if outcome.edited is None else outcome.edited
    report = body["report"] if outcome.as_held else unquoted_json(body["report"])
    return {
        "object": VALIDATION,
        "id": held_id,
        "status": "refused" if outcome.refused else "released",
        "outcome": outcome.kind,
        "reason": outcome.reason,
        "edited": outcome.edited is not None,
        "output": output,
        "report": report,
    }


def _completion(held_id: str, body: dict[str, Any], outcomes: dict[int, Outcome], refusal: str) -> dict[str, Any]:
    """The held completion with each reviewed choice replaced by its decision; the other choices as they were."""
    out = copy.deepcopy(body)
    info = out.setdefault("outguard", {})
    many = bool(info.get("choices"))
    for index, outcome in outcomes.items():
        choice = out["choices"][index]
        part = info["choices"][index] if many else info
        if outcome.refused:
            out["choices"][index] = {
                "index": index,
                "message": {"role": "assistant", "content": refusal},
                "finish_reason": "content_filter",
            }
        elif outcome.edited is not None:
            # The reviewer's text replaces what was reviewed, and with it whatever spells the replaced words: a
            # declared refusal (checked as the text), its annotations, the tokens' logprobs.
            kept = {k: v for k, v in choice["message"].items() if k not in _REPLACED}
            choice["message"] = {**kept, "content": outcome.edited}
            if choice.get("logprobs") is not None:
                choice["logprobs"] = None
        if not outcome.as_held and isinstance(part.get("report"), dict):
            part["report"] = unquoted_json(part["report"])  # the words the reviewer did not release
        if many:
            part["held"] = outcome.mark(held_id)
    if many and 0 in outcomes:  # the top level repeats choice 0's info
        info.update({k: v for k, v in info["choices"][0].items() if k != "held"})
    info["held"] = overall(outcomes).mark(held_id)
    return out
