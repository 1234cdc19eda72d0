"""Hold-for-review: a `review` verdict the caller (or the policy's hold setting) wants decided before delivery is
answered 202 with the review id; `GET /v1/reviews/{id}/result` long-polls the outcome, webhooks announce it."""

from service.hold.config import HoldConfig, WebhookConfig
from service.hold.runtime import HOLD_HEADER, WEBHOOK_HEADER, Holds

__all__ = ["HOLD_HEADER", "WEBHOOK_HEADER", "HoldConfig", "Holds", "WebhookConfig"]
