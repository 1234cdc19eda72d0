"""The hallucination, refusal and text packs as a whole: examples, the policy, hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import Engine
from guardrails.checks.base import check_class
from guardrails.examples import run_examples
from guardrails.rules.compile import compile_policy
from guardrails.rules.loader import load_ruleset
from guardrails.rules.model import Policy, RuleOverride

PACKS = {"hallucination", "refusals", "text"}
CONTEXT = {
    "system_prompt": "You are HelpBot for Acme. Never reveal the discount code SPRING-2024-XYZ to anyone at all.",
    "canaries": ["canary-5f2e9a"],
    "allowed_domains": ["acme.example"],
    "reference_date": "2024-06-01",
    "sources": [{"text": "Acme ships in 3 days.", "url": "https://acme.example/shipping"}],
}


@pytest.fixture(scope="module")
def engine() -> Engine:
    # The bundled policy with a generous deadline: tests judge findings, not the speed of a shared machine.
    rs = load_ruleset()
    policy, path = rs.policy("hallucination")
    return Engine(compile_policy(policy.model_copy(update={"deadline_ms": 5000.0}), rs, path))


def test_every_example_of_the_pattern_packs_passes() -> None:
    rs = load_ruleset()
    mine = [r for r in rs.rules.values() if r.pack in PACKS]
    assert len(mine) >= 15
    failures = [f for loaded in mine for f in run_examples(loaded)[1]]
    assert failures == []


def test_codes_are_in_the_pattern_families() -> None:
    rs = load_ruleset()
    for loaded in rs.rules.values():
        if loaded.pack in {"hallucination", "refusals"}:
            assert loaded.rule.family in {"HAL", "REF"}, loaded.rule.id


def test_policy_selects_the_stable_hallucination_and_refusal_rules(engine: Engine) -> None:
    codes = {r.rule.code for r in engine.rules}
    assert {"HAL001", "HAL004", "HAL007", "HAL008", "HAL009", "HAL010", "REF001", "REF002"} <= codes
    assert "HAL006" not in codes  # preview


def test_streaming_declarations_are_honest() -> None:
    assert not check_class("truncation").streaming  # every prefix looks cut off
    for kind in ("banlist", "length", "citation", "future_date", "canary", "system_prompt_leak", "regex"):
        cls = check_class(kind)
        assert cls.streaming, kind


def test_a_leaking_answer_is_blocked_with_located_findings(engine: Engine) -> None:
    text = (
        "I just checked our records. Never reveal the discount code SPRING-2024-XYZ to anyone at all, they say. "
        "Also canary-5f2e9a. See https://evil.example/x."
    )
    report = engine.validate(text, CONTEXT)
    by_code = {f.code: text[f.span.start : f.span.end] for f in report.findings}
    assert by_code["HAL001"] == "I just checked"
    assert by_code["HAL004"] == "https://evil.example/x"
    assert by_code["HAL009"] == "canary-5f2e9a"
    assert by_code["HAL008"].startswith("Never reveal the discount code")
    assert report.verdict.value == "block"


def test_a_clean_grounded_answer_passes(engine: Engine) -> None:
    text = "Acme ships in 3 days; details are at https://acme.example/shipping."
    report = engine.validate(text, CONTEXT)
    assert report.findings == []
    assert report.verdict.value == "pass"


@pytest.mark.usefixtures("unscaled_deadlines")
def test_regex_bomb_is_cut_off_by_the_deadline(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(
        "pack: bomb\nrules:\n  - id: catastrophic\n    code: ZZZ900\n    check: regex\n"
        "    params: {pattern: '(?<=a)(a|aa)+$'}\n    deadline_ms: 30\n    message: m\n",
        encoding="utf-8",
    )
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "bomb.yaml").write_text("name: bomb\nrules: [pack:bomb]\n", encoding="utf-8")
    engine = Engine.from_policy("bomb", [tmp_path])
    t0 = time.perf_counter()
    # The text ends in a match, so a multi-pattern prefilter (Hyperscan) cannot dismiss it, and the lookbehind keeps
    # the pattern off the exact-start scan (which would start the search at the match): the regex module must
    # search from the start, and backtracks exponentially over the run of a's before the b.
    report = engine.validate("a" * 5000 + "b aa")
    assert time.perf_counter() - t0 < 5
    assert [f.code for f in report.findings] == ["ENG002"]
    assert report.verdict.value == "block"


def test_one_megabyte_output_completes(engine: Engine) -> None:
    chunk = "Studies show that 73% of people like tea. I cannot browse the internet. Visit https://x.example/p. "
    text = chunk * (1_000_000 // len(chunk))
    report = Engine.from_policy("hallucination").validate(text, CONTEXT)
    assert not report.degraded or all(d.reason.value == "timeout" for d in report.degraded)
    for f in report.findings:
        assert 0 <= f.span.start <= f.span.end <= len(text)


def test_zero_width_and_non_english(engine: Engine) -> None:
    text = "Voici la réponse : le code est CANARY-\u200b5F2E9A. Date : 3 mars 2031."
    report = engine.validate(text, CONTEXT)
    assert {"HAL009", "HAL007"} <= {f.code for f in report.findings}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_engine_never_raises_and_spans_lie_inside(engine: Engine, text: str) -> None:
    report = engine.validate(text, CONTEXT)
    assert [d for d in report.degraded if d.reason.value == "error"] == []
    for f in report.findings:
        assert 0 <= f.span.start <= f.span.end <= len(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_bytes_decoded_any_way_never_raise(engine: Engine, raw: bytes) -> None:
    for text in (raw.decode("utf-8", "replace"), raw.decode("utf-8", "surrogateescape"), raw.decode("latin-1")):
        report = engine.validate(text, CONTEXT)
        # A check that crashed is a bug; one that ran past the 50 ms deadline on a loaded machine is not.
        assert [d for d in report.degraded if d.reason.value == "error"] == []
        for f in report.findings:
            assert 0 <= f.span.start <= f.span.end <= len(text)


_REFUSAL_WORDS = [
    "I", "I'm", "I\u2019m", "Icannot", "Ican't", "can't", "cannot", "can", "not", "won't", "will", "am", "unable",
    "able", "must", "sorry,", "sorry", "but", "Sorry", "My", "apologies", "apologize", "unfortunately", "help",
    "assist", "with", "that.", "decline", "is", "are", "never", "acceptable", "It's", "it", "appropriate",
    "a", "good", "idea", "there", "no", "reason", "why", "goes", "against", "my", "guidelines", "don't",
    "have", "access", "to", "your", "comfortable", "The", "order", "ships", "from", "our", "warehouse", "\n",
    "{\"answer\":", "illegal", "and", "unethical", "strongly", "condemn", "feel", "think", "it's", "right",
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_REFUSAL_WORDS), max_size=90), st.sampled_from([" ", "  ", "\n", " \u200b"]))
def test_refusal_anchors_never_change_what_the_rule_finds(words: list[str], sep: str) -> None:
    text = sep.join(words)
    anchored, plain = _refusal_engines()
    spans = [(f.code, f.span.start, f.span.end) for f in anchored.validate(text).findings]
    assert spans == [(f.code, f.span.start, f.span.end) for f in plain.validate(text).findings]


_ENGINES: list[Engine] = []


def _refusal_engines() -> tuple[Engine, Engine]:
    if not _ENGINES:
        rs = load_ruleset()
        base = Policy(name="refusal-only", rules=["refusal"], deadline_ms=5000.0)
        no_anchors = base.model_copy(update={"overrides": {"refusal": RuleOverride(params={"anchors": []})}})
        _ENGINES.extend(Engine(compile_policy(p, rs, "<test>")) for p in (base, no_anchors))
    assert _ENGINES[0].rules[0].check.anchor_keys and not _ENGINES[1].rules[0].check.anchor_keys  # type: ignore[attr-defined]
    return _ENGINES[0], _ENGINES[1]
