"""Guard: act on verdicts. Call an LLM, regenerate within a budget, fall back, validate streams.

    from guardrails import Engine
    from guardrails.guard import Guard, Budget, OpenAIChatClient

    client = OpenAIChatClient("http://localhost:8000/v1", "my-model")
    guard = Guard(Engine.from_policy("default"), client, budget=Budget(max_attempts=3))
    result = guard.run("Summarise ...")      # result.output, .report, .attempts, .usage, .source

`OpenAIChatClient` needs httpx (the `guard` extra); it is imported only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrails.guard.budget import Budget, Usage
from guardrails.guard.events import (
    AttemptFinished,
    AttemptStarted,
    CheckTimed,
    GuardEvent,
    Listener,
    RunFinished,
)
from guardrails.guard.feedback import FeedbackSettings, feedback_messages, feedback_text
from guardrails.guard.guard import DEFAULT_LAST_RESORT, Guard, as_messages
from guardrails.guard.json_stream import JSONStreamScanner
from guardrails.guard.llm import LLM, LLMBudgetError, LLMError, LLMResponse, Message
from guardrails.guard.result import Attempt, GuardResult
from guardrails.guard.review import HeldAnswer, Review
from guardrails.guard.stream import StreamEvent, StreamValidator

if TYPE_CHECKING:
    from guardrails.guard.openai_client import OpenAIChatClient

__all__ = [
    "DEFAULT_LAST_RESORT",
    "LLM",
    "Attempt",
    "AttemptFinished",
    "AttemptStarted",
    "Budget",
    "CheckTimed",
    "FeedbackSettings",
    "Guard",
    "GuardEvent",
    "GuardResult",
    "HeldAnswer",
    "JSONStreamScanner",
    "LLMBudgetError",
    "LLMError",
    "LLMResponse",
    "Listener",
    "Message",
    "OpenAIChatClient",
    "Review",
    "RunFinished",
    "StreamEvent",
    "StreamValidator",
    "Usage",
    "as_messages",
    "feedback_messages",
    "feedback_text",
]


def __getattr__(name: str) -> Any:
    # httpx is an optional extra: import the client only when someone asks for it.
    if name == "OpenAIChatClient":
        from guardrails.guard.openai_client import OpenAIChatClient

        return OpenAIChatClient
    raise AttributeError(f"module 'guardrails.guard' has no attribute {name!r}")
