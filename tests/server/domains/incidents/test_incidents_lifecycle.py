"""The incident lifecycle through the API: every allowed and refused transition, the
transition times, reopening, declaring, editing, roles, links, updates and tasks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from incidents_helpers import declare, event_kinds, get, move
from server_helpers import START

from reliant.server.domains.incidents import lifecycle
from reliant.testing import VirtualClock

STATES = ["triggered", "acknowledged", "mitigated", "resolved", "closed"]
#: The documented lifecycle: any later state, and resolved → triggered (reopen).
ALLOWED = {
    "triggered": ["acknowledged", "mitigated", "resolved", "closed"],
    "acknowledged": ["mitigated", "resolved", "closed"],
    "mitigated": ["resolved", "closed"],
    "resolved": ["closed", "triggered"],
    "closed": [],
}


def test_allowed_moves_are_the_documented_ones() -> None:
    """The pure lifecycle allows exactly the documented moves."""
    assert ALLOWED == {s: list(lifecycle.allowed(s)) for s in STATES}


@pytest.mark.parametrize("start", STATES)
def test_every_transition_from_a_state(client: TestClient, start: str) -> None:
    """From each state, every allowed move succeeds and every other one is a 409 that
    names the allowed moves."""
    for target in STATES:
        incident = declare(client)["id"]
        if start != "triggered":
            move(client, incident, start)
        if target in ALLOWED[start]:
            assert target == move(client, incident, target)["state"]
            continue
        problem = move(client, incident, target, status=409)
        assert (start, ALLOWED[start]) == (problem["state"], problem["allowed"])
        assert f"cannot become {target}" in problem["detail"]
        assert start == get(client, incident)["state"]


def test_transition_times_and_the_first_acknowledgement(
    client: TestClient, clock: VirtualClock
) -> None:
    """Each move stamps its time; a reopen clears mitigation and resolution but keeps the
    first acknowledgement; the transitions are listed with who made them."""
    incident = declare(client)["id"]
    clock.advance(60)
    move(client, incident, "acknowledged")
    clock.advance(60)
    move(client, incident, "resolved")
    clock.advance(60)
    reopened = move(client, incident, "triggered")
    assert (START + 60, None, None) == (
        reopened["acknowledged_at"],
        reopened["mitigated_at"],
        reopened["resolved_at"],
    )
    clock.advance(60)
    move(client, incident, "acknowledged")
    closed = move(client, incident, "closed")
    assert (START + 60, START + 240, START + 240) == (
        closed["acknowledged_at"],
        closed["resolved_at"],
        closed["closed_at"],
    )
    assert [
        ("triggered", "acknowledged"),
        ("acknowledged", "resolved"),
        ("resolved", "triggered"),
        ("triggered", "acknowledged"),
        ("acknowledged", "closed"),
    ] == [(t["from"], t["to"]) for t in closed["transitions"]]
    assert {"bootstrap-admin"} == {t["by"] for t in closed["transitions"]}
    assert [
        "incident.declared",
        "incident.acknowledged",
        "incident.resolved",
        "incident.reopened",
        "incident.acknowledged",
        "incident.closed",
    ] == event_kinds(client)


def test_skipping_to_resolved_leaves_it_unacknowledged(client: TestClient) -> None:
    """triggered → resolved is allowed and sets no acknowledgement time."""
    incident = declare(client)["id"]
    resolved = move(client, incident, "resolved")
    assert (None, START) == (resolved["acknowledged_at"], resolved["resolved_at"])


def test_declare_answers_the_whole_incident(client: TestClient) -> None:
    """A declared incident is triggered, with its services, SLOs, roles and next moves."""
    found = declare(
        client,
        title="Payments down",
        severity="SEV1",
        summary="card payments fail",
        services=["payments", "ledger", "payments"],
        slos=["payments-availability"],
        commander="alice",
    )
    assert {
        "title": "Payments down",
        "severity": "SEV1",
        "state": "triggered",
        "summary": "card payments fail",
        "services": ["ledger", "payments"],
        "slos": ["payments-availability"],
        "commander": "alice",
        "scribe": None,
        "allowed": ALLOWED["triggered"],
        "created_at": START,
        "created_by": "bootstrap-admin",
    } == {
        k: found[k]
        for k in (
            "title",
            "severity",
            "state",
            "summary",
            "services",
            "slos",
            "commander",
            "scribe",
            "allowed",
            "created_at",
            "created_by",
        )
    }


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "severity": "SEV9"}, "severity"),
        ({"title": "", "severity": "SEV1"}, "title"),
        ({"title": "x", "severity": "SEV1", "services": ["Not A Name"]}, "services"),
        ({"title": "x\x00", "severity": "SEV1"}, "title"),
        ({"title": "x", "severity": "SEV1", "alerts": ["0123456789abcdef"]}, "alerts"),
    ],
)
def test_bad_declarations_name_the_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    """Invalid bodies are 422 problems whose detail starts with the field's path."""
    response = client.post("/api/v1/incidents", json=body)
    assert 422 == response.status_code, response.text
    assert response.json()["detail"].startswith(f"body.{field}")


def test_unknown_incident_is_404(client: TestClient) -> None:
    """Reads and writes of a missing incident answer 404 saying how to list them."""
    assert 404 == client.get("/api/v1/incidents/99").status_code
    response = client.post("/api/v1/incidents/99/transition", json={"to": "closed"})
    assert (404, True) == (response.status_code, "GET /api/v1/incidents" in response.text)


def test_edit_roles_links_updates_and_tasks(client: TestClient, clock: VirtualClock) -> None:
    """Title and severity change; roles are given and taken back; services, SLOs and
    alerts link and unlink; updates and tasks are listed; each change is an event."""
    incident = declare(client)["id"]
    base = f"/api/v1/incidents/{incident}"
    assert "SEV1" == client.patch(base, json={"severity": "SEV1"}).json()["severity"]
    client.put(f"{base}/roles/commander", json={"person": "alice"})
    client.put(f"{base}/roles/scribe", json={"person": "bob"})
    found = client.put(f"{base}/roles/scribe", json={"person": None}).json()
    assert ("alice", None) == (found["commander"], found["scribe"])
    client.put(f"{base}/links/services/search")
    found = client.put(f"{base}/links/slos/search-latency").json()
    assert (["search"], ["search-latency"]) == (found["services"], found["slos"])
    assert 204 == client.delete(f"{base}/links/services/search").status_code
    assert 404 == client.delete(f"{base}/links/services/search").status_code
    assert 404 == client.put(f"{base}/links/alerts/0123456789abcdef").status_code
    assert 422 == client.put(f"{base}/links/alerts/not-a-fingerprint").status_code
    update = client.post(f"{base}/updates", json={"text": "rolled back", "notify": False})
    assert (201, "rolled back") == (update.status_code, update.json()["text"])
    task = client.post(f"{base}/tasks", json={"title": "add an alert", "due": "2027-02-01"})
    assert (201, "2027-02-01", False) == (
        task.status_code,
        task.json()["due"],
        task.json()["done"],
    )
    clock.advance(30)
    done = client.patch(f"{base}/tasks/{task.json()['id']}", json={"done": True, "owner": "carol"})
    assert (True, START + 30, "carol") == (
        done.json()["done"],
        done.json()["done_at"],
        done.json()["owner"],
    )
    found = get(client, incident)
    assert (["rolled back"], ["add an alert"]) == (
        [u["text"] for u in found["updates"]],
        [t["title"] for t in found["tasks"]],
    )
    assert [
        "incident.declared",
        "incident.edited",
        "incident.role_assigned",
        "incident.role_assigned",
        "incident.role_assigned",
        "incident.linked",
        "incident.linked",
        "incident.unlinked",
        "incident.updated",
        "incident.task_added",
        "incident.task_done",
    ] == event_kinds(client)


def test_list_filters_by_state_severity_and_service(client: TestClient) -> None:
    """The list is newest first and filters by state, severity and service; it pages."""
    first = declare(client, severity="SEV1", services=["payments"])["id"]
    second = declare(client, severity="SEV3", services=["search"])["id"]
    third = declare(client, severity="SEV3")["id"]
    move(client, second, "resolved")
    ids = lambda **p: [i["id"] for i in client.get("/api/v1/incidents", params=p).json()["items"]]  # noqa: E731
    assert [third, second, first] == ids()
    assert [third, first] == ids(state=["triggered"])
    assert [third, second] == ids(severity="SEV3")
    assert [first] == ids(service="payments")
    page = client.get("/api/v1/incidents", params={"limit": 2}).json()
    rest = client.get("/api/v1/incidents", params={"limit": 2, "cursor": page["next"]}).json()
    assert ([third, second], [first], None) == (
        [i["id"] for i in page["items"]],
        [i["id"] for i in rest["items"]],
        rest["next"],
    )
