"""Helpers shared by the incident tests: declare, move, fire alerts, run the declaring job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from reliant.server.db import transaction
from reliant.server.domains.incidents import declare_from_alerts
from reliant.server.domains.notify.models import NotificationRow
from reliant.testing import VirtualClock

#: A rule paging on severity="page" for payments and ledger, SEV from the severity label.
PAGE_RULE: dict[str, Any] = {
    "matchers": ['severity=~"page|ticket"', 'service=~"payments|ledger"'],
    "severity_from": {"label": "severity", "map": {"page": "SEV2", "ticket": "SEV4"}},
}


def declare(client: TestClient, **body: Any) -> dict[str, Any]:
    """Declare an incident by hand as the client; return it."""
    body.setdefault("title", "Checkout errors")
    body.setdefault("severity", "SEV2")
    response = client.post("/api/v1/incidents", json=body)
    assert 201 == response.status_code, response.text
    return dict(response.json())


def move(client: TestClient, incident: int, to: str, status: int = 200) -> dict[str, Any]:
    """Move an incident, expecting ``status``; return the answer."""
    response = client.post(f"/api/v1/incidents/{incident}/transition", json={"to": to})
    assert status == response.status_code, response.text
    return dict(response.json())


def get(client: TestClient, incident: int) -> dict[str, Any]:
    """One incident."""
    response = client.get(f"/api/v1/incidents/{incident}")
    assert 200 == response.status_code, response.text
    return dict(response.json())


def incidents(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every incident, newest first."""
    response = client.get("/api/v1/incidents", params={"limit": 500, **params})
    assert 200 == response.status_code, response.text
    return list(response.json()["items"])


def put_rule(client: TestClient, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Create or replace an incident rule."""
    response = client.put(f"/api/v1/incident-rules/{name}", json=spec)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def fire(client: TestClient, clock: VirtualClock, **labels: str) -> str:
    """Report a firing alert with ``labels`` (``summary`` becomes an annotation); return
    its fingerprint."""
    summary = labels.pop("summary", "")
    alert = {"labels": labels, "annotations": {"summary": summary} if summary else {}}
    alert["endsAt"] = _rfc3339(clock.now() + 3600)
    response = client.post("/api/v1/alerts", json=[alert])
    assert 200 == response.status_code, response.text
    return str(response.json()["fingerprints"][0])


def resolve(client: TestClient, clock: VirtualClock, **labels: str) -> None:
    """Report the alert with ``labels`` resolved now."""
    alert = {"labels": labels, "endsAt": _rfc3339(clock.now() - 0.001)}
    response = client.post("/api/v1/alerts", json=[alert])
    assert 200 == response.status_code, response.text


def run_declare(app: FastAPI, clock: VirtualClock) -> int:
    """One pass of the ``incidents.declare`` job now; how many alert events it handled."""
    with transaction(app.state.sessions) as session:
        return declare_from_alerts(session, clock.now())


def outbox(app: FastAPI) -> list[tuple[str, str, str, str]]:
    """``(receiver, dedup key, status, summary)`` of every queued notification, in order."""
    with transaction(app.state.sessions) as session:
        rows = session.scalars(select(NotificationRow).order_by(NotificationRow.id))
        return [
            (
                r.receiver,
                r.dedup_key,
                r.status,
                str(r.payload["common_annotations"].get("summary", "")),
            )
            for r in rows
        ]


def timeline(client: TestClient, incident: int, **params: Any) -> list[dict[str, Any]]:
    """Every entry of an incident's timeline, following the cursors."""
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 500, **params}
    while True:
        response = client.get(f"/api/v1/incidents/{incident}/timeline", params=query)
        assert 200 == response.status_code, response.text
        page = response.json()
        found += page["items"]
        if not page["next"]:
            return found
        query["cursor"] = page["next"]


def event_kinds(client: TestClient, prefix: str = "incident.") -> list[str]:
    """The kinds of the events starting with ``prefix``, oldest first."""
    response = client.get("/api/v1/events", params={"limit": 500, "kind": f"{prefix}*"})
    assert 200 == response.status_code, response.text
    return [e["kind"] for e in reversed(response.json()["items"])]
