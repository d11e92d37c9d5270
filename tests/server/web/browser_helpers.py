"""Helpers shared by the tests that drive the web UI in real headless Chromium.

Debian's ``chromium`` is launched through Playwright with :data:`CHROMIUM_ARGS`; every
context gets :data:`WATCH_CSP` as an init script, and every page is :func:`watch`-ed, so a
test ends by asserting that no console error and no Content-Security-Policy violation
happened on the way.
"""

from __future__ import annotations

import re
import shutil

from playwright.sync_api import ConsoleMessage, Page, expect

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Records CSP violations in ``window.__csp``; init scripts are not subject to the policy.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""
#: Milliseconds a page may take to show a change by default.
TIMEOUT = 10_000


def chromium() -> str:
    """The path of Debian's ``chromium``.

    Raises:
        AssertionError: it is not installed.
    """
    path = shutil.which("chromium")
    assert path is not None, "install the Debian chromium package"
    return path


def watch(page: Page, errors: list[str]) -> Page:
    """Append ``page``'s console errors and warnings and its uncaught errors to ``errors``.

    Returns:
        ``page``.
    """

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            errors.append(f"console {message.type} on {page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"page error on {page.url}: {exc}"))
    return page


def sign_in(page: Page, url: str, token: str) -> None:
    """Open ``url``, sign in on the form it sends to with ``token``, and land back on it."""
    page.goto(url)
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page).to_have_url(url)


def follow_timeline(page: Page, timeout: float = TIMEOUT) -> None:
    """Wait until an incident's page follows its timeline's stream."""
    state = page.locator('[data-stream-state-for="timeline-list"]')
    expect(state).to_have_class(re.compile("stream-live"), timeout=timeout)


def csp_violations(page: Page) -> list[str]:
    """The Content-Security-Policy violations :data:`WATCH_CSP` recorded in ``page``."""
    return list(page.evaluate("window.__csp"))
