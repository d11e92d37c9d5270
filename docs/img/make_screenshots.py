"""Make the web UI screenshots of docs/web-ui.md: ``docs/img/ui-*.png``, light and dark.

Run from the repository root (needs the Debian ``chromium`` package)::

    uv run --frozen python docs/img/make_screenshots.py

It starts a control plane on a free loopback port with a throw-away SQLite store, fills it
with a small fleet through the public API (catalog, SDK ingest, an operator's override),
signs in with Chromium and saves each page. Not a test: the browser test is
``tests/server/web/test_browser.py``.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "server"))

from live_server import LiveServer  # noqa: E402

from reliant.agent.protocol import BUCKET_SECONDS, LATENCY_BOUNDS  # noqa: E402
from reliant.server.app import create_app  # noqa: E402
from reliant.server.events import close_streams  # noqa: E402
from reliant.server.settings import Settings  # noqa: E402

OUT = Path(__file__).resolve().parent
ADMIN = "rlt_00000000d0c5_screenshots-admin-token-0001"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}

SERVICES: dict[str, dict[str, Any]] = {
    "checkout": {
        "owner": "team-storefront",
        "tier": 1,
        "description": "Takes the basket to an order: prices, reserves stock, charges the card.",
        "dependencies": [
            {"service": "payments"},
            {"service": "catalog-api", "kind": "soft"},
            {"service": "notifications", "kind": "soft"},
        ],
        "links": [
            {"title": "Runbook", "url": "https://runbooks.example.com/checkout", "kind": "runbook"},
            {
                "title": "Grafana",
                "url": "https://grafana.example.com/d/checkout",
                "kind": "dashboard",
            },
        ],
        "labels": {"domain": "commerce"},
    },
    "payments": {
        "owner": "team-payments",
        "tier": 1,
        "description": "Charges cards through the card gateway; owns refunds and ledger writes.",
        "dependencies": [
            {"service": "ledger"},
            {"service": "card-gateway"},
            {"service": "fraud-check", "kind": "soft"},
        ],
        "links": [
            {"title": "Runbook", "url": "https://runbooks.example.com/payments", "kind": "runbook"},
            {
                "title": "Dashboard",
                "url": "https://grafana.example.com/d/payments",
                "kind": "dashboard",
            },
            {"title": "payments", "url": "https://git.example.com/pay/payments", "kind": "repo"},
        ],
        "labels": {"domain": "commerce", "pci": "true"},
    },
    "ledger": {"owner": "team-payments", "tier": 1, "description": "Double-entry ledger."},
    "fraud-check": {"owner": "team-risk", "tier": 2, "description": "Scores payments for fraud."},
    "catalog-api": {"owner": "team-storefront", "tier": 2, "description": "Products and prices."},
    "notifications": {"owner": "team-growth", "tier": 3, "description": "E-mail and push."},
    "search": {"owner": "team-discovery", "tier": 3, "description": "Product search."},
}
#: service → (requests per 10 s, error ratio, typical latency in seconds)
TRAFFIC = {
    "checkout": (420, 0.004, 0.08),
    "payments": (380, 0.083, 0.21),
    "ledger": (900, 0.0, 0.006),
    "fraud-check": (350, 0.018, 0.04),
    "catalog-api": (1500, 0.001, 0.012),
    "notifications": (120, 0.0, 0.03),
}


def histogram(count: int, typical: float, rng: random.Random) -> list[int]:
    """Counts per latency bucket around ``typical`` seconds."""
    counts = [0] * (len(LATENCY_BOUNDS) + 1)
    for _ in range(count):
        value = rng.lognormvariate(0, 0.6) * typical
        index = next((i for i, b in enumerate(LATENCY_BOUNDS) if value <= b), len(LATENCY_BOUNDS))
        counts[index] += 1
    return counts


def seed(base: str) -> None:
    """Fill the control plane through its API as an admin, an operator and the SDKs."""
    rng = random.Random(7)
    admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"})

    def token(name: str, role: str) -> str:
        response = admin.post("/api/v1/tokens", json={"name": name, "role": role})
        response.raise_for_status()
        return str(response.json()["token"])

    for name, spec in SERVICES.items():
        admin.put(f"/api/v1/services/{name}", json=spec).raise_for_status()
    sdk = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token('fleet-sdk', 'ingest')}"}
    )
    operator = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token('alice', 'operator')}"}
    )
    token("grafana-reader", "viewer")
    now = time.time()
    first = int(now // BUCKET_SECONDS) * BUCKET_SECONDS - 300
    for service, (per_bucket, errors, typical) in TRAFFIC.items():
        points = []
        for bucket in range(first, first + 300, BUCKET_SECONDS):
            n = int(per_bucket * rng.uniform(0.85, 1.15))
            bad = int(n * errors * rng.uniform(0.7, 1.3))
            for outcome, k, scale in (("success", n - bad, 1.0), ("failure", bad, 2.5)):
                if k:
                    points.append(
                        {
                            "operation": "handle",
                            "outcome": outcome,
                            "bucket": bucket,
                            "count": k,
                            "sum": k * typical * scale,
                            "histogram": histogram(k, typical * scale, rng),
                        }
                    )
        events = sorted(sdk_events(service, now), key=lambda e: float(e["time"]))
        body = {
            "protocol": 1,
            "service": service,
            "instance": f"{service}-7d9f:{rng.randint(100, 999)}",
            "sdk": "0.1.0",
            "sent_at": now,
            "telemetry": points,
            "events": events,
        }
        sdk.post("/api/v1/ingest", json=body).raise_for_status()
    operator.put(
        "/api/v1/services/catalog-api/overrides/breakers/legacy-pricing",
        json={"state": "forced_open"},
    ).raise_for_status()
    operator.put(
        "/api/v1/services/notifications/overrides/faults/smtp-latency", json={"enabled": True}
    ).raise_for_status()


def sdk_events(service: str, now: float) -> list[dict[str, Any]]:
    """The events an SDK would have sent for the story of each service."""

    def breaker(name: str, old: str, new: str, ago: float, severity: str) -> dict[str, Any]:
        return {
            "time": now - ago,
            "kind": "circuit_breaker.state_changed",
            "name": name,
            "severity": severity,
            "attributes": {"from_state": old, "to_state": new},
        }

    if service == "payments":
        return [
            breaker("card-gateway", "closed", "open", 250, "warning"),
            breaker("card-gateway", "open", "half_open", 190, "info"),
            breaker("card-gateway", "half_open", "open", 185, "warning"),
            {
                "time": now - 120,
                "kind": "retry.exhausted",
                "name": "ledger-write",
                "severity": "error",
                "attributes": {"attempts": 3, "reason": "attempts"},
            },
            {
                "time": now - 40,
                "kind": "timeout.exceeded",
                "name": "card-gateway",
                "severity": "warning",
                "attributes": {"timeout": 2.0},
            },
            breaker("ledger-db", "closed", "closed", 600, "info"),
        ]
    if service == "fraud-check":
        return [
            breaker("model-server", "closed", "open", 200, "warning"),
            breaker("model-server", "open", "half_open", 30, "info"),
        ]
    if service == "checkout":
        return [
            breaker("payments", "open", "closed", 1800, "info"),
            {
                "time": now - 90,
                "kind": "rate_limiter.rejected",
                "name": "inbound",
                "severity": "info",
                "attributes": {"key": "203.0.113.9", "remaining": 0, "retry_after": 0.4},
            },
        ]
    if service == "notifications":
        return [
            {
                "time": now - 500,
                "kind": "fault.disabled",
                "name": "smtp-latency",
                "attributes": {"rate": 0.2},
            }
        ]
    return []


def shoot(page: Page, base: str, path: str, name: str, *, full: bool = False) -> None:
    """Open ``path`` and save ``docs/img/ui-<name>.png``."""
    page.goto(base + path)
    page.wait_for_load_state("load")
    page.wait_for_timeout(700)  # let the live parts connect (their state shows "live")
    page.screenshot(path=str(OUT / f"ui-{name}.png"), full_page=full)
    print("wrote", OUT / f"ui-{name}.png")


def main() -> None:
    """Start a seeded control plane and photograph its pages in both colour schemes."""
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("make_screenshots: needs the chromium package (apt-get install chromium)")
    data = Path(tempfile.mkdtemp(prefix="reliant-shots-"))
    settings = Settings(data_dir=data, bootstrap_token=ADMIN, secure_cookies=False)
    app = create_app(settings)
    try:
        with LiveServer(app) as server, sync_playwright() as p:
            seed(server.url)
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for scheme in ("light", "dark"):
                context = browser.new_context(color_scheme=scheme, viewport=VIEWPORT)
                page = context.new_page()
                page.on("dialog", lambda dialog: dialog.accept())
                if scheme == "light":
                    shoot(page, server.url, "/login", "login-light")
                page.goto(server.url + "/login")
                page.fill("#token", ADMIN)
                page.click("button[type=submit]")
                page.wait_for_url(server.url + "/")
                shoot(page, server.url, "/", f"overview-{scheme}")
                shoot(page, server.url, "/services/payments", f"service-{scheme}", full=True)
                shoot(page, server.url, "/events", f"events-{scheme}")
                if scheme == "light":
                    shoot(page, server.url, "/services", "services-light")
                    shoot(page, server.url, "/audit", "audit-light")
                    shoot(page, server.url, "/tokens", "tokens-light")
                    shoot(page, server.url, "/jobs", "jobs-light")
                context.close()
            browser.close()
            close_streams(app)
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
