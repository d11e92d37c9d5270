"""The web UI in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Sign in, read the overview, open a service, force its breaker open as an operator, and
watch events appended through the API arrive on /events without a reload — with no console
error and no Content-Security-Policy violation on the way. Screenshots of each step are
saved as test artifacts: in ``$RELIANT_SCREENSHOTS`` when set, else in the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import LiveServer
from playwright.sync_api import ConsoleMessage, expect, sync_playwright
from server_helpers import ADMIN, bearer

from reliant.server.app import create_app
from reliant.server.settings import Settings
from reliant.server.streams import close_streams

#: The browser is what is under test: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Milliseconds a live change may take to show (polls every 5 s; streams at once).
LIVE_TIMEOUT = 8000
#: Records CSP violations in the page; init scripts are not subject to the page's policy.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    """The control plane on a free loopback port, as a browser reaches it."""
    app = create_app(replace(settings, secure_cookies=True))
    live = LiveServer(app)
    with live:
        try:
            yield live
        finally:
            close_streams(app)
    app.state.engine.dispose()


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """An admin API client of the live server."""
    with httpx.Client(base_url=server.url, headers=bearer(ADMIN), timeout=10.0) as client:
        yield client


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go."""
    folder = Path(os.environ.get("RELIANT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _seed(api: httpx.Client) -> str:
    """Two services, an open breaker reported by an SDK; return an operator's token."""
    for name, spec in (
        ("ledger", {"owner": "team-pay", "tier": 1}),
        ("payments", {"owner": "team-pay", "tier": 1, "dependencies": [{"service": "ledger"}]}),
    ):
        api.put(f"/api/v1/services/{name}", json=spec).raise_for_status()
    event = {
        "kind": "circuit_breaker.state_changed",
        "service": "payments",
        "severity": "warning",
        "attributes": {"name": "db", "from_state": "closed", "to_state": "open"},
    }
    api.post("/api/v1/events", json=event).raise_for_status()
    response = api.post("/api/v1/tokens", json={"name": "olga", "role": "operator"})
    response.raise_for_status()
    return str(response.json()["token"])


def _event(api: httpx.Client, version: str) -> None:
    body: dict[str, Any] = {
        "kind": "deploy.finished",
        "service": "payments",
        "attributes": {"version": version},
    }
    api.post("/api/v1/events", json=body).raise_for_status()


def test_operator_session_in_chromium(server: LiveServer, api: httpx.Client, shots: Path) -> None:
    """Log in, see the overview, open a service, force its breaker, watch events live."""
    chromium = shutil.which("chromium")
    assert chromium is not None, "install the Debian chromium package"
    operator = _seed(api)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(f"console {message.type}: {message.text}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            context.add_init_script(script=WATCH_CSP)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("dialog", lambda dialog: dialog.accept())

            # Signing in: the overview sends us to the form, which sends us back.
            page.goto(server.url + "/")
            expect(page).to_have_url(server.url + "/login")
            page.fill("#token", operator)
            page.click("button[type=submit]")
            expect(page).to_have_url(server.url + "/")
            expect(page.locator(".user-name")).to_have_text("olga")
            row = page.locator("tr", has=page.locator("a", has_text="payments"))
            expect(row.locator(".pill")).to_have_text("breaker db open")
            page.screenshot(path=str(shots / "overview.png"), full_page=True)

            # A service: its spec and its breaker; the operator forces the breaker open.
            page.click("a.strong:text-is('payments')")
            expect(page).to_have_url(server.url + "/services/payments")
            expect(page.locator("a.chip", has_text="ledger")).to_be_visible()
            breaker = page.locator('tr[data-policy="breaker:db"]')
            expect(breaker.locator(".pill")).to_have_text("open")
            breaker.get_by_role("button", name="Force open").click()
            expect(breaker.locator(".pill")).to_have_text("forced open", timeout=LIVE_TIMEOUT)
            expect(page.locator(".toast")).to_contain_text("Breaker db forced open.")
            overrides = api.get("/api/v1/services/payments/overrides").json()["items"]
            assert [("db", {"state": "forced_open"}, "olga")] == [
                (o["name"], o["value"], o["updated_by"]) for o in overrides
            ]
            page.screenshot(path=str(shots / "service.png"), full_page=True)
            breaker.get_by_role("button", name="Return to automatic").click()
            expect(breaker.locator(".pill")).to_have_text("open", timeout=LIVE_TIMEOUT)
            assert [] == api.get("/api/v1/services/payments/overrides").json()["items"]

            # The live event stream: a new event appears at the top without a reload.
            page.goto(server.url + "/events")
            table = page.locator("#event-stream")
            expect(table).to_have_attribute("data-stream-state", "live", timeout=LIVE_TIMEOUT)
            page.evaluate("window.__sameDocument = true")
            _event(api, "live-1")
            first = table.locator("tbody tr").first
            expect(first).to_contain_text("live-1", timeout=LIVE_TIMEOUT)
            assert page.evaluate("window.__sameDocument") is True

            # Paused, it holds still; resumed, it catches up on what it missed.
            page.click("[data-stream-toggle=event-stream]")
            expect(table).to_have_attribute("data-stream-state", "paused")
            _event(api, "while-paused")
            page.click("[data-stream-toggle=event-stream]")
            expect(first).to_contain_text("while-paused", timeout=LIVE_TIMEOUT)
            page.screenshot(path=str(shots / "events.png"), full_page=True)

            assert [] == page.evaluate("window.__csp")
            context.close()
        finally:
            browser.close()
    assert [] == errors
