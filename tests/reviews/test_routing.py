"""Routing to reviewer groups in the store, on SQLite and on a real PostgreSQL: the routing document, the
routed filter (by policy or by finding code) and "next unclaimed" taking routed items first."""

from __future__ import annotations

import pytest

from guardrails import Engine
from guardrails.reviews import ItemFilter, ReviewStore, routing
from guardrails.reviews.routing import RouteGroup, Routing, RoutingError
from tests.reviews import test_store as base
from tests.reviews.test_store import submit

engine = base.engine
store = base.store

DOSAGE = "Take 400 mg twice a day."  # SVC003
GUARANTEE = "Our plan is risk-free."  # SVC001


def test_routing_document_round_trips_and_is_audited(store: ReviewStore) -> None:
    assert routing.load(store.engine).routing == Routing()
    doc = Routing(groups={"medical": RouteGroup(members=["bob", "alice"], codes=["SVC003"])})
    assert routing.save(store.engine, doc, actor="root")
    stored = routing.load(store.engine)
    assert stored.routing == doc and stored.updated_by == "root" and stored.updated_at is not None
    assert stored.routing.groups["medical"].members == ["alice", "bob"]
    # A seed only fills an empty database: the admin's edit is not overwritten by the file on restart.
    assert not routing.save(store.engine, Routing(), actor="system", only_if_empty=True)
    assert routing.load(store.engine).routing == doc
    assert Routing.from_yaml(doc.to_yaml()) == doc


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("groups: [a, b]", "groups"),
        ("groups: {medical: {members: [alice], colour: red}}", "groups.medical.colour"),
        ("groups: {'bad name!': {}}", "groups"),
        ("groups: {medical: {codes: ['']}}", "groups.medical.codes"),
        ("- just a list", "expected a mapping"),
        ("groups: {a: [", "not YAML"),
    ],
)
def test_a_bad_routing_document_names_the_field(text: str, where: str) -> None:
    with pytest.raises(RoutingError, match=r"routing\.yaml") as info:
        Routing.from_yaml(text, origin="routing.yaml")
    assert where in str(info.value)


def test_route_for_is_the_union_of_a_reviewers_groups() -> None:
    doc = Routing(
        groups={
            "medical": RouteGroup(members=["alice"], codes=["SVC003"]),
            "sales": RouteGroup(members=["alice", "bob"], policies=["sales"], codes=["SVC001"]),
        }
    )
    route = doc.route_for("alice")
    assert route is not None
    assert route.groups == ("medical", "sales") and route.codes == ("SVC001", "SVC003")
    assert route.policies == ("sales",)
    assert doc.route_for("carol") is None  # in no group: the whole queue is theirs


def test_routed_filter_by_code_and_policy(store: ReviewStore, engine: Engine) -> None:
    dose, _ = submit(store, engine, DOSAGE, "dose")
    guarantee, _ = submit(store, engine, GUARANTEE, "guarantee")
    by_code = store.items(ItemFilter(route_codes=["SVC003"]))
    assert [i.id for i in by_code] == [dose.id]
    assert {i.id for i in store.items(ItemFilter(route_policies=["demo"]))} == {dose.id, guarantee.id}
    assert {i.id for i in store.items(ItemFilter(route_policies=["other"], route_codes=["SVC001"]))} == {guarantee.id}
    assert store.items(ItemFilter(route_policies=["other"], route_codes=[])) == []
    assert store.count(ItemFilter(route_codes=["SVC003\x00"])) == 0  # never a database error


def test_next_takes_routed_items_first_then_the_rest(store: ReviewStore, engine: Engine) -> None:
    # Oldest first would give the guarantee; the medical group's reviewer gets the dosage item first.
    guarantee, _ = submit(store, engine, GUARANTEE, "g1")
    dose, _ = submit(store, engine, DOSAGE, "d1")
    route = (["other-policy"], ["SVC003"])
    first = store.claim_next("alice", ItemFilter(), route=route)
    assert first is not None and first.id == dose.id
    # Her claim is hers: asking again gives it back, not the next one.
    again = store.claim_next("alice", ItemFilter(), route=route)
    assert again is not None and again.id == dose.id
    # Without routing (another reviewer), oldest unclaimed.
    other = store.claim_next("bob", ItemFilter())
    assert other is not None and other.id == guarantee.id
    # Nothing routed left unclaimed: alice (having let go of hers) gets whatever is left in her filter.
    store.assign(dose.id, None, actor="alice")
    store.assign(guarantee.id, None, actor="bob")
    store.assign(dose.id, "carol", actor="carol", lease=True)
    rest = store.claim_next("alice", ItemFilter(), route=route)
    assert rest is not None and rest.id == guarantee.id
