"""The loaded-rules cache: same results with and without it, rebuilt when stale, never trusted blindly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from guardrails.engine import Engine
from guardrails.rules import cache, loader
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import bundled_rules_dir, load_ruleset

PACK = """pack: local
rules:
  - id: banned-word
    code: LOC001
    check: regex
    params: {patterns: ["{word}"]}
    severity: low
    action: warn
    message: banned word
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv(cache.DIR_ENV, str(d))
    monkeypatch.setenv(cache.CACHE_ENV, "1")
    return d


def _entries(d: Path) -> list[Path]:
    return sorted(d.glob("ruleset-*.pickle"))


def _comparable(report: Any) -> Any:
    data = report.model_dump(mode="json")
    data.pop("timings", None)
    data.pop("duration_ms", None)
    data.pop("elapsed_ms", None)
    return data


def _no_load(*_: Any) -> Any:
    raise AssertionError("the cache was not used")


def test_warm_cache_skips_loading_and_gives_the_same_ruleset(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = load_ruleset()
    assert len(_entries(cache_dir)) == 1
    monkeypatch.setattr(loader, "_load_dirs", _no_load)
    warm = load_ruleset()
    assert warm.rules == cold.rules
    assert warm.policies == cold.policies
    assert warm.dirs == cold.dirs


def test_parity_over_every_bundled_policy_and_rule_example(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policies = sorted(p.stem for p in (bundled_rules_dir() / "policies").glob("*.yaml"))
    load_ruleset()  # fills the cache
    monkeypatch.setenv(cache.CACHE_ENV, "0")
    plain = load_ruleset()
    monkeypatch.setenv(cache.CACHE_ENV, "1")
    cached = load_ruleset()
    checked = 0
    for name in policies:
        if name.startswith("toxicity"):
            continue  # model-backed: covered by the toxicity tests, and the rule data is compared above
        try:
            with_cache, without = Engine.from_policy(name, ruleset=cached), Engine.from_policy(name, ruleset=plain)
        except RuleError:
            continue  # an extra is missing: the same either way (the install matrix covers it)
        assert with_cache.compiled.version == without.compiled.version
        for compiled in without.rules:
            for example in [*compiled.rule.examples.match, *compiled.rule.examples.no_match]:
                a = with_cache.validate(example.text, example.context)
                b = without.validate(example.text, example.context)
                assert _comparable(a) == _comparable(b), (name, compiled.rule.id)
                checked += 1
    assert checked > 100


def test_a_changed_rule_file_is_reloaded(tmp_path: Path, cache_dir: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "local.yaml").write_text(PACK.replace("{word}", "alpha"))
    first = load_ruleset([rules])
    (rules / "local.yaml").write_text(PACK.replace("{word}", "beta"))
    second = load_ruleset([rules])
    assert first.rules["banned-word"].rule.params["patterns"] == ["alpha"]
    assert second.rules["banned-word"].rule.params["patterns"] == ["beta"]
    assert len(_entries(cache_dir)) == 2


def test_a_corrupted_entry_is_rebuilt_not_unpickled(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_ruleset()
    [entry] = _entries(cache_dir)
    blob = bytearray(entry.read_bytes())
    blob[-10] ^= 0xFF
    entry.write_bytes(bytes(blob))
    monkeypatch.setattr(cache.pickle, "loads", _no_load)  # a bad checksum must stop before unpickling
    assert load_ruleset().rules
    monkeypatch.undo()
    assert cache._read(entry) is not None  # rewritten, valid again


def test_an_entry_others_may_write_is_ignored(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_ruleset()
    [entry] = _entries(cache_dir)
    os.chmod(entry, 0o666)
    assert cache._read(entry) is None
    os.chmod(entry, 0o600)
    os.chmod(cache_dir, 0o777)
    assert cache._read(entry) is None
    os.chmod(cache_dir, 0o700)
    assert cache._read(entry) is not None


def test_off_with_the_environment_variable(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, "0")
    load_ruleset()
    assert not cache_dir.exists()


def test_load_errors_are_not_cached(tmp_path: Path, cache_dir: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "local.yaml").write_text(PACK.replace("{word}", "alpha").replace("action: warn", "action: explode"))
    for _ in range(2):
        with pytest.raises(RuleError, match="action"):
            load_ruleset([rules])
    assert _entries(cache_dir) == []


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(cache.DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "outguard"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/not/allowed")
    assert cache.cache_dir() == Path.home() / ".cache" / "outguard"
