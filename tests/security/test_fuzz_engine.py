"""Fuzzing `Engine.validate` with hostile outputs AND hostile caller contexts (issue 13).

A caller controls the output and the whole context: JSON Schemas (with regular expressions built to
backtrack, overlap, refer back, repeat huge counts, or not parse), template names with HTML outputs
(malformed, deeply nested, not English), sources, canaries, system prompts, per-call facts. Properties:

- no exception escapes validate();
- no call outlasts its policy's deadline: each pass runs every rule under its own (scaled) deadline, so a
  call may take at most passes x (sum of the rules' deadlines), plus 100 ms for the engine's own work, and
  no single rule may run seconds past its own deadline;
- every finding's span lies inside the text it describes.

CI runs a bounded number of examples (the module takes well under a minute); set OUTGUARD_FUZZ_EXAMPLES for a
long run (e.g. 20000), and OUTGUARD_FUZZ_STATS to a file path to get the run's numbers (examples, wall-time
percentiles, worst overshoot of a rule past its deadline) as JSON.

Engines compile with the deadline scale in force (tests run 8x looser, see tests/conftest.py), and the bounds
use those scaled deadlines: at scale 1 a shared machine's scheduling stalls alone (3 s for a 4-character
output, not reproducible) broke the 2.1 s bound of the facts policy. A rule that runs late is an ENG002
finding, which these properties allow.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails import Engine, Report

EXAMPLES = int(os.environ.get("OUTGUARD_FUZZ_EXAMPLES", "0") or 0)
SLACK_S = 0.1
RULE_SLACK_S = 2.0
"""How far one rule may run past its own deadline, counted only when the call's CPU time shows the process was
computing rather than waiting for a shared CPU: seconds of work past a deadline mean the check ignores it (the
fuzz found one, a quadratic pattern in the PII check)."""
POLICIES = ("json", "html", "facts", "default")
_CI_EXAMPLES = {"json": 120, "html": 60, "facts": 40, "default": 40}

pytestmark = pytest.mark.timeout(0 if EXAMPLES else 300)  # a long run takes as long as it was asked to


def _settings(policy: str) -> Any:
    return settings(
        max_examples=EXAMPLES or _CI_EXAMPLES[policy],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        derandomize=not EXAMPLES,  # CI: the same examples every run; a long run explores
        database=None,
    )


# -- stats for the long run --------------------------------------------------------------------------------------

_STATS: dict[str, Any] = {"examples": 0, "wall_ms": [], "rule_overshoot_ms": 0.0, "bound_margin_ms": None, "late": 0}


@pytest.fixture(scope="module", autouse=True)
def _write_stats() -> Iterator[None]:
    yield
    path = os.environ.get("OUTGUARD_FUZZ_STATS")
    walls = sorted(_STATS["wall_ms"])
    if not path or not walls:
        return
    summary = {
        "examples": _STATS["examples"],
        "wall_ms_p50": walls[len(walls) // 2],
        "wall_ms_p99": walls[min(len(walls) - 1, int(len(walls) * 0.99))],
        "wall_ms_max": walls[-1],
        "worst_rule_overshoot_ms": _STATS["rule_overshoot_ms"],
        "worst_rule": _STATS.get("worst_rule"),
        "worst_example": _STATS.get("worst_example"),
        "closest_to_bound_ms": _STATS["bound_margin_ms"],
        "calls_with_eng002": _STATS["late"],
        "slowest_calls_ms": walls[-5:],
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)


# -- engines -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engines() -> dict[str, Engine]:
    return {name: Engine.from_policy(name) for name in POLICIES}


def _check(engine: Engine, output: str, context: dict[str, Any]) -> Report:
    """validate() once, and assert the three properties."""
    output = str(output)
    t0, c0 = time.perf_counter(), time.process_time()
    report = engine.validate(output, context)  # any exception fails the example
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    passes = 1 + max((e.round for e in report.edits), default=0)
    per_pass = sum(r.deadline_s for r in engine.rules)
    bound = passes * per_pass + SLACK_S
    assert wall <= bound, f"validate took {wall:.3f} s, bound {bound:.3f} s ({passes} passes)"
    deadlines = {r.rule.id: r.deadline_s * 1000 for r in engine.rules}
    for label, text, findings in (
        ("finding", report.original, report.findings),
        ("residual", report.output, report.residual),
    ):
        for f in findings:
            assert 0 <= f.span.start <= f.span.end <= len(text), f"{label} {f.code} span {f.span} outside the text"
    _STATS["examples"] += 1
    _STATS["wall_ms"].append(wall * 1000)
    margin = (bound - wall) * 1000
    _STATS["bound_margin_ms"] = margin if _STATS["bound_margin_ms"] is None else min(_STATS["bound_margin_ms"], margin)
    for t in report.timings:
        over = t.ms - deadlines.get(t.rule_id, float("inf"))
        if over > _STATS["rule_overshoot_ms"]:
            _STATS["rule_overshoot_ms"], _STATS["worst_rule"] = over, f"{engine.policy.name}:{t.rule_id}"
            _STATS["worst_example"] = {"chars": len(output), "head": output[:80], "context": sorted(context)}
    worst = max(report.timings, key=lambda t: t.ms - deadlines.get(t.rule_id, float("inf")), default=None)
    if worst is not None:
        over_ms = worst.ms - deadlines[worst.rule_id]
        computing = cpu * 1000 >= over_ms / 2
        late = f"{worst.rule_id} took {worst.ms:.0f} ms ({cpu:.1f} s CPU)"
        assert over_ms <= RULE_SLACK_S * 1000 or not computing, late
    if any(f.code == "ENG002" for f in report.findings):
        _STATS["late"] += 1
    return report


class _Big(str):
    """A long generated output with a short repr: hypothesis prints its examples, and warnings are errors."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} chars: {str.__repr__(self[:60])}...>"


# -- hostile regular expressions ---------------------------------------------------------------------------------

_ATOMS = st.sampled_from(["a", "aa", "\\w", "\\d", ".", "[a-z]", "\\s", "a?", "(?:a|b)", "é", "\\S"])
_COUNTS = st.sampled_from([2, 10, 100, 1000, 9999, 10_001, 65_535, 4_294_967_295])
_INVALID = st.sampled_from(
    ["(", ")", "[a-", "*a", "a{2,1}", "\\p{L}", "(?<n", "(?P<1>a)", "\\", "a**", "(?#", "[[:alpha:]]", "\\1", "x{,"]
)


@st.composite
def hostile_patterns(draw: st.DrawFn) -> str:
    a = draw(_ATOMS)
    b = draw(_ATOMS)
    n = draw(_COUNTS)
    shape = draw(
        st.sampled_from(
            [
                f"^({a}+)+$",
                f"^({a}*)*$",
                f"^({a}|{a})*$",
                f"^({a}|{a}{b})+$",
                f"({a}|{b})*{b}$",
                f"(.*{a}){{{min(n, 30)}}}",
                f"^({a}+)+\\1$",
                f"(?=({a}+))\\1{b}",
                f"({a}){{{n}}}",
                f"(?:(?:{a}{{{min(n, 1000)}}}){{{min(n, 1000)}}})",
                f"{a}{{{n},}}",
                f"^(?:{a}+|{b}+)*$",
                f"(?i)({a}|{b})+$",
            ]
        )
    )
    return draw(st.one_of(st.just(shape), _INVALID, st.text(alphabet="a()[]{}*+?|\\^$.,0123456789", max_size=20)))


@st.composite
def victims(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(["a", "aa", "ab", "1", " ", "é", "a a"]))
    tail = draw(st.sampled_from(["!", "", "b", "\x00", "€"]))
    return unit * draw(st.integers(0, 60)) + tail


@st.composite
def schemas(draw: st.DrawFn) -> Any:
    pattern = draw(hostile_patterns())
    props: dict[str, Any] = {"name": {"type": "string"}, "p": {"type": "string"}}
    schema: dict[str, Any] = {"type": "object"}
    parts = draw(
        st.sets(
            st.sampled_from(
                ["pattern", "patternProperties", "additional", "unevaluated", "names", "format", "required"]
            ),
            min_size=1,
        )
    )
    if draw(st.booleans()):
        schema["$schema"] = draw(
            st.sampled_from(
                [
                    "https://json-schema.org/draft/2020-12/schema",
                    "https://json-schema.org/draft/2019-09/schema",
                    "http://json-schema.org/draft-07/schema#",
                    "http://json-schema.org/draft-04/schema#",
                    "http://example.com/not-a-draft",
                ]
            )
        )
    if "additional" in parts:
        schema["additionalProperties"] = draw(st.sampled_from([False, {"type": "integer"}]))
    if "unevaluated" in parts:
        schema["unevaluatedProperties"] = False
    if "pattern" in parts:
        props["name"]["pattern"] = pattern
    if "patternProperties" in parts:
        schema["patternProperties"] = {pattern: {"type": "integer"}, draw(hostile_patterns()): {}}
    if "names" in parts:
        schema["propertyNames"] = {"pattern": pattern}
    if "format" in parts:
        props["p"]["format"] = "regex"
    if "required" in parts:
        schema["required"] = ["id"]
    schema["properties"] = props
    return draw(st.one_of(st.just(schema), st.just(schema), st.just(schema), _garbage_schemas))


_garbage_schemas = st.one_of(
    st.just({"type": "nonsense"}),
    st.just({"$ref": "http://example.com/remote.json"}),
    st.just({"$ref": "#/$defs/missing"}),
    st.builds(lambda d: {"allOf": [{"allOf": [{}]}] * d}, st.integers(1, 5)),
    st.recursive(st.just({}), lambda inner: st.builds(lambda s: {"items": s}, inner), max_leaves=50),
    st.just({"items": [1, 2]}),
    st.just({"pattern": 5}),
)


@st.composite
def json_outputs(draw: st.DrawFn) -> str:
    victim = draw(victims())
    value: dict[str, Any] = {"name": victim, victim: 1, "p": draw(st.one_of(hostile_patterns(), victims()))}
    if draw(st.booleans()):
        value["id"] = draw(st.integers())
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    form = draw(st.sampled_from(["plain", "fenced", "prose", "truncated", "deep", "garbage"]))
    if form == "fenced":
        return f"```json\n{text}\n```"
    if form == "prose":
        return f"Here you go: {text} Hope it helps."
    if form == "truncated":
        return text[: draw(st.integers(0, len(text)))]
    if form == "deep":
        depth = draw(st.integers(1, 3000))
        return _Big("[" * depth + text + "]" * draw(st.integers(0, depth)))
    return draw(st.text(max_size=200))


# -- HTML --------------------------------------------------------------------------------------------------------

_SCRIPTS = st.sampled_from(
    ["Grüße aus Köln", "日本語のテキスト", "Привет, мир", "مرحبا بالعالم", "שלום", "हिन्दी", "🙂🚀", "\u202e\u200b", ""]
)
_TAGS = st.sampled_from(["div", "p", "span", "ul", "li", "a", "h2", "b", "script", "style", "img", "table", "svg"])


@st.composite
def html_fragments(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(_TAGS)
    attrs = draw(
        st.sampled_from(
            [
                "",
                ' data-slot="name"',
                ' data-slot="price"',
                ' href="javascript:alert(1)"',
                ' onclick="x()"',
                ' href="https://example.com/a"',
                " class='x' id=y",
                ' data-slot="',
                ' title="<>&"',
            ]
        )
    )
    inner = draw(_SCRIPTS)
    if depth < 4 and draw(st.booleans()):
        inner += "".join(draw(st.lists(html_fragments(depth + 1), max_size=3)))  # type: ignore[call-arg]
    close = draw(st.sampled_from([f"</{tag}>", "", f"</{tag}", "</wrong>"]))
    return f"<{tag}{attrs}>{inner}{close}"


@st.composite
def html_outputs(draw: st.DrawFn) -> str:
    form = draw(st.sampled_from(["fragments", "deep", "wide", "text", "comment"]))
    if form == "deep":
        n = draw(st.integers(1, 5000))
        return _Big("<div>" * n + draw(_SCRIPTS) + "</div>" * draw(st.integers(0, n)))
    if form == "wide":
        return _Big("<p>x</p>" * draw(st.integers(1, 30_000)))
    if form == "text":
        return draw(st.text(max_size=300))
    if form == "comment":
        return "<!--" + draw(st.text(max_size=50)) + draw(st.sampled_from(["-->", "", "--!>"])) + "<p>y</p>"
    return "".join(draw(st.lists(html_fragments(), min_size=1, max_size=6)))


# -- other context fields ----------------------------------------------------------------------------------------

_small_text = st.text(max_size=80)
_facts = st.lists(
    st.fixed_dictionaries(
        {
            "entity": st.sampled_from(["Zephyr Kettle", "ZK", "é", "a" * 50]),
            "attribute": st.sampled_from(["price", "weight", "release_date", "colour"]),
            "type": st.sampled_from(["money", "number", "date", "text", "bogus"]),
            "value": st.sampled_from(["49.00", "1.1", "2022-03-03", "red", "", "(a+)+$"]),
        },
        optional={"aliases": st.lists(st.sampled_from(["ZK-1", "(a|a)*", "", "kettle"]), max_size=3)},
    ),
    max_size=5,
)


@st.composite
def contexts(draw: st.DrawFn, *, schema: bool = False, template: bool = False) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    if schema:
        ctx["schema"] = draw(schemas())
    if template:
        ctx["template"] = draw(st.sampled_from(["product-card", "support-answer", "order-email", "nope", ""]))
        ctx["allowed_domains"] = draw(st.lists(st.sampled_from(["example.com", "*", "", "é.com"]), max_size=2))
    if draw(st.booleans()):
        ctx["sources"] = [{"text": t} for t in draw(st.lists(_small_text, max_size=3))]
    if draw(st.booleans()):
        ctx["canaries"] = draw(st.lists(_small_text, max_size=3))
    if draw(st.booleans()):
        ctx["system_prompt"] = draw(_small_text)
    if draw(st.booleans()):
        ctx["extra"] = {"facts": draw(_facts)}
    if draw(st.booleans()):
        ctx["language"] = draw(st.sampled_from(["en", "de", "ja", "xx", ""]))
    if draw(st.booleans()):
        ctx["reference_date"] = draw(st.sampled_from(["2020-01-01", "2099-12-31"]))
    return ctx


# -- the properties ----------------------------------------------------------------------------------------------


@_settings("json")
@given(output=json_outputs(), context=contexts(schema=True))
def test_json_policy_with_caller_schemas(engines: dict[str, Engine], output: str, context: dict[str, Any]) -> None:
    _check(engines["json"], output, context)


@_settings("html")
@given(output=html_outputs(), context=contexts(template=True))
def test_html_policy_with_caller_templates(engines: dict[str, Engine], output: str, context: dict[str, Any]) -> None:
    _check(engines["html"], output, context)


@_settings("facts")
@given(
    output=st.one_of(st.text(max_size=300), st.just("The Zephyr Kettle (ZK-1) costs $59, weighs 2 kg, red.")),
    context=contexts(),
)
def test_facts_policy_with_caller_facts(engines: dict[str, Engine], output: str, context: dict[str, Any]) -> None:
    _check(engines["facts"], output, context)


@_settings("default")
@given(
    output=st.one_of(json_outputs(), html_outputs(), st.text(max_size=500)),
    context=contexts(schema=True, template=True),
)
def test_default_policy_with_everything(engines: dict[str, Engine], output: str, context: dict[str, Any]) -> None:
    _check(engines["default"], output, context)


def test_strategies_reach_the_hostile_shapes() -> None:
    """The pattern strategy yields each kind of hostile shape (so a long run is not fuzzing only garbage)."""
    seen: set[str] = set()

    @settings(max_examples=300, derandomize=True, database=None)
    @given(hostile_patterns())
    def collect(p: str) -> None:
        if "+)+" in p or "*)*" in p:
            seen.add("nested")
        if "\\1" in p:
            seen.add("backreference")
        if any(c in p for c in ("{65535}", "{10001}", "{4294967295}")):
            seen.add("huge-count")
        if p in {"(", "[a-", "a{2,1}"}:
            seen.add("invalid")

    collect()
    assert seen == {"nested", "backreference", "huge-count", "invalid"}
