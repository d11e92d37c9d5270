"""The postmortem view and editor in real headless Chromium (Debian's ``chromium``, via
Playwright): an operator opens a generated postmortem, edits a section and an action item
in the editor, saves, and sees them on the view — with no console error and no
Content-Security-Policy violation. Screenshots go to ``$RELIANT_SCREENSHOTS`` when set
(``docs/img`` holds the ones the docs show), else to the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from playwright.sync_api import ConsoleMessage, expect, sync_playwright
from postmortems_helpers import generate, get, the_incident
from server_helpers import token_for

from reliant.server.app import create_app
from reliant.server.settings import Settings
from reliant.testing import VirtualClock

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The control plane with secure cookies, as a browser meets it."""
    application = create_app(replace(settings, secure_cookies=True))
    try:
        yield application
    finally:
        application.state.engine.dispose()


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """The browser test runs on SQLite: the store is tested elsewhere."""
    path = tmp_path / "reliant.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go."""
    folder = Path(os.environ.get("RELIANT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_edit_a_postmortem_in_chromium(
    app: FastAPI, client: TestClient, clock: VirtualClock, shots: Path
) -> None:
    """Open the list, the view (burn chart drawn as SVG), the editor; change a section and
    add an action item; save; the view shows them; the dark scheme recolours the chart."""
    chromium = shutil.which("chromium")
    assert chromium is not None, "install the Debian chromium package"
    made = generate(client, the_incident(client, clock))
    operator = token_for(client, "operator", name="olga")
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(f"console {message.type}: {message.text}")

    with LiveServer(app) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1360, "height": 900}, color_scheme="light"
            )
            context.add_init_script(script=WATCH_CSP)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

            page.goto(server.url + "/postmortems")
            page.fill("#token", operator)
            page.click("button[type=submit]")
            expect(page).to_have_url(server.url + "/postmortems")
            row = page.locator(f'tr[data-postmortem="{made["id"]}"]')
            expect(row).to_contain_text("required")
            row.locator("a strong").click()
            expect(page).to_have_url(f"{server.url}/postmortems/{made['id']}")
            expect(page.locator("#burn-chart svg path")).to_have_count(1)
            expect(page.locator("#impact")).to_contain_text("Time to detect")
            page.screenshot(path=str(shots / "postmortem-view.png"), full_page=True)

            page.get_by_role("link", name="Edit").click()
            expect(page).to_have_url(f"{server.url}/postmortems/{made['id']}/edit")
            page.fill("textarea[name=trigger]", "A configuration push doubled client retries.")
            page.fill("textarea[name=went_well]", "The burn-rate page fired within 2 minutes")
            page.locator("input[name=ai_title]").first.fill("Cap client retries at 2")
            page.locator("input[name=ai_owner]").first.fill("payments team")
            page.locator("select[name=ai_type]").first.select_option("prevent")
            page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top
            page.screenshot(path=str(shots / "postmortem-edit.png"), full_page=True)
            page.get_by_role("button", name="Save", exact=True).last.click()
            expect(page).to_have_url(f"{server.url}/postmortems/{made['id']}?saved=2")
            expect(page.locator("#trigger")).to_contain_text("doubled client retries")
            expect(page.locator("#action-items")).to_contain_text("Cap client retries at 2")
            page.emulate_media(color_scheme="dark")
            page.screenshot(path=str(shots / "postmortem-view-dark.png"), full_page=True)
            assert [] == page.evaluate("window.__csp")
            context.close()
        finally:
            browser.close()
    assert [] == errors
    saved = get(client, made["id"])
    assert ("A configuration push doubled client retries.", "olga") == (
        saved["trigger"],
        saved["updated_by"],
    )
    assert [("Cap client retries at 2", "payments team", "prevent")] == [
        (a["title"], a["owner"], a["type"]) for a in saved["action_items"]
    ]
