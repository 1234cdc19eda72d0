"""The quota a keys file sets on a key (kept apart from the machinery, so service.auth imports only this)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TokenQuota(BaseModel):
    """A key's token quota, set in the keys file: `token_quota: {tokens: 200000, window_s: 86400}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tokens: int = Field(gt=0, description="LLM tokens (prompt + completion, summed over attempts) per window")
    window_s: int = Field(
        default=86400, gt=0, le=366 * 86400, description="Window length in seconds, aligned to the epoch (UTC)"
    )
