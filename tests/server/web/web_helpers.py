"""Helpers shared by the web UI tests: signing in, reading pages, seeding data."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from server_helpers import ADMIN, bearer

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def login(client: TestClient, token: str = ADMIN) -> str:
    """Sign ``client`` in with ``token`` through the form; return the session's CSRF token."""
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/jobs").text)


def csrf_of(html: str) -> str:
    """The CSRF token a page carries in its ``<meta name="csrf-token">``."""
    match = CSRF_META.search(html)
    assert match is not None, "the page has no csrf-token meta tag"
    return match[1]


def add_service(client: TestClient, name: str, **spec: Any) -> None:
    """Create a service through the API as the admin."""
    body = {"owner": "team-a", **spec}
    response = client.put(f"/api/v1/services/{name}", json=body, headers=bearer(ADMIN))
    assert response.status_code in (200, 201), response.text


def add_event(client: TestClient, kind: str, **fields: Any) -> int:
    """Append one event through the API as the admin; return its id."""
    response = client.post("/api/v1/events", json={"kind": kind, **fields}, headers=bearer(ADMIN))
    assert response.status_code == 202, response.text
    return int(response.json()["ids"][0])


def breaker_changed(
    client: TestClient, service: str, name: str, to_state: str, **fields: Any
) -> int:
    """Report a breaker's state change as its SDK would."""
    attributes = {"name": name, "from_state": "closed", "to_state": to_state}
    return add_event(
        client,
        "circuit_breaker.state_changed",
        service=service,
        severity="warning" if to_state == "open" else "info",
        attributes=attributes,
        **fields,
    )


class _Scan(HTMLParser):
    """Collects what the Content-Security-Policy would block: inline code and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style> element")
        self.inline += [f"{tag}[{n}]" for n in names if n.startswith("on") or n == "style"]
        self.inline += [
            f"{tag}[{n}]={v}" for n, v in attrs if v and v.strip().lower().startswith("javascript:")
        ]


def inline_code(html: str) -> list[str]:
    """Every inline script, event handler, style or ``javascript:`` URL in ``html``."""
    scan = _Scan()
    scan.feed(html)
    return scan.inline


def add_telemetry(
    client: TestClient, service: str, *, bucket: int, ok: int, failed: int = 0
) -> None:
    """Push one SDK batch of calls for ``service`` as the admin (admins may ingest)."""
    points = [
        {
            "operation": "handle",
            "outcome": outcome,
            "bucket": bucket,
            "count": n,
            "sum": n * 0.02,
            "histogram": [n if i == 4 else 0 for i in range(14)],  # all 10-25 ms
        }
        for outcome, n in (("success", ok), ("failure", failed))
        if n
    ]
    body = {
        "protocol": 1,
        "service": service,
        "instance": "test:1",
        "sdk": "0.1.0",
        "sent_at": float(bucket),
        "telemetry": points,
    }
    response = client.post("/api/v1/ingest", json=body, headers=bearer(ADMIN))
    assert response.status_code == 202, response.text
