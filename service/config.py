"""Sidecar configuration: one pydantic model, filled from `guardrails serve` flags, env or a file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.hold.config import HoldConfig


class UpstreamConfig(BaseModel):
    """The LLM the guarded proxy forwards to (OpenAI-compatible chat completions)."""

    model_config = ConfigDict(extra="forbid")
    base_url: str
    model: str
    api_key_env: str | None = Field(default=None, description="Name of the env var holding the upstream key")
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description="Largest answer read from this provider (plain or streamed); reading stops there and the "
        "call fails like a spent budget (fallback, then the last resort)",
    )


class ConnectionLimits(BaseModel):
    """How long a client may take to send its request and how many connections the server holds, so slow
    clients (slowloris: headers or bodies trickled a byte at a time) cannot hold sockets and starve others.
    Server settings, applied by `guardrails serve` (service/connections.py), not by the app."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="A request's line and headers must arrive within this many seconds of the connection opening, "
        "or of the request's first byte on a kept-alive connection; else the connection is closed",
    )
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        allow_inf_nan=False,
        description="A request's whole body must arrive within this many seconds of its headers; else 408 and close",
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="A request line and headers larger than this are answered 431 and the connection closed "
        "(checked per read, so the bound is this plus one read of at most 256 KiB)",
    )
    max_connections: int = Field(
        default=1000,
        gt=0,
        description="Open connections at most. At the cap a new connection first reclaims an idle kept-alive one, "
        "then the one that has waited longest for its headers; if every connection has a request in progress, the "
        "new one gets a 503 and is closed",
    )


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[str] = Field(default_factory=lambda: ["default"], description="Policies compiled at startup")
    optional_policies: list[str] = Field(
        default_factory=list, description="Policies compiled when they can be (missing models only log a warning)"
    )
    default_policy: str | None = Field(default=None, description="Policy used when a request names none")
    rules_dirs: list[Path] = Field(default_factory=list)
    review_db: str | None = Field(default=None, description="SQLAlchemy URL of the review queue")
    facts_db: str | None = Field(default=None, description="URL of the known-facts store")
    keys_file: Path | None = Field(default=None, description="YAML/JSON file of hashed API keys and reviewers")
    keys_env: str = Field(default="OUTGUARD_API_KEYS", description="Env var with API keys (name:scopes:key;...)")
    session_secret: str | None = Field(default=None, description="HMAC key for review-page sessions (random if unset)")
    secure_cookies: bool = Field(default=False, description="Mark session cookies Secure (behind HTTPS)")
    session_ttl_s: int = Field(default=8 * 3600, gt=0)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    max_batch: int = Field(default=256, gt=0)
    rate_limit_rps: float = Field(
        default=200.0, gt=0, description="Per-key sustained requests per second, for keys that set no rate of their own"
    )
    rate_limit_burst: int = Field(
        default=400, gt=0, description="Requests at once for those keys (a key with its own rate gets its own burst)"
    )
    limits_db: str | None = Field(
        default=None,
        description="PostgreSQL URL of the store that workers and replicas share for rate limits and token quotas "
        "(unset: each process limits on its own)",
    )
    login_attempts_per_minute: int = Field(default=10, gt=0)
    log_content: bool = Field(default=False, description="Log output text and context (off: never log content)")
    prices_file: Path | None = Field(
        default=None,
        description="YAML price table (price per million tokens by model) for the cost metrics and results; "
        "unset: $OUTGUARD_PRICES_FILE, else no cost is estimated (docs/operations.md)",
    )
    upstream: UpstreamConfig | None = None
    fallbacks: list[UpstreamConfig] = Field(
        default_factory=list,
        description="Providers the proxy asks, in order, when the upstream fails or its budget ends",
    )
    stream_release: Literal["final", "cleared"] = Field(
        default="final",
        description=(
            "How the proxy streams: `final` holds every character until the final verdict (stock OpenAI clients "
            "cannot undo text), `cleared` sends text as the streaming checks clear it and retracts it when needed. "
            "A request may choose with the X-Outguard-Release header."
        ),
    )
    stream_keepalive_s: float = Field(
        default=15.0,
        ge=0,
        allow_inf_nan=False,
        description=(
            "Streamed proxy answers get an SSE comment line (`: keep-alive`) whenever nothing was sent for this many "
            "seconds, so idle timeouts of load balancers (often 30-60 s) do not cut a long hold-until-final wait; "
            "SSE parsers and OpenAI clients ignore comments. 0 sends none."
        ),
    )
    inline_below_ms: float = Field(
        default=10.0,
        ge=0,
        description=(
            "Policies whose recent p90 is below this run on the event loop, others in a worker thread. A thread "
            "hop costs more than a rule-only validation, and pure-Python checks hold the GIL anyway."
        ),
    )

    hold: HoldConfig = Field(
        default_factory=HoldConfig.from_env,
        description="Hold-for-review: which `review` answers wait for a reviewer, timeouts, webhooks "
        "(docs/hold-for-review.md); unset: the file named by $OUTGUARD_HOLD_FILE, else the defaults",
    )

    @property
    def all_policies(self) -> list[str]:
        return [*self.policies, *[p for p in self.optional_policies if p not in self.policies]]
