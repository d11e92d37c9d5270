"""Who may do what with incidents: viewers read, operators change, admins set receivers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from incidents_helpers import PAGE_RULE, declare
from server_helpers import bearer, token_for


@pytest.fixture
def tokens(client: TestClient) -> dict[str, dict[str, str]]:
    """Authorization headers of a viewer, an operator and an ingest token."""
    return {role: bearer(token_for(client, role)) for role in ("viewer", "operator", "ingest")}


def test_viewers_read_but_cannot_write(
    client: TestClient, anonymous: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    """A viewer lists, reads, reads the timeline and metrics; every write is 403."""
    incident = declare(client)["id"]
    viewer = tokens["viewer"]
    base = f"/api/v1/incidents/{incident}"
    for path in (
        "/api/v1/incidents",
        base,
        f"{base}/timeline",
        "/api/v1/incidents/metrics",
        "/api/v1/incident-rules",
    ):
        assert 200 == anonymous.get(path, headers=viewer).status_code, path
    writes = [
        ("POST", "/api/v1/incidents", {"title": "x", "severity": "SEV1"}),
        ("POST", f"{base}/transition", {"to": "acknowledged"}),
        ("POST", f"{base}/updates", {"text": "x"}),
        ("POST", f"{base}/timeline", {"text": "x"}),
        ("PUT", f"{base}/roles/commander", {"person": "me"}),
        ("POST", f"{base}/merge", {"into": 1}),
        ("PUT", "/api/v1/incident-rules/pages", PAGE_RULE),
    ]
    for method, path, body in writes:
        response = anonymous.request(method, path, headers=viewer, json=body)
        assert 403 == response.status_code, (method, path, response.text)
    assert "triggered" == client.get(base).json()["state"]


def test_operators_write_but_only_admins_set_receivers(
    anonymous: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    """An operator declares and acknowledges (recorded as its token's name) and writes
    rules; the server-wide receivers need an admin; ingest tokens read nothing."""
    operator = tokens["operator"]
    found = anonymous.post(
        "/api/v1/incidents", headers=operator, json={"title": "x", "severity": "SEV3"}
    )
    assert (201, "t-operator") == (found.status_code, found.json()["created_by"])
    ack = anonymous.post(
        f"/api/v1/incidents/{found.json()['id']}/transition",
        headers=operator,
        json={"to": "acknowledged"},
    )
    assert 200 == ack.status_code
    rule = anonymous.put("/api/v1/incident-rules/pages", headers=operator, json=PAGE_RULE)
    assert 201 == rule.status_code
    setting = anonymous.put(
        "/api/v1/settings/incident-notify", headers=operator, json={"receivers": []}
    )
    assert 403 == setting.status_code
    assert 403 == anonymous.get("/api/v1/incidents", headers=tokens["ingest"]).status_code
