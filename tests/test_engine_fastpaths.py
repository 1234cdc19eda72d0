"""The engine's fast paths change no report: local re-checks after a repair, no repair when nothing was found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import Engine, load_ruleset
from guardrails import engine as engine_module
from tests.helpers import engine_with, rule

ROOT = Path(__file__).resolve().parents[1]
RULESET = load_ruleset()


def _comparable(engine: Engine, text: str) -> dict[str, Any]:
    report = engine.validate(text).model_dump(mode="json")
    for key in ("elapsed_ms", "timings"):
        report.pop(key)
    return report


def _whole(engine: Engine) -> Engine:
    """The same compiled policy with every check re-run on the whole text after a repair (today's path)."""
    twin = Engine(engine.compiled, suppressor=engine.suppressor)
    twin._has_local = False
    return twin


def _texts() -> Iterator[str]:
    for loaded in RULESET.rules.values():
        for ex in (*loaded.rule.examples.match, *loaded.rule.examples.no_match):
            yield ex.text
    for path in sorted((ROOT / "fixtures").rglob("*")):
        if path.is_file() and path.suffix in {".txt", ".json", ".html", ".md", ".jsonl"}:
            yield path.read_text(encoding="utf-8", errors="replace")[:20_000]


@pytest.mark.parametrize("policy", ["default", "secrets", "pii"])
def test_bundled_policies_give_equal_reports_on_every_example_and_fixture(policy: str) -> None:
    engine = Engine.from_policy(policy, ruleset=RULESET)
    whole = _whole(engine)
    for text in _texts():
        assert _comparable(engine, text) == _comparable(whole, text), text[:200]


def _local_engine(tmp_path: Path) -> Engine:
    # Repairs that make new matches for each other: `fo+` becomes `bab`, and a free-standing `bab` is then
    # flagged and replaced; `xxx` runs are only reported. Short lookbehinds so the windows stay local.
    rules = [
        rule(
            "foo", "TST001", "regex", params={"pattern": "fo+", "replacement": "bab", "lookbehind": 8}, action="repair"
        ),
        rule(
            "bab",
            "TST002",
            "regex",
            params={"pattern": r"(?<![a-z])bab\b", "replacement": "[B]", "lookbehind": 8},
            action="repair",
        ),
        rule("xs", "TST003", "regex", params={"pattern": "x{3,}", "lookbehind": 8}, action="warn"),
        rule("tail", "TST004", "regex", params={"pattern": "ba$", "window": "tail", "window_chars": 40}, action="warn"),
    ]
    return engine_with(tmp_path, rules, repair={"enabled": True, "max_rounds": 3})


CHUNKS = st.sampled_from(["fo", "o", "foo", "ba", "b", "bab", " ", "\n", "x", "xxx", "y" * 40, "z " * 30, "é"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(CHUNKS, max_size=40).map("".join))
def test_local_rechecks_equal_whole_rechecks(tmp_path: Path, text: str) -> None:
    engine = _engine_cache.get("local") or _engine_cache.setdefault("local", _local_engine(tmp_path))
    assert _comparable(engine, text) == _comparable(_whole(engine), text)


_engine_cache: dict[str, Engine] = {}


def test_local_recheck_runs_only_around_the_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _local_engine(tmp_path)
    windows: list[int] = []
    real = engine_module._LocalHits._around_edits

    def spy(*args: Any) -> Any:
        hits = real(*args)
        windows.append(hits is not None)
        return hits

    monkeypatch.setattr(engine_module._LocalHits, "_around_edits", staticmethod(spy))
    text = "a foo " + "y" * 400 + " bab " + "z" * 400 + " fo"
    report = engine.validate(text)
    assert report.output == "a [B] " + "y" * 400 + " [B] " + "z" * 400 + " [B]"
    assert report.verdict.value == "repaired"
    assert windows and all(windows)
    assert _comparable(engine, text) == _comparable(_whole(engine), text)


def test_a_clean_output_skips_repair_entirely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _local_engine(tmp_path)

    def no_repair(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("repair ran on a clean output")

    monkeypatch.setattr(Engine, "_repair", no_repair)
    report = engine.validate("nothing to see here")
    assert report.verdict.value == "pass" and report.edits == [] and len(report.timings) == 4
