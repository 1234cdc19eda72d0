"""Which exporter the OTEL_* variables ask for: nothing unless one is configured."""

from __future__ import annotations

import pytest

from guardrails.telemetry.setup import exporter_name, setup_tracing


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OTEL_SERVICE_NAME": "x"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_exporter_from_env(env: dict[str, str], expected: str | None) -> None:
    assert exporter_name(env) == expected


def test_nothing_configured_installs_nothing() -> None:
    assert setup_tracing({}) is False


def test_tracing_follows_the_global_provider() -> None:
    """In a fresh process (the global provider can be set once): off with the api alone, on once an SDK provider is
    set, and setup_tracing() from OTEL_TRACES_EXPORTER=console installs one."""
    import subprocess
    import sys

    code = (
        "import opentelemetry.trace as t\n"
        "from guardrails.telemetry import tracing, setup_tracing\n"
        "before = tracing()\n"
        "assert setup_tracing({'OTEL_TRACES_EXPORTER': 'console'}) is True\n"
        "print(before, tracing(), type(t.get_tracer_provider()).__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "True", "opentelemetry.sdk.trace"]
