"""The review page tells reviewers which items a client is waiting on (hold-for-review): the badge with the time
left on the queue's rows, the held view (nearest deadline first, keyset pages), the notice near an item's decision
buttons, "timed out: <action>" after the deadline; one query for a page's held state; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from service import ServiceConfig, create_app
from service.hold.config import HoldConfig
from service.hold.store import HeldStore, held
from service.review.held import time_left
from tests.service.conftest import DEMO_RULES, auth, keyring, login
from tests.service.server import running_server
from tests.service.test_browser import ARTIFACTS, playwright_api  # noqa: F401  (fixture)
from tests.service.test_review_browser import ARGS, AXE, _axe, _login

DOSE = "Take 400 mg twice a day."
ROW = re.compile(r'<tr class="sev-[^"]*">(.*?)</tr>', re.S)
ITEM = re.compile(r'href="/review/items/([0-9a-f]{32})')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'held.sqlite3'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    name = f"held_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.dispose()


@pytest.fixture
def make(db_url: str) -> Iterator[Callable[..., TestClient]]:
    """Sidecars on `db_url` with hold-for-review (a short sweep). Closed here, not by `make_client`: the shared
    results cache writes behind the requests, so its queue is flushed before the queue's pool is closed, and the
    pool closed again after (a connection a late write opened would otherwise be left to the GC on PostgreSQL)."""
    clients: list[TestClient] = []

    def build(**hold: Any) -> TestClient:
        cfg = HoldConfig(**{"timeout_s": 600, "sweep_s": 0.05, **hold})
        config = ServiceConfig(policies=["demo"], rules_dirs=[DEMO_RULES], review_db=db_url, hold=cfg)
        client = TestClient(create_app(config, keys=keyring(), load_sync=True), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for c in clients:
        state = c.app.state.outguard  # type: ignore[attr-defined]
        shared = state.results_cache.tiers.shared
        if shared is not None:
            shared.flush()
        c.__exit__(None, None, None)
        state.reviews.engine.dispose()


def holds(client: TestClient) -> HeldStore:
    store: HeldStore = client.app.state.outguard.holds.store  # type: ignore[attr-defined]
    return store


def hold(client: TestClient, output: str = DOSE) -> str:
    """A /v1/validate call that waits for a reviewer: the held answer's id (= its review item's id)."""
    r = client.post("/v1/validate", json={"output": output}, headers={"X-Outguard-Hold": "wait", **auth()})
    assert r.status_code == 202, r.text
    held_id: str = r.json()["id"]
    return held_id


def queued(client: TestClient, output: str = DOSE) -> str:
    """A review item nobody waits on."""
    r = client.post("/v1/validate", json={"output": output}, headers=auth())
    assert r.status_code == 200 and r.json()["verdict"] == "review", r.text
    review_id: str = r.json()["review_id"]
    return review_id


def set_deadline(client: TestClient, held_id: str, at: float) -> None:
    with holds(client).engine.begin() as conn:
        conn.execute(sa.update(held).where(held.c.id == held_id).values(deadline_at=at))


def rows(html: str) -> dict[str, str]:
    found = {}
    for row in ROW.findall(html):
        ids = ITEM.findall(row)
        if ids:
            found[ids[0]] = row
    return found


def test_a_held_row_shows_who_waits_and_the_time_left(make: Callable[..., TestClient]) -> None:
    c = make()
    waited, plain = hold(c), queued(c)
    set_deadline(c, waited, time.time() + 4 * 60 - 5)
    login(c, "alice")
    page = rows(c.get("/review").text)
    assert "held: a client is waiting, " in page[waited] and ">4 min left</time>" in page[waited]
    stamp = re.search(r'<time datetime="([^"]+)"', page[waited])
    assert stamp and stamp.group(1).endswith("Z")
    assert "held-badge" not in page[plain] and "waiting" not in page[plain]


def test_held_view_puts_the_nearest_deadline_first_and_pages_by_keyset(
    make: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = make()
    first, second, third = hold(c), hold(c), hold(c)
    plain = queued(c)
    now = time.time()
    # Deadlines in the reverse of arrival: the queue's own sorts would show `first` first.
    for held_id, minutes in ((first, 50), (second, 30), (third, 10)):
        set_deadline(c, held_id, now + minutes * 60)
    login(c, "alice")
    page = c.get("/review?held=1").text
    assert list(rows(page)) == [third, second, first] and plain not in page
    assert 'id="held-only" checked' in page
    assert list(rows(c.get("/review").text)) == [first, second, third, plain]  # oldest first, as before

    import service.review.web as web

    monkeypatch.setattr(web, "PAGE_SIZE", 2)
    one = c.get("/review?held=1").text
    assert list(rows(one)) == [third, second]
    nxt = re.search(r'href="/review\?([^"]+)" id="next-page"', one)
    assert nxt and "held=1" in nxt.group(1)
    two = c.get("/review?" + nxt.group(1).replace("&amp;", "&")).text
    assert list(rows(two)) == [first] and 'id="next-page"' not in two
    # The other sorts keep their keyset paging.
    newest = c.get("/review?sort=newest").text
    assert list(rows(newest)) == [plain, third]
    nxt = re.search(r'href="/review\?([^"]+)" id="next-page"', newest)
    assert nxt and list(rows(c.get("/review?" + nxt.group(1).replace("&amp;", "&")).text)) == [second, first]


def test_held_view_keeps_the_reviewers_scope(make: Callable[..., TestClient]) -> None:
    c = make()
    hold(c)
    login(c, "bob")  # bob reviews policy "other" only
    page = c.get("/review?held=1").text
    assert rows(page) == {} and "Nothing matches these filters." in page


def test_next_unclaimed_in_the_held_view_takes_a_held_item(make: Callable[..., TestClient]) -> None:
    c = make()
    plain = queued(c)  # the oldest: "next" without the held view would take it
    waited = hold(c)
    token = login(c, "alice")
    r = c.post("/review/next", data={"csrf_token": token, "query": "state=pending&held=1"}, follow_redirects=False)
    assert r.status_code == 303 and f"/review/items/{waited}?" in r.headers["location"]
    assert plain != waited


def test_item_page_says_a_client_waits_near_the_decision_buttons(make: Callable[..., TestClient]) -> None:
    c = make()
    waited = hold(c)
    set_deadline(c, waited, time.time() + 2 * 3600 + 60)
    login(c, "alice")
    page = c.get(f"/review/items/{waited}").text
    decide = page[page.index('<section class="decide">') : page.index('id="btn-approve"')]
    assert 'id="held-notice"' in decide and "held: a client is waiting, " in decide
    assert ">2 h 1 min left</time>" in decide


@pytest.mark.parametrize("action", ["block", "release"])
def test_after_the_deadline_the_item_says_timed_out_and_the_action(
    make: Callable[..., TestClient], action: str
) -> None:
    c = make(timeout_action=action)
    waited = hold(c)
    set_deadline(c, waited, time.time() - 1)
    login(c, "alice")
    page = c.get(f"/review/items/{waited}").text  # past the deadline, swept or not: the same words
    assert f"timed out: {action}" in page and "a client is waiting" not in page
    deadline = time.time() + 20
    while holds(c).get(waited) is None or not holds(c).get(waited).released:  # type: ignore[union-attr]
        assert time.time() < deadline, "the sweeper did not release the held answer"
        time.sleep(0.05)
    assert holds(c).get(waited).outcome == f"timeout_{action}"  # type: ignore[union-attr]
    page = c.get(f"/review/items/{waited}").text
    assert f"timed out: {action}" in page and 'id="held-notice"' in page
    assert f"timed out: {action}" in rows(c.get("/review").text)[waited]
    assert waited not in c.get("/review?held=1").text  # nobody waits any more


def test_a_decided_hold_shows_nothing(make: Callable[..., TestClient]) -> None:
    c = make()
    waited = hold(c)
    r = c.post(f"/v1/reviews/{waited}/decision", json={"kind": "approve"}, headers=auth("review"))
    assert r.status_code == 200, r.text
    login(c, "alice")
    assert "held-notice" not in c.get(f"/review/items/{waited}").text
    assert "held-badge" not in c.get("/review?state=").text


def test_every_item_of_a_held_completion_is_marked(make: Callable[..., TestClient]) -> None:
    c = make()
    a, b = queued(c), queued(c, "Take 200 mg once a day.")
    holds(c).hold(a, "validate", "demo", {"object": "chat.completion"}, timeout_s=300, webhook=None, items=[a, b])
    login(c, "alice")
    page = rows(c.get("/review").text)
    assert "a client is waiting" in page[a] and "a client is waiting" in page[b]
    assert set(rows(c.get("/review?held=1").text)) == {a, b}


def test_held_text_is_escaped(make: Callable[..., TestClient]) -> None:
    c = make()
    waited = hold(c)
    with holds(c).engine.begin() as conn:
        conn.execute(sa.update(held).where(held.c.id == waited).values(state="released", outcome='timeout_<b>&"</b>'))
    login(c, "alice")
    for html in (c.get("/review").text, c.get(f"/review/items/{waited}").text):
        assert "<b>&" not in html
        assert "timed out: &lt;b&gt;&amp;&#34;&lt;/b&gt;" in html


def test_a_page_reads_its_held_state_in_one_query(make: Callable[..., TestClient]) -> None:
    c = make(sweep_s=3600)  # the sweeper's rounds would count too: one at start, then none during the test
    for _ in range(6):
        hold(c)
    for _ in range(6):
        queued(c)
    login(c, "alice")
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "held_answer" in statement:
            seen.append(statement)

    engine = holds(c).engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for url in ("/review", "/review?held=1", "/review?sort=severity"):
            seen.clear()
            page = c.get(url).text
            assert page.count("held: a client is waiting, <time") == 6, url
            assert len(seen) == 1, (url, seen)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_a_database_from_before_the_index_gets_it(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        HeldStore(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_held_answer_items_item_id"))
        HeldStore(engine)  # create_all alone skips an existing table's indexes
        names = {ix["name"] for ix in sa.inspect(engine).get_indexes("held_answer_items")}
        assert "ix_held_answer_items_item_id" in names
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "under 1 min left"),
        (59, "under 1 min left"),
        (61, "2 min left"),  # rounded up: never "1 min" for 61 s, never "0 min"
        (3600, "1 h left"),
        (3601, "1 h 1 min left"),
        (7200 + 60 * 59 + 30, "3 h left"),
        (86400 * 2 + 3600 * 5, "2 d 5 h left"),
    ],
)
def test_time_left_reads_as_a_person_would_say_it(seconds: float, text: str) -> None:
    assert time_left(seconds) == text


# -- in a browser ------------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_held_notices_are_accessible_in_a_browser(
    playwright_api: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real sidecar holding /v1/validate calls; headless Chromium; axe-core finds no serious or critical violation
    on the queue (both views), the item page with a waiting client and one past its deadline, light and dark."""
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"axe-core is required in CI ({AXE}; .ci/setup installs it from npm)")
        pytest.skip("axe-core is not installed (run .ci/setup)")
    (tmp_path / "hold.json").write_text('{"timeout_s": 600, "sweep_s": 0.1, "timeout_action": "block"}')
    monkeypatch.setenv("OUTGUARD_HOLD_FILE", str(tmp_path / "hold.json"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with running_server(tmp_path) as server:
        with server.client() as api:
            ids = []
            for text in (DOSE, "Take 200 mg once a day."):
                r = api.post("/v1/validate", json={"output": text}, headers={"X-Outguard-Hold": "wait"})
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
        late = sa.create_engine(server.db_url)
        try:
            with late.begin() as conn:
                conn.execute(sa.update(held).where(held.c.id == ids[1]).values(deadline_at=time.time() - 1))
        finally:
            late.dispose()
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            try:
                for scheme in ("light", "dark"):
                    context = browser.new_context(
                        viewport={"width": 1280, "height": 900}, bypass_csp=True, color_scheme=scheme
                    )
                    page = context.new_page()
                    _login(page, server.url, "alice")
                    badge = page.locator(f'[data-held="{ids[0]}"]').first
                    assert badge.inner_text().startswith("held: a client is waiting, ")
                    assert badge.locator("time").get_attribute("datetime")
                    problems += _axe(page, f"queue/{scheme}")
                    page.goto(f"{server.url}/review?held=1")
                    assert page.locator("#held-only").is_checked()
                    problems += _axe(page, f"queue held/{scheme}")
                    page.screenshot(path=str(ARTIFACTS / f"review-held-queue-{scheme}.png"), full_page=True)
                    page.goto(f"{server.url}/review/items/{ids[0]}")
                    assert "a client is waiting" in page.locator("#held-notice").inner_text()
                    problems += _axe(page, f"item waiting/{scheme}")
                    page.goto(f"{server.url}/review/items/{ids[1]}")
                    assert "timed out: block" in page.locator("#held-notice").inner_text()
                    problems += _axe(page, f"item timed out/{scheme}")
                    page.screenshot(path=str(ARTIFACTS / f"review-held-item-{scheme}.png"), full_page=True)
                    context.close()
            finally:
                browser.close()
    assert not problems, "\n".join(problems)
