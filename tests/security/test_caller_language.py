"""A caller's `context.language` must not grow the process: each language used to build and keep a recognizer set.

`Context.language` is any string the caller sends; the PII check cached one set of presidio recognizers per
distinct value (~60 ms to build, memory kept for good), so a client cycling languages grew the sidecar without
bound. Only languages presidio configures (or the rule names) get their own set now.
"""

from __future__ import annotations

import pytest

pytest.importorskip("presidio_analyzer")

from guardrails import Engine
from guardrails.checks._pii.recognizers import recognizer_set


def test_made_up_languages_share_the_base_recognizers() -> None:
    engine = Engine.from_policy("pii")
    before = recognizer_set.cache_info().currsize
    text = "Write to jane.doe@example.com or call +1 415-867-5309."
    outputs = set()
    for i in range(60):
        report = engine.validate(text, {"language": f"x{i}-{'q' * (i % 7)}"})
        outputs.add(report.output)
    assert recognizer_set.cache_info().currsize <= before + 1  # at most the base language, if not loaded yet
    assert outputs == {engine.validate(text).output}  # still redacted, as in the base language
    assert "jane.doe" not in outputs.pop()


def test_languages_presidio_configures_are_still_used() -> None:
    engine = Engine.from_policy("pii")
    engine.validate("Meine E-Mail ist jane.doe@example.com.", {"language": "de-DE"})
    misses = recognizer_set.cache_info().misses
    report = engine.validate("Meine E-Mail ist jane.doe@example.com.", {"language": "de"})
    assert "jane.doe" not in report.output
    assert recognizer_set.cache_info().misses == misses  # "de-DE" and "de" share presidio's German set
