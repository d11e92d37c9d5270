"""`reliant demo` seen in real headless Chromium (Debian's ``chromium``, via Playwright).

The demo plays its game day and keeps everything up; then a person signs in with the token
it printed and reads the story in the web UI: the fleet on the overview and in the catalog,
the SLO burning, incident #1 resolved with the alert and the breakers on its timeline, the
on-call page delivered to the pager, runbook run #1's two steps succeeded, and the
postmortem with its summary and burn chart. No console error, no Content-Security-Policy
violation. Then Ctrl-C: the demo exits 0 and every process it started is gone.

Screenshots go to the test's tmp dir; with ``$RELIANT_SCREENSHOTS`` set (to ``docs/img`` to
refresh the tutorial's, docs/demo.md) the ``gameday-*.png`` the docs show are copied there.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from demo_process import alive, read_until, running_children
from playwright.sync_api import Page, expect, sync_playwright

# The browser helpers live with the web UI's browser tests.
WEB_TESTS = str(Path(__file__).resolve().parents[1] / "server" / "web")
if WEB_TESTS not in sys.path:
    sys.path.append(WEB_TESTS)
from browser_helpers import (  # noqa: E402
    CHROMIUM_ARGS,
    WATCH_CSP,
    chromium,
    csp_violations,
    follow_timeline,
    sign_in,
    watch,
)

#: Seconds the demo may take to set up and play every phase.
GAME_DAY = 300.0
#: Seconds the demo may take to stop everything after Ctrl-C.
STOP = 60.0
KEEP_RUNNING = "The control plane, the fleet and the traffic keep running"
WEB_UI = re.compile(r"web UI (http://127\.0\.0\.1:\d+)/  \(sign in with the token (rlt_\S+)\)")
SERVICES = ("storefront", "payments", "inventory")
TITLE = "Checkout charges failing (StorefrontChargesBurn)"
#: The screenshots docs/demo.md shows.
DOCS_SHOTS = (
    "gameday-overview.png",
    "gameday-slo.png",
    "gameday-incident.png",
    "gameday-pages.png",
    "gameday-runbook-run.png",
    "gameday-postmortem.png",
)


class Reader:
    """A person reading the web UI in one tab: each page left is checked for CSP violations.

    Args:
        page: the signed-in tab.
        url: the control plane's base URL.
        shots: where the screenshots go.
        errors: where console errors and CSP violations are collected.
    """

    def __init__(self, page: Page, url: str, shots: Path, errors: list[str]) -> None:
        self.page = page
        self.url = url
        self.shots = shots
        self.errors = errors

    def open(self, path: str) -> Page:
        """Leave the current page (keeping its CSP violations) for ``path``."""
        self.leave()
        self.page.goto(self.url + path)
        return self.page

    def leave(self) -> None:
        """Keep the current page's CSP violations (navigating forgets them)."""
        self.errors += [f"CSP on {self.page.url}: {v}" for v in csp_violations(self.page)]

    def shot(self, name: str) -> None:
        """A full-page screenshot ``name``."""
        self.page.screenshot(path=str(self.shots / name), full_page=True)


def _overview(reader: Reader) -> None:
    """The fleet on the overview and in the catalog."""
    page = reader.open("/")
    health = page.locator("table.services-health")
    for name in SERVICES:
        expect(health.locator("a.strong", has_text=name)).to_be_visible()
    expect(page.locator(".tile", has_text="services")).to_contain_text("3")
    reader.shot("gameday-overview.png")

    page = reader.open("/services")
    expect(page.locator("main")).to_contain_text("3 of 3 in the catalog.")
    storefront = page.locator("tr", has=page.locator("a.strong", has_text="storefront"))
    expect(storefront).to_contain_text("The shop. Checkout reserves stock in inventory")
    for dependency in ("payments", "inventory"):
        expect(storefront.locator("a.chip", has_text=dependency)).to_be_visible()
    reader.shot("gameday-services.png")


def _slo(reader: Reader) -> None:
    """The SLO on storefront's charges: its budget spent, the burn rate above 1x."""
    page = reader.open("/slos/storefront/storefront-charges")
    main = page.locator("main")
    expect(page.locator("h1")).to_contain_text("storefront-charges")
    expect(main).to_contain_text("98% over a rolling 1h window")
    burn = page.locator(".stat", has_text="burn rate, last hour").locator(".stat-value")
    expect(burn).to_have_text(re.compile(r"^\d+(\.\d+)?×$"))
    assert float(burn.inner_text().rstrip("×")) > 1.0, burn.inner_text()
    expect(main).to_contain_text("The budget is exhausted")
    condition = page.locator("table.conditions tbody tr").first
    for text in ("page", "2m/20s", "10×"):
        expect(condition).to_contain_text(text)
    for chart in ("#chart-budget", "#chart-burn"):
        expect(page.locator(chart)).to_have_attribute("data-drawn", "true")
    reader.shot("gameday-slo.png")


def _incident(reader: Reader) -> str:
    """Incident #1: resolved; the alert, the page, the breakers and the runbook run (which
    acted on payments) on its timeline and in its runs; return the postmortem's path."""
    page = reader.open("/incidents/1")
    heading = page.locator("h1")
    for text in ("#1", TITLE, "SEV2", "resolved"):
        expect(heading).to_contain_text(text)
    expect(page.locator("main")).to_contain_text("by the incident rule storefront-pages")
    follow_timeline(page)
    timeline = page.locator("#timeline-list")
    expect(timeline.locator('li[data-kind="alert.firing"]')).to_contain_text(
        "alert StorefrontChargesBurn firing"
    )
    expect(timeline.locator('li[data-kind="incident.declared"]')).to_contain_text(TITLE)
    breakers = timeline.locator('li[data-kind="circuit_breaker.state_changed"]')
    expect(breakers.first).to_contain_text("breaker payments: closed -> open")
    expect(timeline.locator('li[data-kind="alert.resolved"]')).to_contain_text(
        "alert StorefrontChargesBurn resolved"
    )
    expect(timeline.locator('li[data-kind="incident.resolved"]')).to_have_count(1)
    expect(timeline.locator('li[data-kind="oncall.page.triggered"]')).to_contain_text(
        "through shop-escalation: notified pager"
    )
    expect(timeline.locator('li[data-kind="runbook.run_finished"]')).to_contain_text(
        "runbook payments-failover run #1 succeeded"
    )
    expect(page.locator("#incident-runs tr[data-run]")).to_contain_text("payments-failover")
    expect(page.locator("#links")).to_contain_text("StorefrontChargesBurn resolved")
    reader.shot("gameday-incident.png")
    link = page.locator("#postmortem a")
    expect(link).to_have_attribute("href", re.compile(r"^/postmortems/\d+$"))
    return str(link.get_attribute("href"))


def _paged(reader: Reader) -> None:
    """The escalation policy paged the pager (who is on call), which got the page firing,
    then resolved."""
    page = reader.open("/pages")
    row = page.locator("tr[data-page]")
    expect(row).to_have_count(1)
    for text in ("resolved", "StorefrontChargesBurn", "policy shop-escalation", "pager"):
        expect(row).to_contain_text(text)
    reader.shot("gameday-pages.png")

    page = reader.open("/notifications?state=delivered")
    for status in ("firing", "resolved"):
        row = page.locator("tbody tr", has_text=status)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("pager")
        expect(row).to_contain_text("delivered")
    reader.shot("gameday-notifications.png")


def _run(reader: Reader) -> None:
    """Runbook run #1, started by the alert: both steps succeeded."""
    page = reader.open("/runs/1")
    expect(page.locator("h1")).to_contain_text("Run 1 of payments-failover")
    expect(page.locator("main")).to_contain_text("(automatically, by an alert)")
    expect(page.locator("#run-live")).to_have_attribute("data-run-state", "succeeded")
    for step, output in (
        ("fail-over", "force_open primary-provider of payments: set"),
        ("charges-recover", "waiting for error_ratio < 0.05"),
    ):
        item = page.locator(f'li[data-step="{step}"]')
        expect(item).to_have_attribute("data-state", "succeeded")
        expect(item.locator("pre.output")).to_contain_text(output)
    reader.shot("gameday-runbook-run.png")


def _postmortem(reader: Reader, path: str) -> None:
    """The postmortem the error budget policy asked for: summary, budget, burn chart."""
    page = reader.open(path)
    expect(page.locator("h1")).to_contain_text(f"Postmortem: {TITLE}")
    expect(page.locator("main")).to_contain_text("by policy:error-budget")
    expect(page.locator("#summary")).to_contain_text("SEV2 incident #1 affecting storefront")
    expect(page.locator("#budget table.budgets")).to_contain_text("storefront-charges")
    chart = page.locator("#burn-chart svg")
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("storefront-charges")
    reader.shot("gameday-postmortem.png")


def _browse(url: str, token: str, shots: Path) -> list[str]:
    """Read the game day's pages in Chromium; return the console errors and CSP violations."""
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1360, "height": 900}, color_scheme="light"
            )
            context.add_init_script(script=WATCH_CSP)
            page = watch(context.new_page(), errors)
            sign_in(page, url + "/", token)
            reader = Reader(page, url, shots, errors)
            _overview(reader)
            _slo(reader)
            postmortem = _incident(reader)
            _paged(reader)
            _run(reader)
            _postmortem(reader, postmortem)
            reader.leave()
            context.close()
        finally:
            browser.close()
    return errors


def test_the_demo_in_chromium(tmp_path: Path) -> None:
    """After the game day the web UI tells its story; Ctrl-C then stops every process."""
    out, shots = tmp_path / "run", tmp_path / "screenshots"
    shots.mkdir()
    argv = [sys.executable, "-m", "reliant", "demo", "--plain", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as process:
        try:
            told = "".join(read_until(process, KEEP_RUNNING, GAME_DAY))
            found = WEB_UI.search(told)
            assert found is not None, told
            url, token = found.groups()
            assert "every phase passed" in told, told
            children = running_children(out)
            errors = _browse(url, token, shots)
        finally:
            stopping = time.monotonic()
            process.send_signal(signal.SIGINT)
            try:
                rest, _ = process.communicate(timeout=STOP)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
        took = time.monotonic() - stopping
    assert [] == errors
    assert 0 == process.returncode, rest
    assert "stopping everything" in rest
    assert set(SERVICES) | {"control-plane", "pager"} == set(children)
    assert [] == [name for name, pid in children.items() if alive(pid)]
    assert took < STOP
    assert (out / "postmortem-1.md").is_file()
    docs = os.environ.get("RELIANT_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        for name in DOCS_SHOTS:
            shutil.copyfile(shots / name, Path(docs) / name)
