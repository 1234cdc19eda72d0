"""The known_facts check: claims supported, contradicted or unverifiable; repair; live store updates."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.checks.base import Deadline, RunContext
from guardrails.checks.known_facts import KnownFactsCheck, KnownFactsParams
from guardrails.context import Context
from guardrails.document import Document
from guardrails.engine import Engine
from guardrails.facts.store import FactStore
from guardrails.rules.compile import CompiledPolicy, CompiledRule
from guardrails.rules.model import Policy, RepairSettings, Rule
from tests.facts.conftest import store_url  # noqa: F401 - the sqlite/postgres fixture

FACTS: list[dict[str, Any]] = [
    {
        "entity": "Acme X1",
        "aliases": ["X1", "Acmé X-1"],
        "attribute": "price",
        "type": "money",
        "value": "999",
        "currency": "USD",
    },
    {"entity": "Acme X1", "attribute": "weight", "type": "number", "value": "1.2", "unit": "kg"},
    {"entity": "Acme X1", "attribute": "release_date", "type": "date", "value": "2024-03-05"},
    {"entity": "Acme X1", "attribute": "discontinued", "type": "boolean", "value": "false"},
    {"entity": "Acme X1", "attribute": "color", "type": "enum", "value": "black", "choices": ["black", "white"]},
    {"entity": "Acme X1", "attribute": "battery", "type": "number", "value": "4500", "unit": "mAh"},
    {"entity": "Acme X1", "attribute": "discount", "type": "number", "value": "15", "unit": "%"},
    {"entity": "Acme X1", "attribute": "maker", "type": "text", "value": "Acme Corp"},
    {"entity": "iPhone 15", "attribute": "price", "type": "money", "value": "799", "currency": "USD"},
]
ATTRS = {
    "price": {"phrases": ["costs", "cost", "priced at"]},
    "weight": {"phrases": ["weighs"]},
    "release_date": {"phrases": ["released", "launched"]},
    "discontinued": {"phrases": ["discontinued"], "negative": ["still sold"]},
    "color": {"phrases": ["comes in"]},
    "maker": {"phrases": ["made by"]},
    "warranty": {"phrases": ["warranty"]},
}


def _check(**kw: Any) -> KnownFactsCheck:
    params = {
        "use_store": False,
        "facts": FACTS,
        "attributes": ATTRS,
        "report": ["contradicted", "supported", "unverifiable"],
    }
    return KnownFactsCheck(KnownFactsParams.model_validate({**params, **kw}))


def _claims(text: str, check: KnownFactsCheck | None = None, **ctx: Any) -> list[tuple[str, str, str]]:
    check = check or _check()
    doc = Document(text)
    out = []
    for hit in check.run(doc, RunContext(Context(**ctx))):
        out.append((hit.values["attribute"], hit.values["status"], text[hit.start : hit.end]))
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Acme X1 costs $999.", [("price", "supported", "$999")]),
        ("The Acme X1 costs $1,299.99 today.", [("price", "contradicted", "$1,299.99")]),
        ("The acme x-1 is priced at USD 999.", [("price", "supported", "USD 999")]),
        ("The ACMÉ X1 costs 999 EUR.", [("price", "unverifiable", "999 EUR")]),
        ("The Acme X1 costs about $1,050.", [("price", "supported", "$1,050")]),
        ("The Acme X1 costs more than $2,000.", [("price", "contradicted", "$2,000")]),
        ("The Acme X1 does not cost $999.", [("price", "contradicted", "$999")]),
        ("The Acme X1 does not cost $500.", [("price", "supported", "$500")]),
        ("The X1 weighs 1,200 g.", [("weight", "supported", "1,200 g")]),
        ("The X1 weighs 3.1 lb.", [("weight", "contradicted", "3.1 lb")]),
        ("The X1 was released on 5 March 2024.", [("release date", "supported", "5 March 2024")]),
        ("The X1 was released on 03/06/2024.", [("release date", "contradicted", "03/06/2024")]),
        ("The X1 launched in 2023.", [("release date", "contradicted", "2023")]),
        ("The X1 launched in March 2024.", [("release date", "supported", "March 2024")]),
        ("The X1 has been discontinued.", [("discontinued", "contradicted", "discontinued")]),
        ("The X1 is not discontinued.", [("discontinued", "supported", "discontinued")]),
        ("The X1 is still sold.", [("discontinued", "supported", "still sold")]),
        ("The X1 comes in white.", [("color", "contradicted", "white")]),
        ("The X1 is black.", [("color", "supported", "black")]),
        ("The X1 has a 5,000 mAh battery.", [("battery", "contradicted", "5,000 mAh")]),
        ("The X1 is 15% off.", [("discount", "supported", "15%")]),
        ("The X1 is made by Acme Corp.", [("maker", "supported", "Acme Corp")]),
        ("The X1 is made by Globex.", [("maker", "unverifiable", "made by")]),
        ("The X1 has a 2-year warranty.", [("warranty", "unverifiable", "2-year")]),
        ("The X1 holds 1.7 litres.", []),
        ("The X1 has a warranty and costs $5.", [("price", "contradicted", "$5")]),
        ("The X10 costs $5.", []),
        ("The Acme X2 costs $5.", []),
        (
            "The iPhone 15 costs $799, the X1 costs $999.",
            [("price", "supported", "$799"), ("price", "supported", "$999")],
        ),
        (
            "The iPhone 15 costs $899, the X1 costs $999.",
            [("price", "contradicted", "$899"), ("price", "supported", "$999")],
        ),
    ],
)
def test_claims(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert _claims(text, reference_date=dt.date(2025, 1, 1)) == expected


def test_only_the_reported_statuses_become_hits() -> None:
    check = _check(report=["contradicted"])
    assert _claims("The X1 costs $999 and weighs 2 kg.", check) == [("weight", "contradicted", "2 kg")]
    check = _check(report=["unverifiable"])
    assert _claims("The X1 costs $999 and weighs 2 kg.", check) == []


def test_evidence_is_the_fact_row_and_the_fix_is_unsafe() -> None:
    text = "Price check: the X1 costs $1,299."
    [hit] = _check(report=["contradicted"]).run(Document(text), RunContext(Context()))
    assert hit.evidence.fact is not None
    assert hit.evidence.fact["attribute"] == "price" and hit.evidence.fact["value"]["amount"] == "999"
    assert hit.fix is not None and not hit.fix.safe
    [edit] = hit.fix.edits
    assert text[edit.start : edit.end] == "1,299" and edit.replacement == "999"
    assert hit.start <= edit.start <= edit.end <= hit.end


def test_validity_interval_follows_the_reference_date() -> None:
    facts = [
        {
            "entity": "Zug",
            "attribute": "price",
            "type": "money",
            "value": "10",
            "currency": "CHF",
            "valid_to": "2025-01-01",
        },
        {
            "entity": "Zug",
            "attribute": "price",
            "type": "money",
            "value": "12",
            "currency": "CHF",
            "valid_from": "2025-01-01",
        },
    ]
    check = _check(facts=facts)
    assert _claims("Zug: price CHF 10", check, reference_date=dt.date(2024, 6, 1))[0][1] == "supported"
    assert _claims("Zug: price CHF 10", check, reference_date=dt.date(2025, 6, 1))[0][1] == "contradicted"


def test_shared_alias_contradicts_only_if_it_contradicts_every_entity() -> None:
    facts = [
        {
            "entity": "Mercury Sedan",
            "aliases": ["Mercury"],
            "attribute": "price",
            "type": "money",
            "value": "20000",
            "currency": "USD",
        },
        {
            "entity": "Mercury Coupe",
            "aliases": ["Mercury"],
            "attribute": "price",
            "type": "money",
            "value": "30000",
            "currency": "USD",
        },
    ]
    check = _check(facts=facts)
    assert _claims("The Mercury costs $30,000.", check)[0][1] == "supported"
    assert _claims("The Mercury costs $45,000.", check)[0][1] == "contradicted"


def test_per_call_facts_from_the_context() -> None:
    check = _check(facts=[])
    extra = {"facts": [{"entity": "Nimbus", "attribute": "price", "type": "money", "value": "20", "currency": "GBP"}]}
    assert _claims("The Nimbus costs £25.", check, extra=extra) == [("price", "contradicted", "£25")]
    with pytest.raises(ValueError, match=r"context.extra.facts\[0\].currency"):
        _claims("x", check, extra={"facts": [{"entity": "N", "attribute": "p", "type": "money", "value": "1"}]})


def test_bad_inline_facts_fail_at_load_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"params.facts\[0\].type"):
        KnownFactsParams.model_validate({"facts": [{"entity": "a", "attribute": "b", "type": "colour", "value": "x"}]})


def test_non_english_text_with_configured_phrases() -> None:
    facts = [
        {
            "entity": "Größenwahn Müsli",
            "aliases": ["GM"],
            "attribute": "price",
            "type": "money",
            "value": "4.99",
            "currency": "EUR",
        }
    ]
    check = _check(facts=facts, attributes={"price": {"phrases": ["kostet", "preis"]}})
    assert _claims("Das GROSSENWAHN MUSLI kostet 5,99 €.", check) == []  # decimal comma: not read as 4.99 vs 5,99
    assert _claims("Das Größenwahn Müsli kostet €5.99.", check) == [("price", "contradicted", "€5.99")]
    text = "東京タワー: 高さ 400 m."
    check = _check(
        facts=[{"entity": "東京タワー", "attribute": "height", "type": "number", "value": "333", "unit": "m"}]
    )
    assert _claims(text, check) == [("height", "contradicted", "400 m")]


def test_huge_and_hostile_outputs_stay_bounded() -> None:
    check = _check(max_claims=50)
    text = "The X1 costs $1. " * 20_000
    hits = list(check.run(Document(text), RunContext(Context())))
    assert 0 < len(hits) <= 50
    with pytest.raises(Exception, match="deadline"):
        list(check.run(Document(text + " "), RunContext(Context(), Deadline(0.0))))
    nasty = "X1 " + "(" * 5000 + "$" * 5000 + "\u202e\u0000" + "1" * 10_000
    for hit in check.run(Document(nasty), RunContext(Context())):
        assert 0 <= hit.start <= hit.end <= len(nasty)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("X1 Acmé-x$€£0123456789.,kgKG cost weighs not ÄßﬁİĲ\n")), max_size=120))
def test_spans_always_lie_inside_the_text(text: str) -> None:
    for hit in _check().run(Document(text), RunContext(Context())):
        assert 0 <= hit.start <= hit.end <= len(text)
        if hit.fix:
            for e in hit.fix.edits:
                assert hit.start <= e.start <= e.end <= hit.end


# -- through the engine, with a real store --------------------------------------------------------


def _engine(url: str, *, allow_unsafe: bool) -> Engine:
    rule = Rule(
        id="known-fact-contradicted",
        code="FACT001",
        check="known_facts",
        params={"db": url, "attributes": ATTRS},
        action="repair",  # type: ignore[arg-type]
        message="{entity}: {claimed} vs {known}",
    )
    check = KnownFactsCheck(KnownFactsParams.model_validate(rule.params))
    policy = Policy(name="t", rules=["*"], repair=RepairSettings(allow_unsafe=allow_unsafe))
    return Engine(CompiledPolicy(policy, (CompiledRule(rule, check, 5.0, "facts"),), "t"))


def test_an_update_takes_effect_on_the_next_validation(store_url: str) -> None:  # noqa: F811
    store = FactStore.open(store_url)
    store.set(FACTS[0])
    engine = _engine(store_url, allow_unsafe=True)
    report = engine.validate("The X1 costs $1,299.")
    assert report.verdict.value == "repaired" and report.output == "The X1 costs $999."
    assert report.findings[0].evidence.fact is not None
    store.set({**FACTS[0], "value": "1299"})  # fixing a mistake is updating one row
    assert engine.validate("The X1 costs $1,299.").verdict.value == "pass"
    assert engine.validate("The X1 costs $999.").output == "The X1 costs $1,299."
    store.set({"entity": "Acme X9", "attribute": "price", "type": "money", "value": "5", "currency": "USD"})
    assert engine.validate("The Acme X9 costs $7.").output == "The Acme X9 costs $5."
    store.close()


def test_without_unsafe_repair_a_contradiction_asks_for_regeneration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    FactStore.open(url).set(FACTS[0])
    report = _engine(url, allow_unsafe=False).validate("The X1 costs $1,299.")
    assert report.verdict.value == "regenerate" and report.output == "The X1 costs $1,299."


def test_default_policy_loads_on_a_fresh_machine_and_sees_a_first_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OUTGUARD_FACTS_DB", raising=False)
    engine = Engine.from_policy("default")
    assert engine.validate("The Acme X1 costs $5.").verdict.value == "pass"
    assert not (tmp_path / "data" / "facts.db").exists()  # validating never creates the store


def test_default_policy_needs_no_sqlalchemy_without_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTGUARD_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("OUTGUARD_FACTS_DB", raising=False)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # a core-only install
    monkeypatch.delitem(sys.modules, "guardrails.facts.store", raising=False)
    assert Engine.from_policy("default").validate("The Acme X1 costs $5.").verdict.value == "pass"


def test_an_unreachable_database_fails_closed() -> None:
    engine = _engine("postgresql+psycopg://nobody@127.0.0.1:1/none", allow_unsafe=False)
    report = engine.validate("The X1 costs $5.")
    assert report.verdict.value == "block"
    assert report.findings[0].code.startswith("ENG")


def test_too_many_per_call_facts_fail_closed() -> None:
    rows = [{"entity": f"E{i}", "attribute": "p", "type": "text", "value": "v"} for i in range(5)]
    check = _check(facts=[], max_call_facts=3)
    with pytest.raises(ValueError, match="max_call_facts"):
        _claims("E1", check, extra={"facts": rows})


def test_validations_in_threads_while_facts_change(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = f"sqlite:///{tmp_path / 'f.db'}"
    store = FactStore.open(url)
    store.set(FACTS[0])
    engine = _engine(url, allow_unsafe=False)
    texts = [f"The X1 costs ${p}. The Acme X{p} costs $3." for p in range(999, 1019)] * 10

    def validate(text: str) -> str:
        return engine.validate(text).verdict.value

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(validate, t) for t in texts]
        for i in range(30):
            store.set({**FACTS[0], "value": str(999 + i % 5)})
            store.set(
                {"entity": f"Acme X{1000 + i}", "attribute": "price", "type": "money", "value": "3", "currency": "USD"}
            )
        verdicts = [f.result() for f in futures]
    assert set(verdicts) <= {"pass", "regenerate"}
    store.close()


def _without_store_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in an install without the `store` extra: SQLAlchemy (and the store module) cannot be imported."""
    from guardrails.checks import known_facts

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    monkeypatch.setitem(sys.modules, "guardrails.facts.store", None)
    monkeypatch.setattr(known_facts, "_SHARED", {})


def test_without_store_extra_and_no_database_the_check_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _without_store_extra(monkeypatch)
    check = KnownFactsCheck(
        KnownFactsParams.model_validate({"facts": FACTS[:1], "db": f"sqlite:///{tmp_path / 'none.db'}"})
    )
    hits = list(check.run(Document("The Acme X1 costs $1,299."), RunContext(Context())))
    assert [h.values["status"] for h in hits] == ["contradicted"]


def test_without_store_extra_an_existing_database_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "facts.db"
    db.write_bytes(b"")
    _without_store_extra(monkeypatch)
    with pytest.raises(ValueError, match=r"outguard\[store\]"):
        KnownFactsCheck(KnownFactsParams.model_validate({"db": f"sqlite:///{db}"}))
