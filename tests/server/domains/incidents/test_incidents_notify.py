"""Notifications of incident changes: one outbox row per change and receiver, keyed by
incident, to the server's, the rule's and the incident's own receivers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from incidents_helpers import (
    PAGE_RULE,
    declare,
    fire,
    incidents,
    move,
    outbox,
    put_rule,
    run_declare,
)

from reliant.testing import VirtualClock


def set_receivers(client: TestClient, *names: str) -> None:
    """Set the server-wide incident receivers."""
    response = client.put("/api/v1/settings/incident-notify", json={"receivers": list(names)})
    assert 200 == response.status_code, response.text


def test_each_change_queues_one_notification(client: TestClient, app: FastAPI) -> None:
    """Declared and reopened are firing, acknowledged acknowledged, resolved and closed
    resolved; a status update goes with the state's status unless notify is false."""
    set_receivers(client, "ops-slack")
    incident = declare(client, title="Checkout errors", severity="SEV1")["id"]
    move(client, incident, "acknowledged")
    base = f"/api/v1/incidents/{incident}"
    client.post(f"{base}/updates", json={"text": "found the bad deploy"})
    client.post(f"{base}/updates", json={"text": "internal note", "notify": False})
    move(client, incident, "mitigated")
    move(client, incident, "resolved")
    move(client, incident, "triggered")
    move(client, incident, "closed")
    key = f"incident-{incident}"
    assert [
        ("ops-slack", key, "firing", f"[SEV1] Incident #{incident}: Checkout errors (declared)"),
        (
            "ops-slack",
            key,
            "acknowledged",
            f"[SEV1] Incident #{incident}: Checkout errors (acknowledged)",
        ),
        (
            "ops-slack",
            key,
            "acknowledged",
            f"[SEV1] Incident #{incident}: Checkout errors (status update)",
        ),
        ("ops-slack", key, "firing", f"[SEV1] Incident #{incident}: Checkout errors (mitigated)"),
        ("ops-slack", key, "resolved", f"[SEV1] Incident #{incident}: Checkout errors (resolved)"),
        ("ops-slack", key, "firing", f"[SEV1] Incident #{incident}: Checkout errors (reopened)"),
        ("ops-slack", key, "resolved", f"[SEV1] Incident #{incident}: Checkout errors (closed)"),
    ] == outbox(app)


def test_receivers_are_the_setting_the_rule_and_the_subscribers(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """A rule's notify list and an incident's subscribers add to the server's receivers;
    without any, nothing is queued."""
    incident = declare(client)["id"]
    assert [] == outbox(app)
    set_receivers(client, "ops-slack")
    put_rule(client, "pages", {**PAGE_RULE, "notify": ["payments-pd"]})
    fire(client, clock, alertname="Down", severity="page", service="payments")
    run_declare(app, clock)
    declared = next(i["id"] for i in incidents(client) if i["rule"] == "pages")
    assert [("ops-slack", f"incident-{declared}"), ("payments-pd", f"incident-{declared}")] == [
        (r[0], r[1]) for r in outbox(app)
    ]
    client.put(f"/api/v1/incidents/{incident}/subscribers", json={"receivers": ["eng-mail"]})
    move(client, incident, "acknowledged")
    assert [("eng-mail", "acknowledged"), ("ops-slack", "acknowledged")] == [
        (r[0], r[2]) for r in outbox(app)[2:]
    ]


def test_the_setting_is_admin_only_audited_and_evented(client: TestClient) -> None:
    """Admins read and write the setting; a change is audited and logged."""
    assert [] == client.get("/api/v1/settings/incident-notify").json()["receivers"]
    set_receivers(client, "b-pd", "a-slack", "a-slack")
    found = client.get("/api/v1/settings/incident-notify").json()
    assert (["a-slack", "b-pd"], "bootstrap-admin") == (found["receivers"], found["updated_by"])
    changed = client.get("/api/v1/events", params={"kind": "settings.changed"}).json()["items"]
    assert [{"setting": "incident_notify", "old": [], "new": ["a-slack", "b-pd"]}] == [
        e["attributes"] for e in changed
    ]
    bad = client.put("/api/v1/settings/incident-notify", json={"receivers": ["Not Valid"]})
    assert 422 == bad.status_code
