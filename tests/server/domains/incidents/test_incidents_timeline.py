"""An incident's timeline: which events it shows, time order, manual entries, pins, pages."""

from __future__ import annotations

from fastapi.testclient import TestClient
from incidents_helpers import declare, move, timeline
from server_helpers import START

from reliant.testing import VirtualClock


def ingest(client: TestClient, *events: dict[str, object]) -> list[int]:
    """Append events through the API; their ids."""
    response = client.post("/api/v1/events", json={"events": list(events)})
    assert 202 == response.status_code, response.text
    return list(response.json()["ids"])


def test_entries_merge_events_and_notes_in_time_order(
    client: TestClient, clock: VirtualClock
) -> None:
    """The services' relevant events from 30 minutes before the declaration, the
    incident's own events and manual entries (at their own time), oldest first; other
    services, other kinds, earlier and later events are left out."""
    clock.advance(3600)
    now = clock.now()
    ingest(
        client,
        {"kind": "deploy.finished", "service": "payments", "time": now - 1801},
        {"kind": "deploy.finished", "service": "payments", "time": now - 1200},
        {
            "kind": "circuit_breaker.state_changed",
            "service": "payments",
            "time": now - 600,
            "attributes": {"name": "db", "from_state": "closed", "to_state": "open"},
        },
        {"kind": "config.changed", "service": "payments", "time": now - 300},
        {"kind": "retry.retrying", "service": "payments", "time": now - 200},
        {"kind": "deploy.finished", "service": "search", "time": now - 100},
    )
    incident = declare(client, services=["payments"])["id"]
    clock.advance(60)
    client.post(
        f"/api/v1/incidents/{incident}/timeline",
        json={"text": "customers report failures", "by": "support", "at": now - 900},
    )
    ingest(
        client,
        {
            "kind": "slo.burn_rate_high",
            "service": "payments",
            "attributes": {"slo": "pay", "severity": "page"},
        },
    )
    move(client, incident, "closed")
    clock.advance(60)
    ingest(client, {"kind": "deploy.finished", "service": "payments"})
    entries = timeline(client, incident)
    assert [
        ("event", "deploy.finished", now - 1200),
        ("note", "incident.note_added", now - 900),
        ("event", "circuit_breaker.state_changed", now - 600),
        ("event", "config.changed", now - 300),
        ("event", "incident.declared", now),
        ("event", "slo.burn_rate_high", now + 60),
        ("event", "incident.closed", now + 60),
    ] == [(e["type"], e["kind"], e["time"]) for e in entries]
    note = entries[1]
    assert ("customers report failures", "support") == (note["text"], note["by"])
    assert note["key"].startswith("note:")
    assert "breaker db: closed -> open" == entries[2]["text"]


def test_linking_a_service_brings_its_events(client: TestClient, clock: VirtualClock) -> None:
    """Services linked after the declaration add their events to the timeline."""
    incident = declare(client)["id"]
    ingest(client, {"kind": "deploy.started", "service": "ledger"})
    assert ["incident.declared"] == [e["kind"] for e in timeline(client, incident)]
    client.put(f"/api/v1/incidents/{incident}/links/services/ledger")
    assert ["incident.declared", "deploy.started", "incident.linked"] == [
        e["kind"] for e in timeline(client, incident)
    ]


def test_pins_filter_and_survive_reads(client: TestClient, clock: VirtualClock) -> None:
    """Entries pin and unpin by key; ?pinned=true lists the pinned ones; an entry not on
    the timeline is 404; a note's event is pinned by its note key only."""
    incident = declare(client, services=["payments"])["id"]
    (event_id,) = ingest(client, {"kind": "deploy.finished", "service": "payments"})
    note = client.post(f"/api/v1/incidents/{incident}/timeline", json={"text": "n"}).json()
    base = f"/api/v1/incidents/{incident}/timeline"
    assert {"key": f"event:{event_id}", "pinned": True} == client.put(
        f"{base}/event:{event_id}/pin"
    ).json()
    client.put(f"{base}/{note['key']}/pin")
    assert [f"event:{event_id}", note["key"]] == [
        e["key"] for e in timeline(client, incident, pinned="true")
    ]
    client.delete(f"{base}/event:{event_id}/pin")
    assert [note["key"]] == [e["key"] for e in timeline(client, incident, pinned="true")]
    assert ["incident.declared", "deploy.finished"] == [
        e["kind"] for e in timeline(client, incident, pinned="false")
    ]
    (other,) = ingest(client, {"kind": "deploy.finished", "service": "search"})
    assert 404 == client.put(f"{base}/event:{other}/pin").status_code
    assert 404 == client.put(f"{base}/event:{note['event_id']}/pin").status_code
    assert 422 == client.put(f"{base}/bogus/pin").status_code


def test_pages_follow_time_then_id(client: TestClient, clock: VirtualClock) -> None:
    """Pages of two entries walk the timeline without gaps or repeats, ties by id."""
    incident = declare(client, services=["payments"])["id"]
    ingest(
        client,
        *(
            {"kind": "deploy.step", "service": "payments", "time": START, "attributes": {"n": n}}
            for n in range(5)
        ),
    )
    base = f"/api/v1/incidents/{incident}/timeline"
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(base, params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += [e["key"] for e in page.json()["items"]]
        cursor = page.json()["next"]
        if cursor is None:
            break
    assert [e["key"] for e in timeline(client, incident)] == seen
    assert 6 == len(seen)
    assert 400 == client.get(base, params={"cursor": "eyJ0IjoiYSJ9"}).status_code


def test_runbook_entries_read_as_sentences() -> None:
    """Runbook events on a timeline say what happened in words, not raw attributes."""
    from reliant.server.domains.incidents.timeline import describe

    base = {"run": 7, "runbook": "restart-db", "step": "s2", "name": "restart"}
    cases = {
        "runbook.run_started": (
            {"started_by": "alice"},
            "runbook restart-db run #7 started by alice",
        ),
        "runbook.step_started": (
            {"kind": "shell"},
            "runbook restart-db run #7: step restart (shell) started",
        ),
        "runbook.waiting": (
            {"for": "approval"},
            "runbook restart-db run #7: step restart waits for approval",
        ),
        "runbook.approved": (
            {"by": "bob"},
            "runbook restart-db run #7: step restart approved by bob",
        ),
        "runbook.step_finished": (
            {"state": "failed", "error": "exit 3"},
            "runbook restart-db run #7: step restart failed: exit 3",
        ),
        "runbook.run_finished": ({"state": "succeeded"}, "runbook restart-db run #7 succeeded"),
        "runbook.run_skipped": (
            {"reason": "kill switch on"},
            "runbook restart-db not run: kill switch on",
        ),
    }
    for kind, (extra, expected) in cases.items():
        assert expected == describe({"kind": kind, "attributes": {**base, **extra}})


def test_on_call_pages_read_as_sentences() -> None:
    """Pages of the incident's services say who was notified, through which policy."""
    from reliant.server.domains.incidents.timeline import describe

    base = {"id": 3, "policy": "shop-escalation", "receivers": ["pager", "alice"]}
    cases = {
        "oncall.page.triggered": (
            {},
            "page #3 triggered through shop-escalation: notified pager, alice",
        ),
        "oncall.page.escalated": (
            {"level": 2},
            "page #3 escalated to level 2: notified pager, alice",
        ),
        "oncall.page.acknowledged": ({"by": "alice"}, "page #3 acknowledged by alice"),
        "oncall.page.resolved": ({"by": "alerts"}, "page #3 resolved by alerts"),
        "oncall.page.exhausted": ({}, "page #3: nobody acknowledged after every level"),
    }
    for kind, (extra, expected) in cases.items():
        assert expected == describe({"kind": kind, "attributes": {**base, **extra}})
