"""Rules and policies as data: the pydantic models behind rules/*.yaml and rules/policies/*.yaml."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guardrails.findings import Action, Severity

ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
CODE_PATTERN = r"^[A-Z]{2,6}[0-9]{3}$"


class Status(StrEnum):
    PREVIEW = "preview"
    STABLE = "stable"
    DEPRECATED = "deprecated"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Example(_Strict):
    """An example output, with optional context and, for `match` examples, the text that must be flagged."""

    text: str
    context: dict[str, Any] | None = None
    matched: str | None = Field(default=None, description="For match examples: text of the expected finding's span")


class Examples(_Strict):
    match: list[Example] = Field(default_factory=list)
    no_match: list[Example] = Field(default_factory=list)
    needs_model: str | None = Field(
        default=None,
        description="Model (store name) the examples were written for; the example runner skips them, saying so,"
        " when it is not in the model store",
    )

    @field_validator("match", "no_match", mode="before")
    @classmethod
    def _strings_are_examples(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"text": v} if isinstance(v, str) else v for v in value]
        return value


class Rule(_Strict):
    id: str = Field(pattern=ID_PATTERN, description="Names the bad thing, kebab-case")
    code: str = Field(pattern=CODE_PATTERN, description="FAMILY + 3 digits; never reused")
    check: str = Field(description="Check kind backing this rule")
    params: dict[str, Any] = Field(default_factory=dict)
    severity: Severity = Severity.MEDIUM
    action: Action = Action.WARN
    status: Status = Status.STABLE
    message: str = Field(description="Message template; {matched} and check-specific values are filled in")
    instruction: str | None = Field(default=None, description="What a regeneration should change (template)")
    description: str = ""
    deadline_ms: float | None = Field(default=None, gt=0)
    tags: list[str] = Field(default_factory=list)
    supersedes: list[str] = Field(
        default_factory=list,
        description="Ids or codes of rules whose finding this rule's overlapping finding replaces (same problem)",
    )
    examples: Examples = Field(default_factory=Examples)

    @property
    def family(self) -> str:
        return self.code.rstrip("0123456789")


class RulePack(_Strict):
    pack: str = Field(pattern=ID_PATTERN)
    description: str = ""
    rules: list[Rule]


class RuleOverride(_Strict):
    severity: Severity | None = None
    action: Action | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="Deep-merged into the rule's params")
    deadline_ms: float | None = Field(default=None, gt=0)
    message: str | None = None


class RepairSettings(_Strict):
    enabled: bool = True
    max_rounds: int = Field(default=3, ge=1, le=10)
    allow_unsafe: bool = Field(
        default=False, description="Apply fixes marked unsafe (rewriting facts, dropping content)"
    )
    max_growth: float = Field(
        default=2.0, gt=0, description="Repaired text may be at most this times the original + 1 KB"
    )


MAX_LAST_RESORT_CHARS = 2000


class RegenerationSettings(_Strict):
    max_attempts: int = Field(default=3, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_seconds: float | None = Field(default=None, gt=0)
    temperature: float | None = Field(
        default=0.0,
        ge=0,
        description="What regenerations send as `temperature` (0: deterministic retries; null: the caller's own)."
        " The first attempt always sends the caller's parameters as given",
    )
    on_upstream_error: Literal["error", "last_resort"] = Field(
        default="error",
        description="When no provider answers at all: `error` (the proxy answers 502/503/504) or `last_resort`",
    )
    last_resort: str | None = Field(
        default=None,
        max_length=MAX_LAST_RESORT_CHARS,
        description="What a Guard delivers when every provider failed or the budget ran out (default: built-in"
        " English text). Delivered as written: the policy's verdict on it is reported, never acted on",
    )

    @field_validator("last_resort")
    @classmethod
    def _last_resort_has_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be the text users see, not empty; leave the key out for the built-in answer")
        return value


class CacheSettings(_Strict):
    """What a policy lets outguard cache (guardrails.results_cache); nothing by default."""

    results: bool = Field(
        default=False,
        description="Serve a repeated validation (same output, context, policy version, facts and day) from the"
        " result cache instead of running the checks again",
    )
    results_ttl_s: float = Field(default=86_400.0, gt=0, description="How long a cached report may be served")
    proxy: bool = Field(
        default=False,
        description="The guarded proxy replays deterministic upstream answers (temperature 0, same messages and"
        " parameters) that it delivered as they came, instead of calling the upstream again",
    )
    proxy_ttl_s: float = Field(default=3_600.0, gt=0, description="How long a cached upstream answer may be replayed")


class Policy(_Strict):
    name: str = Field(pattern=ID_PATTERN)
    version: str = "1"
    description: str = ""
    rules: list[str] = Field(default_factory=lambda: ["*"], description="Selectors: rule id, code, CODE*, pack:NAME, *")
    exclude: list[str] = Field(default_factory=list)
    include_preview: bool = False
    overrides: dict[str, RuleOverride] = Field(default_factory=dict, description="Keyed by rule id or code")
    deadline_ms: float = Field(default=250.0, gt=0, description="Default per-check deadline")
    on_error: Action = Field(default=Action.BLOCK, description="Action when a check errors or runs late: fail closed")
    unrepaired_action: Action = Field(default=Action.REGENERATE, description="Action for repair findings with no fix")
    max_output_chars: int = Field(default=2_000_000, ge=1)
    repair: RepairSettings = Field(default_factory=RepairSettings)
    regeneration: RegenerationSettings = Field(default_factory=RegenerationSettings)
    review_sample_rate: float = Field(default=0.0, ge=0, le=1, description="Share of non-review outputs also queued")
    cache: CacheSettings = Field(default_factory=CacheSettings, description="Result and proxy caching (opt-in)")
