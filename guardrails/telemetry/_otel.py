"""Whether spans are recorded at all, and the tracer that records them.

The check must cost next to nothing on every validation: OpenTelemetry is never imported here. When the process
has not imported `opentelemetry.trace`, nobody can have installed a tracer provider, so tracing is off; when it
has, the global provider is asked, and the API's own stand-ins (the proxy and no-op providers, which is all there
is without the SDK) mean off.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_override: Any = None
"""A provider installed by use_tracer_provider(): wins over the global one (tests, apps that keep their own)."""

_tracer: Any = None
_tracer_for: Any = None


def use_tracer_provider(provider: Any) -> None:
    """Record spans with `provider` (an SDK TracerProvider) instead of the global one; None goes back to it.

    The global provider can be set once per process (OpenTelemetry's rule), which does not suit tests that each
    want their own in-memory exporter, nor an application that keeps outguard's spans apart."""
    global _override, _tracer, _tracer_for
    _override = provider
    _tracer = _tracer_for = None


def tracing() -> bool:
    """True when spans are recorded: an SDK provider is installed, globally or through use_tracer_provider()."""
    global _seen, _seen_answer
    if _override is not None:
        return True
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return False
    # The global as set_tracer_provider() left it, and the answer for it cached: get_tracer_provider() reads the
    # environment on every call while nothing is set (about 2 us here), this is an attribute read.
    provider = getattr(trace, "_TRACER_PROVIDER", _MISSING)
    if provider is _seen:
        return _seen_answer
    answer = False
    if provider is not None or _PROVIDER_ENV in os.environ:
        current = trace.get_tracer_provider()
        answer = not isinstance(current, trace.ProxyTracerProvider | trace.NoOpTracerProvider)
    if provider is not _MISSING:
        _seen, _seen_answer = provider, answer
    return answer


_MISSING = object()
_seen: Any = _MISSING
_seen_answer = False
_PROVIDER_ENV = "OTEL_PYTHON_TRACER_PROVIDER"
"""Names a provider that get_tracer_provider() loads (and installs) on its first call."""


def tracer() -> Any:
    """outguard's tracer on the provider in use (cached per provider)."""
    global _tracer, _tracer_for
    from opentelemetry import trace

    provider = _override if _override is not None else trace.get_tracer_provider()
    if _tracer is None or _tracer_for is not provider:
        _tracer = trace.get_tracer("outguard", tracer_provider=provider)
        _tracer_for = provider
    return _tracer
