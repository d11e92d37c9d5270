"""The SLO and alert pages in real headless Chromium (Debian's ``chromium``, via Playwright).

A week of synthetic telemetry with two incidents, one evaluation cycle reporting to the real
alerts domain, then: the SLO list, an SLO's page with both charts drawn by uPlot (light and
dark), its alerts loaded by htmx, and an operator silencing an alert in one click on
/alerts — with no console error and no Content-Security-Policy violation. Screenshots go to
``$RELIANT_SCREENSHOTS`` when set (``docs/img`` holds the ones the docs show), else to the
test's tmp dir.
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
from fastapi import FastAPI
from live_server import LiveServer
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright
from server_helpers import ADMIN, START, bearer

from reliant.agent.protocol import INGEST_PATH, LATENCY_BOUNDS
from reliant.server.app import create_app
from reliant.server.db import transaction
from reliant.server.domains.slo import evaluate_all
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
#: Milliseconds a page may take to draw or swap.
TIMEOUT = 8000
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""
#: The telemetry: one point a minute for a week, 1,000 calls each, all fast.
MINUTE = 60
WEEK = 7 * 86400
FAST = LATENCY_BOUNDS.index(0.1)
#: (start, end, failed calls a minute): a two-hour incident four days ago and one now.
INCIDENTS = ((START - 4 * 86400, START - 4 * 86400 + 7200, 30), (START - 5400, START, 25))
SLO = "checkout-availability"


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The control plane with secure cookies, as a browser meets it."""
    application = create_app(replace(settings, secure_cookies=True))
    try:
        yield application
    finally:
        application.state.engine.dispose()


@pytest.fixture
def server(app: FastAPI) -> Iterator[LiveServer]:
    """The control plane on a free loopback port."""
    live = LiveServer(app)
    with live:
        try:
            yield live
        finally:
            close_streams(app)


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """An admin API client of the live server."""
    with httpx.Client(base_url=server.url, headers=bearer(ADMIN), timeout=30.0) as client:
        yield client


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the screenshots go."""
    folder = Path(os.environ.get("RELIANT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _failed(minute: int) -> int:
    for start, end, failed in INCIDENTS:
        if start <= minute < end:
            return failed
    return 1 if minute % 600 == 0 else 0


def _telemetry() -> list[dict[str, Any]]:
    points = []
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    for minute in range(int(START) - WEEK, int(START), MINUTE):
        for outcome, count in (("success", 1000), ("failure", _failed(minute))):
            if count:
                histogram[FAST] = count
                points.append(
                    {
                        "operation": "charge",
                        "outcome": outcome,
                        "bucket": minute,
                        "count": count,
                        "sum": 0.04 * count,
                        "histogram": list(histogram),
                    }
                )
    return points


def _seed(app: FastAPI, api: httpx.Client) -> str:
    """Services, two SLOs, a week of telemetry, an evaluation and a Prometheus alert;
    return an operator's token."""
    for name in ("checkout", "ledger"):
        api.put(
            f"/api/v1/services/{name}", json={"owner": "team-pay", "tier": 1}
        ).raise_for_status()
    availability = {
        "service": "checkout",
        "objective": 99.9,
        "description": "Card payments succeed.",
        "sli": {"ratio": {"operation": "charge"}},
    }
    latency = {
        "service": "checkout",
        "objective": 99,
        "sli": {"latency": {"operation": "charge", "threshold": "100ms"}},
    }
    api.put(f"/api/v1/slos/{SLO}", json=availability).raise_for_status()
    api.put("/api/v1/slos/checkout-latency", json=latency).raise_for_status()
    points = _telemetry()
    for i in range(0, len(points), 4000):
        body = {
            "protocol": 1,
            "service": "checkout",
            "instance": "checkout-1:8080",
            "sdk": "0.1.0",
            "sent_at": START,
            "dropped": 0,
            "telemetry": points[i : i + 4000],
            "events": [],
        }
        api.post(INGEST_PATH, json=body).raise_for_status()
    with transaction(app.state.sessions) as session:
        evaluate_all(session, START)
    disk = {"labels": {"alertname": "DiskFull", "severity": "warning", "service": "ledger",
                       "instance": "db-1"},
            "annotations": {"summary": "ledger's disk is 93% full"}}  # fmt: skip
    api.post("/api/v1/alerts", json=[disk]).raise_for_status()
    response = api.post("/api/v1/tokens", json={"name": "olga", "role": "operator"})
    response.raise_for_status()
    return str(response.json()["token"])


def _drawn(page: Page, selector: str) -> bool:
    """Whether the chart's canvas holds painted pixels."""
    return bool(
        page.evaluate(
            """(selector) => {
              const canvas = document.querySelector(`${selector} canvas`);
              if (!canvas || !canvas.width) return false;
              const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
              for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) return true;
              return false;
            }""",
            selector,
        )
    )


def test_slos_and_alerts_in_chromium(
    app: FastAPI, server: LiveServer, api: httpx.Client, shots: Path
) -> None:
    """List SLOs, open one and see its charts (light, then dark), silence an alert."""
    chromium = shutil.which("chromium")
    assert chromium is not None, "install the Debian chromium package"
    operator = _seed(app, api)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(f"console {message.type}: {message.text}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1360, "height": 900}, color_scheme="light"
            )
            context.add_init_script(script=WATCH_CSP)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

            page.goto(server.url + "/slos")
            page.fill("#token", operator)
            page.click("button[type=submit]")
            expect(page).to_have_url(server.url + "/slos")
            row = page.locator(f'tr[data-slo="{SLO}"]')
            expect(row.locator(".pill")).to_have_text("paging")
            expect(page.locator('tr[data-slo="checkout-latency"] .pill')).to_have_text("not firing")
            page.click("a.sort:text-is('Budget remaining')")
            expect(page.locator("tbody tr").first).to_have_attribute("data-slo", SLO)
            page.screenshot(path=str(shots / "slos.png"), full_page=True)

            # An SLO's page: both charts drawn, its alerts loaded by htmx.
            row.locator("a.strong").click()
            expect(page).to_have_url(f"{server.url}/slos/checkout/{SLO}")
            for chart in ("#chart-budget", "#chart-burn"):
                expect(page.locator(chart)).to_have_attribute("data-drawn", "true")
                expect(page.locator(chart)).to_have_attribute("data-scheme", "light")
                assert _drawn(page, chart), f"{chart} drew nothing"
            expect(page.locator("#chart-burn .u-legend")).to_contain_text("1h burn rate")
            alerts = page.locator("#slo-alerts tr.alert-row")
            expect(alerts).to_have_count(1, timeout=TIMEOUT)
            expect(alerts.locator(".pill")).to_have_text("firing")
            page.screenshot(path=str(shots / "slo-detail.png"), full_page=True)
            page.emulate_media(color_scheme="dark")
            for chart in ("#chart-budget", "#chart-burn"):
                expect(page.locator(chart)).to_have_attribute("data-scheme", "dark")
                assert _drawn(page, chart), f"{chart} drew nothing in the dark"
            page.screenshot(path=str(shots / "slo-detail-dark.png"), full_page=True)
            page.emulate_media(color_scheme="light")

            # /alerts: silence the SLO's page alert in one click (2h, the default).
            page.goto(server.url + "/alerts")
            paging = page.locator("tr.alert-row", has=page.locator(".chip", has_text="page"))
            paging = paging.filter(has=page.locator("a", has_text=f"SLO {SLO}"))
            expect(paging).to_have_count(1)
            expect(page.locator("tr.alert-row")).to_have_count(2)
            paging.get_by_role("button", name="Silence").click()
            expect(paging.locator(".pill")).to_have_text("silenced", timeout=TIMEOUT)
            expect(paging.locator(".silenced-note")).to_contain_text("silenced until")
            expect(page.get_by_role("button", name="Silence")).to_have_count(1)
            [made] = api.get("/api/v1/silences").json()["items"]
            assert ("silenced from the UI by olga", START + 7200) == (
                made["comment"],
                made["ends_at"],
            )
            assert 'severity="page"' in made["matchers"]
            page.screenshot(path=str(shots / "alerts.png"), full_page=True)

            page.goto(server.url + "/silences")
            expect(page.locator(f'tr[data-silence="{made["id"]}"]')).to_contain_text("olga")

            assert [] == page.evaluate("window.__csp")
            context.close()
        finally:
            browser.close()
    assert [] == errors
