"""Hostile retrieved sources on the item page: a source is whatever the caller's retriever fetched (a web
page, a user's upload), so it may carry markup meant for the reviewer's browser.

The caller passes sources in the context, an output is queued, a reviewer opens it on a real `guardrails
serve`: the sources beside the grounding finding must be shown as text (script, img/onerror, a closing
</pre> and a javascript: URL stay characters), with the passage that bears on the finding highlighted,
and a long source collapsed behind a toggle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import lxml.html
import pytest

from guardrails import Engine
from guardrails.reviews import ReviewStore
from tests.security.test_sessions import SECRET, login
from tests.service.server import Server, start_server, stop

HOSTILE = (
    "The Growth Fund returned 5% a year since 2019.</pre><script>window.pwned=1</script>"
    '<img src=x onerror="window.pwned=2"> Fees are 1%.'
)
OUTPUT = "The Growth Fund returned 25% a year since 2019."


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("OUTGUARD_SESSION_SECRET", SECRET)
    srv = start_server(tmp_path)
    try:
        yield srv
    finally:
        stop(srv)


def _queue(srv: Server, sources: list[dict[str, str]]) -> str:
    ctx = {"request_id": "rag-1", "prompt": "What did the fund return?", "sources": sources}
    report = Engine.from_policy("facts").validate(OUTPUT, ctx)  # grounding: "25%" is in no source
    assert [f.code for f in report.findings] == ["GRD001"]
    store = ReviewStore.open(srv.db_url)
    try:
        item, _ = store.submit(report, ctx)
    finally:
        store.close()
    return item.id


def _page(srv: Server, item_id: str) -> lxml.html.HtmlElement:
    cookie, _ = login(srv.url, "root")
    with httpx.Client(base_url=srv.url, timeout=30, cookies={"og_session": cookie}) as c:
        r = c.get(f"/review/items/{item_id}")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    return lxml.html.fromstring(r.text)


def test_hostile_source_html_renders_as_text_with_the_passage_highlighted(server: Server) -> None:
    long_tail = " Past performance is no guide to the future." * 40
    item_id = _queue(
        server,
        [
            {"id": "kb-7", "url": "javascript:alert(1)", "text": HOSTILE},
            {"id": "<b>kb-8</b>", "text": "Unrelated words only." + long_tail + " The fund returned 7% in 2019."},
        ],
    )
    tree = _page(server, item_id)
    sources = tree.xpath("//section[@class='sources']")
    assert len(sources) == 1, "the grounding finding shows the caller's sources beside it"
    box = sources[0]
    # Nothing the source carried became an element: no script, no img, no link, no bold.
    assert box.xpath(".//script | .//img | .//a | .//b | .//iframe") == []
    assert tree.xpath("//script[not(@src)]") == []
    text = box.text_content()
    assert "<script>window.pwned=1</script>" in text and 'onerror="window.pwned=2"' in text
    assert "</pre>" in text and "<b>kb-8</b>" in text and "javascript:alert(1)" in text
    # The source sentence a reviewer compares "25%" with is highlighted.
    closest = [m.text_content() for m in box.xpath(".//mark[@class='src-closest']")]
    assert closest[0] == "The Growth Fund returned 5% a year since 2019."
    # The long source is shown as a preview around its passage; the whole text sits behind a toggle.
    second = box.xpath(".//div[@class='source']")[1]
    toggle = second.xpath(".//details")
    assert len(toggle) == 1 and "Whole source" in toggle[0].xpath("./summary")[0].text_content()
    preview = second.xpath("./pre")[0].text_content()
    assert "The fund returned 7% in 2019." in preview and len(preview) < 1000
    assert second.xpath(".//details/pre")[0].text_content().count("Past performance") == 40
