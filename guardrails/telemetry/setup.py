"""Install an SDK tracer provider from the standard OTEL_* variables, for processes outguard starts itself.

Libraries do not configure tracing (the application does); `guardrails serve` does, through this, and only when
an exporter is configured: `OTEL_TRACES_EXPORTER` (`otlp`, `console`; `none` for nothing) or an OTLP endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). `OTEL_SDK_DISABLED=true` turns it off.
The SDK reads the rest itself: `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (resource),
`OTEL_TRACES_SAMPLER[_ARG]` (sampling), `OTEL_BSP_*` (batching), `OTEL_EXPORTER_OTLP_*` (headers, timeout,
certificates). `OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL` picks `http/protobuf` (default) or `grpc`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger("guardrails.telemetry")


def exporter_name(env: Mapping[str, str]) -> str | None:
    """The exporter the variables ask for, or None for none."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    name = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if name:
        return None if name == "none" else name.split(",")[0].strip()
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return "otlp"
    return None


def setup_tracing(env: Mapping[str, str] | None = None) -> bool:
    """Install the global tracer provider the variables describe; False when they describe none (or another
    provider is installed already, e.g. by `opentelemetry-instrument`, which is then left alone)."""
    env = os.environ if env is None else env
    name = exporter_name(env)
    if name is None:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    except ImportError:
        log.warning("OTEL_* asks for traces but opentelemetry-sdk is not installed (pip install 'outguard[telemetry]')")
        return False
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return False
    exporter: SpanExporter
    if name == "console":
        exporter = ConsoleSpanExporter()
    elif name == "otlp":
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
        if protocol.strip() == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

            exporter = GrpcExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
    else:
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported here (otlp, console, none): no traces", name)
        return False
    # service.name is "outguard" unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name one (attributes given
    # here win over the environment's, so the default is given only when the environment has none).
    named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    resource = Resource.create({} if named else {"service.name": "outguard"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log.info("traces exported with %s", name)
    return True
