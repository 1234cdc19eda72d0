"""Request ids are the caller's, per API key: another key reusing one must not land on the first key's review item.

Before the ids were scoped, the second key's answer carried the first key's review id and its own flagged output
was never queued (the queue stores each request id once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.review_ids import scoped_request_id
from tests.guard.fake_openai import FakeOpenAI, serve
from tests.service.server import stop
from tests.service.test_hold import DOSE, OTHER_KEY, hold_server


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with serve() as upstream:
        yield upstream


def test_two_keys_reusing_one_request_id_each_get_their_own_review_item(fake: FakeOpenAI, tmp_path: Path) -> None:
    srv = hold_server(tmp_path, fake)
    try:
        with srv.client() as c:
            first = c.post("/v1/validate", json={"output": DOSE, "request_id": "order-17"}).json()
            again = c.post("/v1/validate", json={"output": DOSE, "request_id": "order-17"}).json()
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {OTHER_KEY}"}) as c:
            other = c.post("/v1/validate", json={"output": "Take 900 mg once a day.", "request_id": "order-17"}).json()
        assert first["verdict"] == other["verdict"] == "review"
        assert again["review_id"] == first["review_id"]  # the same key: idempotent, as before
        assert other["review_id"] and other["review_id"] != first["review_id"]  # its own item, queued
    finally:
        stop(srv)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("a/b", "c"), ("a", "b/c")),
        (("a%2Fb", "c"), ("a/b", "c")),
        (("k", "x" * 300), ("k", "x" * 301)),
    ],
)
def test_scoped_ids_of_different_keys_or_ids_never_collide(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert scoped_request_id(*a) != scoped_request_id(*b)
    assert len(scoped_request_id(*a)) <= 200 and len(scoped_request_id(*b)) <= 200
