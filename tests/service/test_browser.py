"""The review page in a real headless Chromium (Debian's chromium, driven by Playwright): log in, open an
item, look at the highlighted spans, decide with keyboard shortcuts. Keeps a screenshot of the item page
in tests/artifacts/review-item.png."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.service.conftest import PASSWORDS, ROOT
from tests.service.server import running_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OUTPUTS = {
    "b1": "Our Growth Fund offers guaranteed returns of 12% a year.\nYour adviser can set it up on crm01.corp today.",
    "b2": "For a tension headache, adults can take 400 mg ibuprofen three times a day with food.",
    "b3": "Das Produkt ist risk-free — garantiert. 日本語も大丈夫です。",
}


@pytest.fixture(scope="module")
def playwright_api():  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is required in CI (.ci/setup-system installs it)")
        pytest.skip("Debian's chromium is not installed (run .ci/setup-system)")
    return sync_api


def test_review_in_a_real_browser(playwright_api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_server(tmp_path) as server:
        with server.client() as api:
            for rid, text in OUTPUTS.items():
                assert api.post("/v1/validate", json={"output": text, "request_id": rid}).json()["review_id"]
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
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
                ],
            )
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

                page.goto(f"{server.url}/review")
                assert "/review/login" in page.url
                page.fill("input[name=username]", "alice")
                page.fill("input[name=password]", PASSWORDS["alice"])
                page.click("#login")
                page.wait_for_url(f"{server.url}/review")
                assert page.locator("table.queue tbody tr").count() == 3

                # Keyboard in the queue: j selects the first row, Enter opens it.
                page.keyboard.press("j")
                page.keyboard.press("Enter")
                page.wait_for_url("**/review/items/**")
                marks = page.locator("#output mark")
                assert marks.count() == 2
                assert marks.nth(0).inner_text() == "guaranteed returns"
                assert marks.nth(1).inner_text() == "crm01.corp"
                assert page.locator("#diff del").inner_text() == "crm01.corp"
                assert page.locator("#diff ins").inner_text() == "[internal host]"
                assert page.locator(".finding").count() == 2
                # Hovering a finding lights its span.
                page.hover("#f1")
                assert "lit" in (marks.nth(1).get_attribute("class") or "")
                page.screenshot(path=str(ARTIFACTS / "review-item.png"), full_page=True)

                # `a` approves and moves to the next item in the queue.
                first_url = page.url
                page.keyboard.press("a")
                page.wait_for_url(lambda url: url != first_url and "done=approve" in url)
                assert "/review/items/" in page.url

                # `e` opens the editor, Ctrl+Enter approves the edit.
                page.keyboard.press("e")
                assert page.locator("#edit-box").is_visible()
                page.fill("#edited-output", "Please ask a pharmacist about the right dose.")
                second_url = page.url
                page.keyboard.press("Control+Enter")
                page.wait_for_url(lambda url: url != second_url and "done=approve_edit" in url)

                # `r` rejects the last one, which lands back on the queue.
                page.keyboard.press("r")
                page.wait_for_url(lambda url: url.split("?")[0].endswith("/review") and "done=reject" in url)
                assert "Nothing matches" in page.content()

                # The API page renders from packaged files: the browser has no internet to fetch a CDN.
                page.goto(f"{server.url}/docs")
                page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
                assert "outguard sidecar" in page.locator(".swagger-ui .info .title").inner_text()
                assert page.locator(".opblock-summary-path", has_text="/v1/validate").count() >= 1
                assert errors == []
            finally:
                browser.close()
        with server.client("review") as api:
            items = {i["request_id"]: i for i in api.get("/v1/reviews", params={"state": "decided"}).json()["items"]}
        assert items["validate/b1"]["decision"] == "approve" and items["validate/b1"]["decided_by"] == "alice"
        assert items["validate/b2"]["decision"] == "approve_edit"
        assert items["validate/b2"]["final_output"] == "Please ask a pharmacist about the right dose."
        assert items["validate/b3"]["decision"] == "reject"
    assert (ARTIFACTS / "review-item.png").stat().st_size > 10_000
