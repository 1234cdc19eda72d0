"""What the caller knows about an output: sources, reference date, canaries, schema or template names.

Bottom layer, beside `findings`. Checks read it; none of them may mutate it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Source(BaseModel):
    """A passage the output should be grounded in."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = None
    text: str
    url: str | None = None


MAX_REQUEST_ID = 200


def check_request_id(value: str | None) -> str | None:
    """Refuse a request id the review queue could not store: the call fails before any work, not after."""
    if value is not None and "\x00" in value:
        raise ValueError("request_id must not contain NUL characters (the review queue stores it as text)")
    return value


class Context(BaseModel):
    """Per-call context. Unknown keys are kept in `extra` so rule packs can read custom fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str | None = Field(
        default=None, max_length=MAX_REQUEST_ID, description="Caller's id; the review queue stores each id once"
    )
    prompt: str | None = Field(default=None, description="The prompt the output answers, when the caller shares it")
    system_prompt: str | None = Field(default=None, description="Text that must never appear in the output")
    sources: list[Source] = Field(default_factory=list, description="Passages the output must be grounded in")
    reference_date: dt.date | None = Field(default=None, description="Dates after this are flagged (default today)")
    allowed_domains: list[str] = Field(default_factory=list, description="Domains citations may point to")
    canaries: list[str] = Field(default_factory=list, description="Strings whose appearance means a leak")
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="A JSON Schema that overrides the policy's for this call"
    )
    template: str | None = Field(default=None, description="Name of the HTML template the output must fit")
    language: str = Field(default="en", description="ISO 639-1 language of the output")
    extra: dict[str, Any] = Field(default_factory=dict, description="Free-form values for custom rules")

    @field_validator("request_id")
    @classmethod
    def _storable_request_id(cls, value: str | None) -> str | None:
        return check_request_id(value)

    @classmethod
    def coerce(cls, value: Context | dict[str, Any] | None) -> Context:
        if value is None:
            return _EMPTY
        if isinstance(value, Context):
            return value
        return cls.model_validate(value)


_EMPTY = Context()
