"""Incident response in real headless Chromium (Debian's ``chromium``, via Playwright).

Six weeks of earlier incidents give the metrics a trend. Then an alert fires and an
incident rule declares the incident (the ``incidents.declare`` job's pass, driven by the
test); an operator opens it from ``/incidents`` and sees the alert on its live timeline,
acknowledges it, starts a runbook (an http step against a local HTTP server, then a
manual step) from the page, completes the manual step on the run's page and sees the run
succeed — while the incident's page, open in another tab, receives the runbook's entries
over Server-Sent Events without reloading. Then Resolve, Generate postmortem, and the
postmortem's page shows the summary, the time-to-acknowledge and time-to-resolve facts and
the burn chart; the metrics page draws its trend. No console error, no
Content-Security-Policy violation.

Screenshots of every step go to ``$RELIANT_ARTIFACTS`` (default: the test's tmp dir); with
``$RELIANT_SCREENSHOTS`` set (to ``docs/img`` to refresh the docs) the ones the docs show
(incident.png, runbook-run.png, incident-metrics.png) are copied there too.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_helpers import CHROMIUM_ARGS, WATCH_CSP, chromium, follow_timeline, sign_in, watch
from fastapi import FastAPI
from live_server import LiveServer
from playwright.sync_api import expect, sync_playwright
from server_helpers import ADMIN, bearer

from reliant.agent.protocol import INGEST_PATH, LATENCY_BOUNDS
from reliant.server.app import create_app
from reliant.server.db import transaction
from reliant.server.domains.incidents import declare_from_alerts
from reliant.server.domains.runbooks import Executor
from reliant.server.settings import Settings
from reliant.server.streams import close_streams
from reliant.testing import VirtualClock

#: Milliseconds a page may take to show a change (the run's page polls every 2 s).
TIMEOUT = 10_000
#: Where the docs' screenshots live.
DOCS_SHOTS = ("incident.png", "runbook-run.png", "incident-metrics.png")
SLO = "checkout-availability"
RUNBOOK = "checkout-rollback"
SUMMARY = "Card payments fail with HTTP 503 for 5 % of requests"
FAST = LATENCY_BOUNDS.index(0.1)


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the browser is what is under test here."""
    path = tmp_path / "reliant.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The control plane with secure cookies, as a browser meets it."""
    application = create_app(replace(settings, secure_cookies=True))
    try:
        yield application
    finally:
        close_streams(application)
        application.state.engine.dispose()


@pytest.fixture
def server(app: FastAPI) -> Iterator[LiveServer]:
    """The control plane on a free loopback port."""
    with LiveServer(app) as live:
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
    """Where the step screenshots go."""
    folder = Path(os.environ.get("RELIANT_ARTIFACTS") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def target() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback for the runbook's http step: its URL and the paths
    it was asked for."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            seen.append(f"{self.command} {self.path}")
            data = b'{"rolled_back": "checkout@v41"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def _history(api: httpx.Client, clock: VirtualClock) -> None:
    """Six weeks of earlier incidents, one or two a week, each acknowledged and resolved."""
    plan = [  # (severity, service, minutes to acknowledge, minutes to resolve)
        ("SEV2", "checkout", 9, 95),
        ("SEV3", "search", 4, 40),
        ("SEV2", "checkout", 6, 70),
        ("SEV4", "search", 15, 30),
        ("SEV3", "checkout", 5, 50),
        ("SEV2", "search", 3, 35),
        ("SEV3", "checkout", 2, 25),
    ]
    for week, (severity, service, ack, fix) in enumerate(plan):
        body = {"title": f"{service} errors", "severity": severity, "services": [service]}
        response = api.post("/api/v1/incidents", json=body)
        response.raise_for_status()
        number = response.json()["id"]
        for minutes, to in ((ack, "acknowledged"), (fix - ack, "resolved"), (1, "closed")):
            clock.advance(minutes * 60)
            api.post(f"/api/v1/incidents/{number}/transition", json={"to": to}).raise_for_status()
        clock.advance((5 + week % 3) * 86400 - (fix + 1) * 60)


def _telemetry(now: float) -> list[dict[str, Any]]:
    """Two hours of the charge operation a minute; 5 % failing in the last 20 minutes."""
    points = []
    start = int(now) - 7200
    start -= start % 60
    for minute in range(start, int(now) - 59, 60):
        failed = 50 if minute >= now - 1200 else 0
        for outcome, count in (("success", 1000 - failed), ("failure", failed)):
            if count:
                histogram = [0] * (len(LATENCY_BOUNDS) + 1)
                histogram[FAST] = count
                points.append(
                    {
                        "operation": "charge",
                        "outcome": outcome,
                        "bucket": minute,
                        "count": count,
                        "sum": 0.04 * count,
                        "histogram": histogram,
                    }
                )
    return points


def _seed(app: FastAPI, api: httpx.Client, clock: VirtualClock, url: str) -> str:
    """Services, an SLO with telemetry, an incident rule, the runbook and its target, and
    an operator; return the operator's token."""
    for name in ("checkout", "search"):
        api.put(
            f"/api/v1/services/{name}", json={"owner": "team-pay", "tier": 1}
        ).raise_for_status()
    _history(api, clock)
    slo = {"service": "checkout", "objective": 99.9, "sli": {"ratio": {"operation": "charge"}}}
    api.put(f"/api/v1/slos/{SLO}", json=slo).raise_for_status()
    body = {
        "protocol": 1,
        "service": "checkout",
        "instance": "checkout-1:8080",
        "sdk": "0.1.0",
        "sent_at": clock.now(),
        "dropped": 0,
        "telemetry": _telemetry(clock.now()),
        "events": [],
    }
    api.post(INGEST_PATH, json=body).raise_for_status()
    rule = {"matchers": ['alertname="CheckoutErrors"'], "severity": "SEV2"}
    api.put("/api/v1/incident-rules/checkout-paging", json=rule).raise_for_status()
    runbook = {
        "service": "checkout",
        "description": "Roll checkout back to the previous release.",
        "parameters": [{"name": "release", "default": "v41"}],
        "steps": [
            {
                "id": "rollback",
                "name": "Roll back through the deploy API",
                "kind": "http",
                "method": "POST",
                "url": url + "/rollback/{{ params.release }}",
            },
            {
                "id": "confirm",
                "name": "Confirm recovery",
                "kind": "manual",
                "instructions": "Check the error rate is back under 0.1 % on the dashboard.",
            },
        ],
    }
    api.put(f"/api/v1/runbooks/{RUNBOOK}", json=runbook).raise_for_status()
    _declare(app, clock)  # the job's first pass starts from here
    response = api.post("/api/v1/tokens", json={"name": "olga", "role": "operator"})
    response.raise_for_status()
    return str(response.json()["token"])


def _declare(app: FastAPI, clock: VirtualClock) -> int:
    """One pass of the ``incidents.declare`` job."""
    with transaction(app.state.sessions) as session:
        return declare_from_alerts(session, clock.now())


def _fire(api: httpx.Client, clock: VirtualClock) -> None:
    """The alert, firing for 20 minutes already."""
    alert = {
        "labels": {"alertname": "CheckoutErrors", "service": "checkout", "severity": "page"},
        "annotations": {"summary": SUMMARY},
        "startsAt": _rfc3339(clock.now() - 1200),
        "endsAt": _rfc3339(clock.now() + 3600),
    }
    api.post("/api/v1/alerts", json=[alert]).raise_for_status()


class Steps:
    """Ticks the ``runbooks.execute`` job on the virtual clock."""

    def __init__(self, app: FastAPI, clock: VirtualClock) -> None:
        self.app = app
        self.clock = clock
        self.executor = Executor(app.state.settings, heartbeat=0.05)

    def until_waiting(self, api: httpx.Client, run_id: int) -> dict[str, Any]:
        """Tick until the run waits for a person (or ends); return it."""
        for _ in range(20):
            with transaction(self.app.state.sessions) as session:
                self.executor.run(session, self.clock.now())
            assert self.executor.drain(60.0), "steps still running after 60 s"
            run = api.get(f"/api/v1/runbook-runs/{run_id}").json()
            if run["state"] in ("waiting", "succeeded", "failed", "cancelled"):
                return dict(run)
            self.clock.advance(1)
        raise AssertionError(f"run {run_id} did not reach a person in 20 ticks")


def test_incident_response_in_chromium(
    app: FastAPI,
    server: LiveServer,
    api: httpx.Client,
    clock: VirtualClock,
    shots: Path,
    target: tuple[str, list[str]],
) -> None:
    """From an alert to a published postmortem, through the pages, as an operator."""
    url, seen = target
    operator = _seed(app, api, clock, url)
    _fire(api, clock)
    assert 1 == _declare(app, clock)
    [incident] = api.get("/api/v1/incidents", params={"state": "triggered"}).json()["items"]
    number = incident["id"]
    errors: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1360, "height": 900}, color_scheme="light"
            )
            context.add_init_script(script=WATCH_CSP)
            page = watch(context.new_page(), errors)

            # The list: sign in, the new incident on top of the open ones.
            sign_in(page, server.url + "/incidents", operator)
            row = page.locator(f'tr[data-incident="{number}"]')
            expect(row).to_contain_text("triggered")
            expect(row).to_contain_text("SEV2")
            expect(page.locator("tr.incident-row").first).to_have_attribute(
                "data-incident", str(number)
            )
            page.screenshot(path=str(shots / "01-incidents.png"), full_page=True)

            # The incident: the alert on its live timeline; acknowledge.
            row.locator("a.strong").click()
            expect(page).to_have_url(f"{server.url}/incidents/{number}")
            follow_timeline(page, TIMEOUT)
            alert = page.locator('#timeline-list li[data-kind="alert.firing"]')
            expect(alert).to_contain_text(f"alert CheckoutErrors firing: {SUMMARY}")
            page.screenshot(path=str(shots / "02-incident-declared.png"), full_page=True)
            clock.advance(240)
            page.click('button[data-move="acknowledged"]')
            expect(page.locator("h1")).to_contain_text("acknowledged")

            # Start the runbook from the incident's page.
            clock.advance(60)
            expect(page.locator("#run-runbook")).to_have_value(RUNBOOK)
            page.fill('textarea[name="params"]', "release=v41")
            page.click("form.run-form button[type=submit]")
            expect(page).to_have_url(re.compile(r"/runs/\d+\?done=started$"))
            run_id = int(page.url.rsplit("/", 1)[1].split("?")[0])

            # Meanwhile the incident is open in another tab, following its timeline.
            tab = watch(context.new_page(), errors)
            tab.goto(f"{server.url}/incidents/{number}")
            follow_timeline(tab, TIMEOUT)
            tab.evaluate("window.__not_reloaded = true")

            # The run: the http step calls the target, the manual step waits for a click.
            run = Steps(app, clock).until_waiting(api, run_id)
            assert ("waiting", ["POST /rollback/v41"]) == (run["state"], seen)
            confirm = page.locator('li[data-step="confirm"]')
            expect(confirm.get_by_role("button", name="Mark done")).to_be_visible(timeout=TIMEOUT)
            expect(page.locator('li[data-step="rollback"] pre.output')).to_contain_text(
                "checkout@v41"
            )
            page.screenshot(path=str(shots / "03-run-waiting.png"), full_page=True)
            clock.advance(120)
            confirm.locator('input[name="comment"]').fill("error rate 0.02 %")
            confirm.get_by_role("button", name="Mark done").click()
            expect(page.locator("#run-live")).to_have_attribute("data-run-state", "succeeded")
            expect(confirm).to_contain_text("completed by olga: error rate 0.02 %")
            page.screenshot(path=str(shots / "runbook-run.png"), full_page=True)

            # Back on the incident: the runbook's entries arrived live, and its runs.
            finished = tab.locator('#timeline-list li[data-kind="runbook.run_finished"]')
            expect(finished).to_have_count(1, timeout=TIMEOUT)
            expect(
                tab.locator('#timeline-list li[data-kind="runbook.step_finished"]')
            ).to_have_count(2)
            expect(tab.locator("#incident-runs")).to_contain_text("succeeded", timeout=TIMEOUT)
            assert tab.evaluate("window.__not_reloaded") is True
            tab.screenshot(path=str(shots / "incident.png"), full_page=True)

            # Resolve.
            clock.advance(120)
            tab.click('button[data-move="resolved"]')
            expect(tab.locator("h1")).to_contain_text("resolved")
            expect(tab.locator('button[data-move="closed"]')).to_be_visible()
            tab.screenshot(path=str(shots / "04-incident-resolved.png"), full_page=True)

            # The metrics: seven weeks of incidents, each definition, the trend drawn.
            page.goto(server.url + "/incidents/metrics?since=8w&group_by=service")
            expect(page.locator('tr[data-group="checkout"]')).to_be_visible()
            expect(page.locator('[data-definition="mtta"]')).to_contain_text("PagerDuty")
            for chart in ("#chart-response", "#chart-mtbf"):
                expect(page.locator(chart)).to_have_attribute("data-drawn", "true")
            page.screenshot(path=str(shots / "incident-metrics.png"), full_page=True)

            # Generate the postmortem from the resolved incident, and read it.
            tab.get_by_role("button", name="Generate postmortem").click()
            expect(tab).to_have_url(re.compile(r"/postmortems/\d+"), timeout=TIMEOUT)
            main = tab.locator("main")
            expect(main).to_contain_text(SUMMARY)
            expect(main).to_contain_text(re.compile("time to acknowledge", re.IGNORECASE))
            expect(main).to_contain_text(re.compile("time to resolve", re.IGNORECASE))
            expect(main.locator("svg, .chart canvas").first).to_be_visible()
            tab.screenshot(path=str(shots / "05-postmortem.png"), full_page=True)
            tab.goto(f"{server.url}/incidents/{number}")
            expect(tab.locator("#postmortem a")).to_have_attribute(
                "href", re.compile(r"^/postmortems/\d+$")
            )

            for each in (page, tab):
                assert [] == each.evaluate("window.__csp")
            context.close()
        finally:
            browser.close()
    assert [] == errors
    docs = os.environ.get("RELIANT_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        for name in DOCS_SHOTS:
            shutil.copyfile(shots / name, Path(docs) / name)
