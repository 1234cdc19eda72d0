"""Traces and cost: OpenTelemetry spans of validations and guarded runs, and the price table.

Nothing here imports OpenTelemetry until a span is to be recorded, and nothing is recorded unless an SDK tracer
provider is installed (by the application, by `guardrails serve` from OTEL_* variables, or use_tracer_provider()).
Span attributes never carry content: policy, version, verdict, codes, counts, sizes, tokens and cost.
"""

from __future__ import annotations

from guardrails.telemetry._otel import tracer, tracing, use_tracer_provider
from guardrails.telemetry.guard import NO_TRACE, GuardTrace, guard_trace
from guardrails.telemetry.prices import ModelPrice, PriceTable, PriceTableError
from guardrails.telemetry.setup import setup_tracing
from guardrails.telemetry.validation import record_validation

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
