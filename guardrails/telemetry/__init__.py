"""Traces and cost: OpenTelemetry spans of validations and guarded runs, and the price table.

Nothing here imports OpenTelemetry until a span is to be recorded, and nothing is recorded unless an SDK tracer
provider is installed (by the application, by `guardrails serve` from OTEL_* variables, or use_tracer_provider()).
Span attributes never carry content: policy, version, verdict, codes, counts, sizes, tokens and cost.

The engine imports this package on every cold start, so only what validate() needs loads eagerly; the Guard's
spans, the price table and the setup load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from guardrails.telemetry._otel import tracer, tracing, use_tracer_provider
from guardrails.telemetry.validation import record_validation

if TYPE_CHECKING:
    from guardrails.telemetry.guard import NO_TRACE, GuardTrace, guard_trace
    from guardrails.telemetry.prices import ModelPrice, PriceTable, PriceTableError
    from guardrails.telemetry.setup import setup_tracing

_LAZY = {
    "NO_TRACE": "guard",
    "GuardTrace": "guard",
    "guard_trace": "guard",
    "ModelPrice": "prices",
    "PriceTable": "prices",
    "PriceTableError": "prices",
    "setup_tracing": "setup",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "NO_TRACE",
    "GuardTrace",
    "ModelPrice",
    "PriceTable",
    "PriceTableError",
    "guard_trace",
    "record_validation",
    "setup_tracing",
    "tracer",
    "tracing",
    "use_tracer_provider",
]
