"""What a Guard calls: any callable `(messages, **params) -> LLMResponse | str`, sync or async."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from guardrails.errors import OutguardError
from guardrails.guard.budget import Usage

Message = dict[str, Any]
"""One chat message as the Chat Completions API takes it: `role`, and `content` as a string, a list of parts or
null (an assistant message carrying `tool_calls`); any other key (`tool_calls`, `tool_call_id`, `name`) kept."""


class LLMResponse(BaseModel):
    """One completion: its text, the tokens it cost, and who produced it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    usage: Usage = Usage()
    model: str | None = None
    provider: str | None = None
    message: dict[str, Any] | None = None
    """The assistant message as the provider sent it (`tool_calls`, `refusal`, ...), when it is more than text."""
    finish_reason: str | None = None
    alternatives: list[LLMResponse] = []
    """The other choices of an `n > 1` completion (choices 1..n-1; this response is choice 0)."""
    logprobs: dict[str, Any] | None = None
    """The choice's `logprobs` as the provider sent them (they describe `text`, token by token)."""
    system_fingerprint: str | None = None
    service_tier: str | None = None
    """Which backend configuration and tier served the answer, as the provider said."""

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """The message's tool calls (OpenAI shape: `{id, type, function: {name, arguments}}`), or none."""
        calls = (self.message or {}).get("tool_calls")
        return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []

    @property
    def function_call(self) -> dict[str, Any] | None:
        """The legacy (`functions`) call of the message: `{name, arguments}`, or None."""
        call = (self.message or {}).get("function_call")
        return call if isinstance(call, dict) else None

    @property
    def refusal(self) -> str | None:
        """The refusal the model declared in the message's `refusal` field (structured outputs), when it has no
        content: the answer is that refusal, not an empty text."""
        refusal = (self.message or {}).get("refusal")
        return refusal if isinstance(refusal, str) and refusal and not self.text else None


class LLMError(OutguardError):
    """A provider call failed for good: a non-retryable error, or a transient one that outlived its retries.

    The message says what failed without quoting the provider: what the provider sent (an error body, a bad
    stream event, which can carry the model's text and PII) is kept apart in `detail`, so logs can leave it out.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        detail: str | None = None,
        timeout: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.timeout = timeout
        """The call ran out of time (a gateway would answer 504)."""
        self.retryable = retryable
        self.detail = detail


class LLMBudgetError(LLMError):
    """The provider's answer broke a budget while it was being read: too big, or past the run's time budget."""


class LLM(Protocol):
    def __call__(self, messages: list[Message], /, **params: Any) -> LLMResponse | str: ...


LLMLike = Callable[..., "LLMResponse | str | Awaitable[LLMResponse | str]"]


def content_text(content: Any) -> str:
    """A message's `content` as text: a string, null (a tool call), or a list of parts whose text parts are joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(p for p in parts if isinstance(p, str))
    raise TypeError(f"content is {type(content).__name__}")


def provider_name(llm: object, index: int) -> str:
    """A stable label for a provider: its `name` attribute, its function name, or its position."""
    name = getattr(llm, "name", None)
    if isinstance(name, str) and name:
        return name
    fn_name = getattr(llm, "__name__", None)
    if isinstance(fn_name, str) and fn_name and fn_name != "<lambda>":
        return fn_name
    return "primary" if index == 0 else f"fallback-{index}"


def coerce_response(value: object, provider: str) -> LLMResponse:
    """Accept a bare string (usage unknown, counted as zero) or an LLMResponse; anything else is a bug."""
    if isinstance(value, LLMResponse):
        return value if value.provider else value.model_copy(update={"provider": provider})
    if isinstance(value, str):
        return LLMResponse(text=value, provider=provider)
    raise TypeError(f"LLM {provider!r} returned {type(value).__name__}; expected LLMResponse or str")
