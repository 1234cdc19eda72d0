"""The reviewers' workbench in headless Chromium: axe-core (from npm, injected into the page) finds no
serious or critical violation on the login, queue, item (with sources), suppressions and routing pages,
light and dark, at 1440 and 390 px; the keyboard map, the confirmed `f` key, undo and "next unclaimed"
work; the 390 px layout keeps the output on screen. Screenshots go to tests/artifacts/review-*.png."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from guardrails import Engine
from guardrails.reviews import ReviewStore
from tests.service.conftest import PASSWORDS
from tests.service.server import running_server
from tests.service.test_browser import ARTIFACTS, playwright_api  # noqa: F401  (fixture)

AXE = ARTIFACTS / "node" / "node_modules" / "axe-core" / "axe.min.js"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]
OUTPUTS = {
    "b1": ("Our Growth Fund offers guaranteed returns of 12% a year.\nAsk crm01.corp today.", "Is the fund safe?"),
    "b2": ("For a tension headache, adults can take 400 mg ibuprofen three times a day.", "Dose for a headache?"),
    "b3": ("Das Produkt ist risk-free — garantiert.", "Ist das sicher?"),
    "b4": ("This plan is totally risk-free for everyone.", "Any risk?"),
}

HOSTILE_SOURCE = (
    "The Growth Fund returned 5% a year since 2019.</pre><script>window.pwned=1</script>"
    '<img src=x onerror="window.pwned=2">'
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map(n => n.target)}));
}"""


def _axe(page: Any, where: str) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return [f"{where}: {v['id']} ({v['impact']}) {v['help']} at {v['targets']}" for v in page.evaluate(_AXE_RUN)]


def _queue_sourced(db_url: str) -> str:
    """An output of the facts policy with a grounding finding and hostile, long sources, straight into the queue."""
    ctx = {
        "request_id": "sourced",
        "prompt": "What did the fund return?",
        "sources": [
            {"id": "kb-7", "url": "https://kb.example/fund", "text": HOSTILE_SOURCE},
            {"id": "kb-8", "text": "Past performance is no guide. " * 60 + "The fund returned 7% in 2019."},
        ],
    }
    report = Engine.from_policy("facts").validate("The Growth Fund returned 25% a year since 2019.", ctx)
    store = ReviewStore.open(db_url)
    try:
        return store.submit(report, ctx)[0].id
    finally:
        store.close()


def _login(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/review/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("#login")
    page.wait_for_url(f"{url}/review")


def test_workbench_pages_are_accessible_and_work_at_both_widths(playwright_api: Any, tmp_path: Path) -> None:  # noqa: F811
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"axe-core is required in CI ({AXE}; .ci/setup installs it from npm)")
        pytest.skip("axe-core is not installed (run .ci/setup)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with running_server(tmp_path) as server:
        with server.client() as api:
            for rid, (text, prompt) in OUTPUTS.items():
                body = {"output": text, "request_id": rid, "context": {"prompt": prompt}}
                assert api.post("/v1/validate", json=body).json()["review_id"]
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            try:
                # -- flows, at desktop width ---------------------------------------------------------
                context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("dialog", lambda d: d.dismiss())  # no native confirm() is ever expected
                page.goto(f"{server.url}/review/login")
                problems += _axe(page, "login")
                page.screenshot(path=str(ARTIFACTS / "review-login-1440.png"))
                _login(page, server.url, "alice")
                assert page.locator("h1").inner_text().startswith("Review queue")
                problems += _axe(page, "queue")
                page.screenshot(path=str(ARTIFACTS / "review-queue-1440.png"), full_page=True)

                # `?` shows the keyboard map; Esc closes it.
                page.keyboard.press("?")
                assert page.locator("#keymap").is_visible()
                page.keyboard.press("Escape")
                assert not page.locator("#keymap").is_visible()

                # `n` claims the next unclaimed item; the prompt sits beside the output.
                page.keyboard.press("n")
                page.wait_for_url("**/review/items/**")
                assert page.locator("#prompt").inner_text() == "Is the fund safe?"
                prompt_box, output_box = page.locator("#prompt").bounding_box(), page.locator("#output").bounding_box()
                assert prompt_box and output_box and prompt_box["x"] + prompt_box["width"] <= output_box["x"]
                assert "assigned to alice" in page.locator(".item-head").inner_text()
                problems += _axe(page, "item")
                page.screenshot(path=str(ARTIFACTS / "review-item-1440.png"), full_page=True)

                # `f` asks first, with the count; a second `f` confirms.
                first_url = page.url
                page.keyboard.press("f")
                assert page.locator("#fp-box").is_visible() and page.locator("#fp-count").inner_text() == "1"
                assert page.url == first_url
                page.keyboard.press("f")
                page.wait_for_url(lambda url: url != first_url and "done=false_positive" in url)

                # Undo from the decided item: back to open, the suppression lifted.
                page.goto(first_url.split("?")[0])
                page.keyboard.press("u")
                page.wait_for_selector("#notice")
                assert page.locator("#state").inner_text() == "open"

                page.goto(f"{server.url}/review/suppressions")
                assert "No suppressions." in page.content()

                # Bulk: the count is named before anything happens.
                page.goto(f"{server.url}/review")
                page.check("input[name=scope][value=filter]")
                page.click("#bulk-apply")
                assert "to 4 items?" in page.locator("h1").inner_text()
                page.go_back()

                # A suppression to list, then its page.
                page.goto(f"{server.url}/review?q=totally")
                page.click("a.item-link")
                page.wait_for_url("**/review/items/**")
                page.keyboard.press("f")
                page.keyboard.press("f")
                page.wait_for_url("**done=false_positive**")
                page.goto(f"{server.url}/review/suppressions")
                assert page.locator("table.suppressions tbody tr").count() == 1
                problems += _axe(page, "suppressions")
                page.goto(f"{server.url}/review/analytics")
                problems += _axe(page, "analytics")
                page.screenshot(path=str(ARTIFACTS / "review-suppressions-1440.png"), full_page=True)

                # Sources beside a grounding finding: the passage highlighted, hostile markup as text, a long
                # source behind a toggle that opens.
                sourced = _queue_sourced(server.db_url)
                page.goto(f"{server.url}/review/items/{sourced}")
                assert page.locator("section.sources mark.src-closest").first.inner_text().startswith("The Growth")
                assert page.evaluate("window.pwned") is None
                page.locator("section.sources details summary").first.click()
                assert page.locator("section.sources details pre").first.is_visible()
                problems += _axe(page, "sources")
                page.screenshot(path=str(ARTIFACTS / "review-sources-1440.png"), full_page=True)
                page.goto(f"{server.url}/review/routing")
                problems += _axe(page, "routing")
                assert errors == []
                context.close()

                # -- every page at 390 px, light and dark ----------------------------------------------
                for scheme in ("light", "dark"):
                    context = browser.new_context(
                        viewport={"width": 390, "height": 844}, color_scheme=scheme, bypass_csp=True
                    )
                    page = context.new_page()
                    page.goto(f"{server.url}/review/login")
                    problems += _axe(page, f"login/390/{scheme}")
                    _login(page, server.url, "alice")
                    problems += _axe(page, f"queue/390/{scheme}")
                    page.screenshot(path=str(ARTIFACTS / f"review-queue-390-{scheme}.png"), full_page=True)
                    page.click("a.item-link")
                    page.wait_for_url("**/review/items/**")
                    box = page.locator("#output").bounding_box()
                    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # on screen
                    problems += _axe(page, f"item/390/{scheme}")
                    page.screenshot(path=str(ARTIFACTS / f"review-item-390-{scheme}.png"), full_page=True)
                    page.goto(f"{server.url}/review/suppressions")
                    problems += _axe(page, f"suppressions/390/{scheme}")
                    page.screenshot(path=str(ARTIFACTS / f"review-suppressions-390-{scheme}.png"), full_page=True)
                    page.goto(f"{server.url}/review/items/{sourced}")
                    box = page.locator("section.sources").bounding_box()
                    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
                    problems += _axe(page, f"sources/390/{scheme}")
                    page.screenshot(path=str(ARTIFACTS / f"review-sources-390-{scheme}.png"), full_page=True)
                    page.goto(f"{server.url}/review/routing")
                    problems += _axe(page, f"routing/390/{scheme}")
                    if scheme == "dark":
                        bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
                        assert bg == "rgb(22, 24, 29)", bg
                    context.close()
            finally:
                browser.close()
    assert problems == []
    for name in ("queue-1440", "item-1440", "queue-390-light", "item-390-dark", "suppressions-390-light"):
        assert (ARTIFACTS / f"review-{name}.png").stat().st_size > 5_000
