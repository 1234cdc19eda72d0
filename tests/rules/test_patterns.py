"""The compiled `regex` pattern store (guardrails/rules/patterns.py): the same Patterns, the same reports."""

from __future__ import annotations

import marshal
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import regex
import regex._main as regex_main

from guardrails.engine import Engine
from guardrails.rules import cache, patterns
from guardrails.rules.errors import RuleError
from guardrails.rules.loader import bundled_rules_dir, load_ruleset


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv(cache.DIR_ENV, str(d))
    monkeypatch.setenv(cache.CACHE_ENV, "1")
    return d


def _stored(table: str = "regex") -> dict[Any, Any]:
    payload = cache.read_checked(patterns._path(), patterns._FORMAT)
    assert payload is not None
    value: dict[Any, Any] = marshal.loads(payload)[table]
    return value


def _comparable(report: Any) -> Any:
    data = report.model_dump(mode="json")
    for key in ("timings", "duration_ms", "elapsed_ms"):
        data.pop(key, None)
    return data


def _policies() -> list[str]:
    return sorted(p.stem for p in (bundled_rules_dir() / "policies").glob("*.yaml") if not p.stem.startswith("tox"))


def _engines(ruleset: Any) -> dict[str, Engine]:
    out = {}
    for name in _policies():
        try:
            out[name] = Engine.from_policy(name, ruleset=ruleset)
        except RuleError:
            continue  # an extra is missing: the same either way
    return out


def _example_texts(ruleset: Any) -> list[str]:
    rules = ruleset.rules.values() if isinstance(ruleset.rules, dict) else ruleset.rules
    texts = []
    for loaded in rules:
        rule = getattr(loaded, "rule", loaded)
        texts += [e.text for e in [*rule.examples.match, *rule.examples.no_match]]
    return texts


def test_stored_patterns_are_what_regex_builds(store_dir: Path) -> None:
    ruleset = load_ruleset()
    _engines(ruleset)
    stored = _stored()
    assert len(stored) > 10
    texts = _example_texts(ruleset)
    assert len(texts) > 100
    for (pattern, flags, version), data in stored.items():
        assert version == regex.DEFAULT_VERSION
        fresh = regex.compile(pattern, flags, cache_pattern=False)
        built = regex_main._regex.compile(*data)
        # The opcodes (field 2) may list a set's members in another order: regex orders them by hash, so they
        # differ between processes (PYTHONHASHSEED) without the store too. Everything else is equal.
        assert [f for i, f in enumerate(fresh._pickled_data) if i != 2] == [  # type: ignore[attr-defined]
            f for i, f in enumerate(data) if i != 2
        ], pattern
        assert (built.pattern, built.flags, built.groupindex) == (fresh.pattern, fresh.flags, fresh.groupindex)
        for text in texts:
            assert [(m.span(), m.groups()) for m in built.finditer(text)] == [
                (m.span(), m.groups()) for m in fresh.finditer(text)
            ], (pattern, text)


def test_parity_over_every_bundled_policy_and_rule_example(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset = load_ruleset()
    _engines(ruleset)  # fills the store
    monkeypatch.setenv(cache.CACHE_ENV, "0")
    regex.purge()
    plain = _engines(ruleset)
    monkeypatch.setenv(cache.CACHE_ENV, "1")
    regex.purge()  # every pattern now comes from the store, not from regex's own cache
    parsed: list[str] = []
    source = regex_main._Source

    class Counting(source):  # type: ignore[misc, valid-type]
        def __init__(self, pattern: str) -> None:
            parsed.append(pattern)
            super().__init__(pattern)

    monkeypatch.setattr(regex_main, "_Source", Counting)
    stored = _engines(ruleset)
    assert not parsed, parsed[:5]
    monkeypatch.setattr(regex_main, "_Source", source)
    checked = 0
    for name, without in plain.items():
        with_store = stored[name]
        assert with_store.compiled.version == without.compiled.version
        for compiled in without.rules:
            for example in [*compiled.rule.examples.match, *compiled.rule.examples.no_match]:
                a = with_store.validate(example.text, example.context)
                b = without.validate(example.text, example.context)
                assert _comparable(a) == _comparable(b), (name, compiled.rule.id)
                checked += 1
    assert checked > 100


def test_a_tampered_store_is_not_read(store_dir: Path) -> None:
    with patterns.compiled_patterns():
        regex.compile(r"tamper\d+x", cache_pattern=False)
    path = patterns._path()
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    assert cache.read_checked(path, patterns._FORMAT) is None
    regex.purge()
    with patterns.compiled_patterns():
        assert patterns._known == {}
        assert regex.compile(r"tamper\d+x").fullmatch("tamper12x")


def test_locale_and_named_list_patterns_are_not_stored(store_dir: Path) -> None:
    with patterns.compiled_patterns():
        regex.compile(r"(?L)\w+locale", cache_pattern=False)
        regex.compile(r"\w+flag", regex.LOCALE, cache_pattern=False)
        regex.compile(r"\L<words>named", words=["a", "b"], cache_pattern=False)
        regex.compile(r"plain\d", cache_pattern=False)
    assert [key[0] for key in _stored()] == [r"plain\d"]


def test_only_while_a_policy_compiles_and_off_with_the_variable(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = regex_main._compile
    with patterns.compiled_patterns():
        assert regex_main._compile is not original
        with patterns.compiled_patterns():
            pass
        assert regex_main._compile is not original  # nested: still on until the outer one ends
    assert regex_main._compile is original
    monkeypatch.setenv(cache.CACHE_ENV, "0")
    with patterns.compiled_patterns():
        assert regex_main._compile is original
        regex.compile(r"nothing\d+kept", cache_pattern=False)
    assert not patterns._path().exists()


def test_stdlib_patterns_and_derived_values_are_what_they_replace(store_dir: Path) -> None:
    """The PII check's phone validity patterns (`re`) and the driver's required literals, from the store."""
    from guardrails.checks._pii import driver

    # A fresh interpreter: in this one the phone patterns may be compiled (and kept by their modules) already.
    child = subprocess.run(
        [sys.executable, "-c", "from guardrails import Engine; Engine.from_policy('pii')"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    if "outguard[pii]" in child.stderr:
        pytest.skip("the pii extra is not installed")
    assert child.returncode == 0, child.stderr[-2000:]
    stdlib = _stored("re")
    assert any(len(pattern) > 10_000 for pattern, _ in stdlib)  # calling code 1's alternation
    for (pattern, flags), args in stdlib.items():
        # A Pattern equals another with the same pattern, flags and code.
        assert patterns._sre.compile(*args) == re.compile(pattern, flags), pattern[:80]
    literals = {key: value for key, value in _stored("derived").items() if key[0] == "required_literals"}
    assert literals
    for (_, pattern, flags), value in literals.items():
        assert driver._required_literals(pattern, flags) == value
    with patterns.compiled_patterns():
        assert patterns._known_re == stdlib
        for (pattern, flags), _args in list(stdlib.items())[:20]:
            assert patterns.re_compile(pattern, flags) == re.compile(pattern, flags)


def test_stores_of_other_versions_are_removed_when_one_is_written(store_dir: Path) -> None:
    store_dir.mkdir(mode=0o700, parents=True)
    stale = store_dir / "regex-0000000000000000000000000000000000000000.marshal"
    stale.write_bytes(b"an older format")
    with patterns.compiled_patterns():
        regex.compile(r"prune\d+me", cache_pattern=False)
    assert not stale.exists() and patterns._path().exists()
