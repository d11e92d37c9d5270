"""The catalog's pages: the overview, the service list and a service's page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import ADMIN, START, bearer, token_for

#: Pages are UI rendering: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

OVERRIDES = "/api/v1/services/payments/overrides"


def _login(client: TestClient, token: str = ADMIN) -> None:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert 303 == response.status_code, response.text


def _service(client: TestClient, name: str, **spec: Any) -> None:
    response = client.put(
        f"/api/v1/services/{name}", json={"owner": "team-a", **spec}, headers=bearer(ADMIN)
    )
    assert response.status_code in (200, 201), response.text


def _event(client: TestClient, kind: str, **fields: Any) -> None:
    response = client.post("/api/v1/events", json={"kind": kind, **fields}, headers=bearer(ADMIN))
    assert 202 == response.status_code, response.text


def _breaker(client: TestClient, service: str, name: str, to_state: str) -> None:
    attributes = {"name": name, "from_state": "closed", "to_state": to_state}
    severity = "warning" if to_state == "open" else "info"
    _event(
        client,
        "circuit_breaker.state_changed",
        service=service,
        severity=severity,
        attributes=attributes,
    )


def _override(client: TestClient, path: str, body: dict[str, Any]) -> None:
    response = client.put(f"{OVERRIDES}/{path}", json=body, headers=bearer(ADMIN))
    assert 200 == response.status_code, response.text


def _pills(html: str) -> list[tuple[str, str]]:
    found = re.findall(
        r'<span class="pill pill-(\w+)"[^>]*><span class="pill-icon" aria-hidden="true"></span>'
        r"([^<]+)</span>",
        html,
    )
    return [(level, label) for level, label in found]


def test_overview_lists_services_worst_first(anonymous: TestClient) -> None:
    """Critical services come first, each with its health in words and tiles counting them."""
    _service(anonymous, "calm", tier=1)
    _service(anonymous, "payments", tier=2)
    _breaker(anonymous, "payments", "db", "open")
    _event(anonymous, "deploy.finished", service="calm")
    _login(anonymous)
    html = anonymous.get("/").text
    assert [("critical", "breaker db open"), ("ok", "healthy")] == _pills(html)[:2]
    assert html.index(">payments</a>") < html.index(">calm</a>")
    assert re.search(
        r'tile-value">1</span><span class="tile-label"><span[^>]*></span>critical', html
    )
    assert "Warnings and errors, last hour" in html
    assert "<code>circuit_breaker.state_changed</code>" in html


def test_overview_refreshes_its_live_section(anonymous: TestClient) -> None:
    """The page polls itself; an htmx GET answers only the live section."""
    _service(anonymous, "payments")
    _login(anonymous)
    page = anonymous.get("/").text
    assert 'hx-get="/" hx-trigger="every 5s" hx-swap="outerHTML"' in page
    fragment = anonymous.get("/", headers={"HX-Request": "true"})
    assert fragment.text.startswith('<div id="overview-live"')
    assert "<html" not in fragment.text
    assert "HX-Request" == fragment.headers["vary"]


def test_overview_without_services_says_how_to_add_them(anonymous: TestClient) -> None:
    """An empty catalog shows how to declare services."""
    _login(anonymous)
    assert "No services yet" in anonymous.get("/").text


def test_services_page_lists_and_filters_the_catalog(anonymous: TestClient) -> None:
    """The list shows owner, tier, dependencies and who uses each; filters narrow it."""
    _service(anonymous, "api", owner="team-web", tier=1, dependencies=[{"service": "db"}])
    _service(anonymous, "db", owner="team-data", tier=2)
    _login(anonymous)
    html = anonymous.get("/services").text
    assert "2 of 2 in the catalog." in html
    assert '<a class="chip chip-hard" href="/services/db" title="hard dependency">db</a>' in html
    filtered = anonymous.get("/services?owner=team-data").text
    assert "1 of 2 in the catalog." in filtered
    assert ">api</a>" not in filtered
    assert "No service matches" in anonymous.get("/services?tier=4").text


def test_service_page_shows_the_spec_and_its_neighbours(anonymous: TestClient) -> None:
    """Owner, tier, links, labels, dependencies (declared ones as links) and dependents."""
    _service(anonymous, "ledger")
    _service(
        anonymous,
        "payments",
        owner="team-pay",
        tier=1,
        description="Charges cards.",
        links=[{"title": "Runbook", "url": "https://rb.example/pay", "kind": "runbook"}],
        labels={"pci": "true"},
        dependencies=[{"service": "ledger"}, {"service": "gateway", "kind": "soft"}],
    )
    _service(anonymous, "checkout", dependencies=[{"service": "payments"}])
    _login(anonymous)
    html = anonymous.get("/services/payments").text
    assert "Owned by <strong>team-pay</strong>" in html
    assert '<p class="lead">Charges cards.</p>' in html
    assert 'href="https://rb.example/pay" rel="noopener noreferrer"' in html
    assert "pci=true" in html
    assert '<a class="chip chip-hard" href="/services/ledger">ledger' in html
    assert 'title="not in the catalog">gateway' in html
    assert '<a class="chip chip-hard" href="/services/checkout">checkout' in html


def test_service_page_lists_its_events_and_follows_the_stream(anonymous: TestClient) -> None:
    """Recent events of the service, and the stream filtered to it from the newest id."""
    _service(anonymous, "payments")
    _service(anonymous, "other")
    _event(anonymous, "deploy.finished", service="payments", attributes={"version": "9.9"})
    _event(anonymous, "deploy.finished", service="other", attributes={"version": "0.1"})
    _login(anonymous)
    html = anonymous.get("/services/payments").text
    assert "9.9" in html
    assert "0.1</span>" not in html
    assert 'data-event-stream="/api/v1/events/stream?service=payments"' in html


def test_operators_get_breaker_and_fault_buttons(client: TestClient, anonymous: TestClient) -> None:
    """Operators see buttons calling the config API; forced breakers offer automatic."""
    _service(anonymous, "payments")
    _breaker(anonymous, "payments", "db", "open")
    _breaker(anonymous, "payments", "api/v2", "closed")
    _override(anonymous, "breakers/db", {"state": "forced_open"})
    _override(anonymous, "faults/slow", {"enabled": False})
    _login(anonymous, token_for(client, "operator", name="op"))
    html = anonymous.get("/services/payments").text
    assert f'hx-delete="{OVERRIDES}/breakers/db"' in html
    assert f'hx-put="{OVERRIDES}/breakers/api/v2"' in html
    assert 'data-json=\'{"state": "forced_open"}\'' in html
    assert "data-json='{\"enabled\": true}'" in html
    assert ("warning", "forced open") in _pills(html)
    assert "by bootstrap-admin" in html


def test_viewers_see_states_without_buttons(client: TestClient, anonymous: TestClient) -> None:
    """Viewers see the same states but no buttons, and the API refuses them anyway."""
    _service(anonymous, "payments")
    _breaker(anonymous, "payments", "db", "open")
    _login(anonymous, token_for(client, "viewer", name="vic"))
    html = anonymous.get("/services/payments").text
    assert ("critical", "open") in _pills(html)
    assert "hx-put" not in html
    assert "hx-delete" not in html
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert csrf is not None
    response = anonymous.put(
        f"{OVERRIDES}/breakers/db", json={"state": "forced_open"}, headers={"X-CSRF-Token": csrf[1]}
    )
    assert 403 == response.status_code


def test_service_page_shows_telemetry(anonymous: TestClient) -> None:
    """Requests, error ratio and latency of the last 5 minutes."""
    _service(anonymous, "payments")
    body = {
        "protocol": 1,
        "service": "payments",
        "instance": "t:1",
        "sdk": "0.1.0",
        "sent_at": START,
        "telemetry": [
            {
                "operation": "charge",
                "outcome": outcome,
                "bucket": int(START) - 30,
                "count": n,
                "sum": n * 0.02,
                "histogram": [0, 0, 0, 0, n, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            }
            for outcome, n in (("success", 1995), ("failure", 5))
        ],
    }
    assert 202 == anonymous.post("/api/v1/ingest", json=body, headers=bearer(ADMIN)).status_code
    _login(anonymous)
    html = anonymous.get("/services/payments").text
    assert '<span class="stat-value">2,000</span><span class="stat-label">requests</span>' in html
    assert '<span class="stat-value">0.2%</span><span class="stat-label">errors (5)</span>' in html
    assert ("ok", "healthy") in _pills(html)


def test_service_page_fragment_is_the_live_section(anonymous: TestClient) -> None:
    """An htmx GET of a service's page answers its live section (health and policies)."""
    _service(anonymous, "payments")
    _breaker(anonymous, "payments", "db", "half_open")
    _login(anonymous)
    response = anonymous.get("/services/payments", headers={"HX-Request": "true"})
    assert response.text.startswith('<div id="service-live"')
    assert ("warning", "breaker db half open") in _pills(response.text)


def test_unknown_and_malformed_services_are_404_pages(anonymous: TestClient) -> None:
    """No such service (and no events for it), or a name no service can have: 404 page."""
    _login(anonymous)
    for path in ("/services/nope", "/services/Not_A_Name!"):
        response = anonymous.get(path)
        assert 404 == response.status_code
        assert "text/html" in response.headers["content-type"]
        assert "No such service" in response.text


def test_a_reporting_service_outside_the_catalog_has_a_page(anonymous: TestClient) -> None:
    """Events for an undeclared service: its page, with a note to declare it."""
    _breaker(anonymous, "stray", "db", "open")
    _login(anonymous)
    response = anonymous.get("/services/stray")
    assert 200 == response.status_code
    assert "is not in the catalog" in response.text
