"""Merging a duplicate incident into its primary."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from incidents_helpers import (
    PAGE_RULE,
    declare,
    fire,
    get,
    incidents,
    move,
    put_rule,
    resolve,
    run_declare,
    timeline,
)

from reliant.testing import VirtualClock


def merge(client: TestClient, duplicate: int, into: int, status: int = 200) -> dict[str, object]:
    """Merge, expecting ``status``; the answer."""
    response = client.post(f"/api/v1/incidents/{duplicate}/merge", json={"into": into})
    assert status == response.status_code, response.text
    return dict(response.json())


def test_merge_moves_everything_and_closes_the_duplicate(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """The duplicate is closed with merged_into; its alerts, services, SLOs, updates,
    tasks, notes and subscribers move to the primary, whose timeline shows its history."""
    put_rule(client, "pages", PAGE_RULE)
    fp = fire(client, clock, alertname="Down", severity="page", service="ledger")
    run_declare(app, clock)
    (duplicate,) = incidents(client)
    dup = duplicate["id"]
    client.put(f"/api/v1/incidents/{dup}/links/slos/ledger-availability")
    client.put(f"/api/v1/incidents/{dup}/subscribers", json={"receivers": ["slack-ops"]})
    client.post(f"/api/v1/incidents/{dup}/updates", json={"text": "ledger slow", "notify": False})
    client.post(f"/api/v1/incidents/{dup}/tasks", json={"title": "tune ledger"})
    note = client.post(f"/api/v1/incidents/{dup}/timeline", json={"text": "seen by bob"}).json()
    client.put(f"/api/v1/incidents/{dup}/timeline/{note['key']}/pin")
    primary = declare(client, services=["payments"])["id"]
    answer = merge(client, dup, primary)
    assert primary == answer["id"]
    assert {
        "services": ["ledger", "payments"],
        "slos": ["ledger-availability"],
        "alerts": [fp],
        "updates": ["ledger slow"],
        "tasks": ["tune ledger"],
        "subscribers": ["slack-ops"],
    } == {
        "services": answer["services"],
        "slos": answer["slos"],
        "alerts": [a["fingerprint"] for a in answer["alerts"]],  # type: ignore[index]
        "updates": [u["text"] for u in answer["updates"]],  # type: ignore[index]
        "tasks": [t["title"] for t in answer["tasks"]],  # type: ignore[index]
        "subscribers": answer["subscribers"],
    }
    closed = get(client, dup)
    assert ("closed", primary, [], True) == (
        closed["state"],
        closed["merged_into"],
        closed["alerts"],
        closed["resolved_at"] is not None,
    )
    kinds = [e["kind"] for e in timeline(client, primary)]
    assert {"alert.firing", "incident.declared", "incident.note_added", "incident.merged"} <= set(
        kinds
    )
    assert [note["key"]] == [e["key"] for e in timeline(client, primary, pinned="true")]


def test_a_firing_alert_after_the_merge_joins_the_primary(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """The duplicate's alert, now linked to the primary, resolves and fires again there
    (a primary declared by hand is not settled by its alerts)."""
    put_rule(client, "pages", PAGE_RULE)
    labels = {"alertname": "Down", "severity": "page", "service": "ledger"}
    fire(client, clock, **labels)
    run_declare(app, clock)
    (duplicate,) = incidents(client)
    primary = declare(client)["id"]
    merge(client, duplicate["id"], primary)
    clock.advance(30)
    resolve(client, clock, **labels)
    clock.advance(30)
    fire(client, clock, **labels)
    run_declare(app, clock)
    assert 2 == len(incidents(client))
    assert ("triggered", ["firing"]) == (
        get(client, primary)["state"],
        [a["state"] for a in get(client, primary)["alerts"]],
    )
    assert ["alert.firing", "alert.resolved", "alert.firing"] == [
        e["kind"] for e in timeline(client, primary) if e["kind"].startswith("alert.")
    ]


def test_merges_chain_and_refuse_closed_or_self(client: TestClient) -> None:
    """A merged incident's duplicates follow it to the next primary; merging into itself
    is 422, a closed duplicate or primary 409."""
    a, b, c = (declare(client, title=t)["id"] for t in ("a", "b", "c"))
    note = client.post(f"/api/v1/incidents/{a}/timeline", json={"text": "from a"}).json()
    merge(client, a, b)
    merge(client, b, c)
    assert c == get(client, a)["merged_into"]
    assert note["key"] in [e["key"] for e in timeline(client, c)]
    assert 422 == client.post(f"/api/v1/incidents/{c}/merge", json={"into": c}).status_code
    merge(client, a, c, status=409)
    d = declare(client)["id"]
    move(client, d, "closed")
    merge(client, c, d, status=409)
    merge(client, c, 999, status=404)
