"""Hold-for-review on `POST /v1/validate`: a `review` verdict the caller (header) or the policy (`hold.policies`)
wants decided answers 202 with the review id instead of the report, like the proxy.

What is held is the output the caller may deliver once a reviewer approves (the one validated, or repaired: taken
before the report is redacted, because an approval of a flagged value is an approval to deliver it) and the
redacted report. `GET /v1/reviews/{id}/result` then answers an `outguard.validation` object (service/hold/shape.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import JSONResponse

from guardrails import Report
from service.auth import ApiKey
from service.hold import shape
from service.hold.routes import asked_webhook, pending, store_held
from service.hold.runtime import HOLD_HEADER, WEBHOOK_HEADER
from service.state import AppState


class ValidateHold:
    """One validate call that waits for a reviewer should its verdict be `review`."""

    def __init__(self, state: AppState, key: ApiKey, policy: str, webhook: str | None) -> None:
        self.state = state
        self.key = key
        self.policy = policy
        self.webhook = webhook
        self.delivered: str | None = None

    @classmethod
    async def asked(
        cls, state: AppState, key: ApiKey, policy: str | None, headers: Mapping[str, str]
    ) -> ValidateHold | None:
        """The hold this call asks for, or None (the common case: one attribute test). A webhook is checked here,
        before any validation is spent on the request (400 when refused)."""
        if state.holds is None:
            return None
        name = policy or state.default_policy
        if not state.holds.wanted(name, headers.get(HOLD_HEADER)):
            return None
        webhook = await asked_webhook(state, key, headers.get(WEBHOOK_HEADER))
        return cls(state, key, name, webhook)

    def keep(self, report: Report) -> None:
        """Remember the output as validated or repaired, before the report that leaves is redacted."""
        self.delivered = report.output

    async def answer(self, report: Report) -> JSONResponse | None:
        """202 for a held `review` verdict (`report` is the redacted one that leaves), else None."""
        if report.verdict.value != "review" or report.review_id is None or self.delivered is None:
            return None
        body = {
            "object": shape.VALIDATION,
            "output": self.delivered,
            "report": report.model_dump(mode="json", by_alias=True),
        }
        items = {0: report.review_id}
        row = await store_held(self.state, self.key, body, policy=report.policy, webhook=self.webhook, items=items)
        return pending(row)
