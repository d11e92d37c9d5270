"""On-call in real headless Chromium: ``/oncall``, ``/pages``, and a signed link.

An operator adds an override through the form, acknowledges a page with its button, and a
signed link is confirmed without a session — with no Content-Security-Policy violation and
no console error. ``RELIANT_SCREENSHOTS=<dir>`` keeps the screenshots.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from oncall_helpers import Desk
from playwright.sync_api import ConsoleMessage, expect, sync_playwright
from server_helpers import token_for

from reliant.server.app import create_app
from reliant.server.settings import Settings
from reliant.server.streams import close_streams
from reliant.testing import VirtualClock

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the browser is what is under test here."""
    path = tmp_path / "reliant.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The control plane with secure cookies, as a browser reaches it."""
    application = create_app(replace(settings, secure_cookies=True))
    try:
        yield application
    finally:
        close_streams(application)
        application.state.engine.dispose()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go."""
    folder = Path(os.environ.get("RELIANT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_oncall_and_pages_in_chromium(
    app: FastAPI, client: TestClient, clock: VirtualClock, shots: Path
) -> None:
    """Override by form, acknowledge by button, resolve by signed link."""
    chromium = shutil.which("chromium")
    assert chromium is not None, "install the Debian chromium package"
    desk = Desk(app=app, client=client, clock=clock)
    desk.setup()
    operator = token_for(client, "operator", name="olga")
    desk.report()
    desk.run_until(lambda: bool(desk.outbox()), within=10, step=1)
    href = urlsplit(desk.payloads()[0]["links"][1]["href"])
    resolve_link = f"{href.path}?{href.query}"
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(f"console {message.type}: {message.text}")

    with LiveServer(app) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            context.add_init_script(script=WATCH_CSP)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("dialog", lambda dialog: dialog.accept())

            page.goto(server.url + "/oncall")
            page.fill("#token", operator)
            page.click("button[type=submit]")
            expect(page).to_have_url(server.url + "/oncall")
            expect(page.locator(".oncall-member")).to_have_text("alice")
            page.fill("input[name=member]", "carol")
            page.fill("input[name=ends_at]", "2027-01-15T12:00")
            page.get_by_role("button", name="Add override").click()
            expect(page.locator(".oncall-member")).to_have_text("carol")
            page.screenshot(path=str(shots / "oncall.png"), full_page=True)

            page.goto(server.url + "/pages")
            row = page.locator("#page-1")
            row.get_by_role("button", name="Acknowledge").click()
            expect(page.locator("#page-1 .pill")).to_have_text("acknowledged")
            page.screenshot(path=str(shots / "pages.png"), full_page=True)
            assert [] == page.evaluate("window.__csp")

            anonymous = browser.new_context(viewport={"width": 800, "height": 700})
            anonymous.add_init_script(script=WATCH_CSP)
            link = anonymous.new_page()
            link.on("console", on_console)
            link.goto(server.url + resolve_link)
            expect(link.locator("h1")).to_have_text("Resolve page 1?")
            link.screenshot(path=str(shots / "link.png"), full_page=True)
            link.get_by_role("button", name="Resolve as alice").click()
            expect(link.locator("h1")).to_have_text("Page 1 is resolved.")
            assert [] == link.evaluate("window.__csp")
            anonymous.close()
            context.close()
        finally:
            browser.close()
    assert ([], "link:alice") == (errors, desk.page()["resolved_by"])
