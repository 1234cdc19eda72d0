"""Operator settings of hold-for-review: which answers wait for a reviewer, for how long, and where webhooks may go.

Part of `ServiceConfig.hold`. `guardrails serve` has no flags for it yet: when the config does not set it, the file
named by $OUTGUARD_HOLD_FILE (YAML or JSON, these keys) is read, so a sidecar process can be configured today.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WebhookConfig(BaseModel):
    """Where held answers' outcomes may be POSTed and how hard to try. Targets are public hosts only unless the
    operator lists them: a caller-supplied URL is an SSRF vector (cloud metadata, admin ports on loopback)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    secrets_env: dict[str, str] = Field(
        default_factory=dict,
        description="API key name -> env var holding that key's webhook signing secret; a key without one cannot "
        "register webhooks (each caller verifies with its own secret, never another's)",
    )
    allow_private: bool = Field(
        default=False,
        description="Allow loopback, private, link-local and other non-public targets (a closed network only)",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names or IP addresses allowed even when they resolve to non-public addresses",
    )
    max_attempts: int = Field(default=6, ge=1, le=50, description="Deliveries tried before the outcome is 'failed'")
    backoff_s: float = Field(default=2.0, gt=0, allow_inf_nan=False, description="First retry delay; doubles")
    max_backoff_s: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    timeout_s: float = Field(default=5.0, gt=0, allow_inf_nan=False, description="Per delivery attempt")
    max_url_length: int = Field(default=2000, gt=0)


class HoldConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    policies: list[str] = Field(
        default_factory=list,
        description="Policies whose `review` verdicts always wait for a reviewer (others wait when the request "
        "sends `X-Outguard-Hold: wait`)",
    )
    timeout_s: float = Field(
        default=3600.0,
        gt=0,
        allow_inf_nan=False,
        description="A held answer nobody decides within this gets `timeout_action`",
    )
    timeout_action: Literal["block", "release"] = Field(
        default="block", description="`block` (fail closed: the refusal, reason `review_timeout`) or `release`"
    )
    max_poll_s: float = Field(
        default=30.0, gt=0, le=300, allow_inf_nan=False, description="Longest a result long-poll waits"
    )
    max_stream_wait_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Longest a held streamed answer keeps the client's connection (with SSE keep-alives) waiting for "
        "the decision; past it the stream ends with the held id and `result_url` to long-poll",
    )
    refusal: str = Field(
        default="This answer was withheld after review.", min_length=1, description="What a rejected answer becomes"
    )
    sweep_s: float = Field(
        default=0.5, gt=0, allow_inf_nan=False, description="How often held answers and webhooks are looked at"
    )
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)

    @classmethod
    def from_env(cls) -> HoldConfig:
        path = os.environ.get("OUTGUARD_HOLD_FILE")
        if not path:
            return cls()
        text = Path(path).read_text(encoding="utf-8")
        if path.endswith(".json"):
            return cls.model_validate(json.loads(text))
        import yaml

        return cls.model_validate(yaml.safe_load(text) or {})
