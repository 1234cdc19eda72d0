"""Reports on their way out of the sidecar: redacted like the text they describe (guardrails.redaction)."""

from __future__ import annotations

import functools

from guardrails import Engine, Report, sensitive_rule_ids


@functools.lru_cache(maxsize=64)
def _sensitive(engine: Engine) -> frozenset[str]:
    # Engines live as long as the service; their rules never change, so the tagged ids are computed once.
    return sensitive_rule_ids(engine.rules)


def outgoing(report: Report, engine: Engine) -> Report:
    """What may leave the process for `report`: every value a PII or `sensitive`-tagged finding detected masked."""
    return report.redacted(_sensitive(engine))
