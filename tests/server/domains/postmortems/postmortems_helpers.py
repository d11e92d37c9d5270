"""Helpers of the postmortem tests: an incident with a linked SLO, alert and telemetry."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import START

from reliant.agent.protocol import INGEST_PATH, LATENCY_BOUNDS
from reliant.server.db import transaction
from reliant.server.domains.postmortems import require_postmortems
from reliant.testing import VirtualClock

SERVICE = "checkout"
OPERATION = "charge"
SLO = "checkout-availability"
#: The impact start: 2027-01-15 08:00:00 UTC, a Friday.
T0 = int(START)
_FAST = LATENCY_BOUNDS.index(0.1)


def put_slo(client: TestClient, name: str = SLO, objective: float = 99.0) -> None:
    """A ratio SLO of checkout's charge over 30 rolling days."""
    body = {"service": SERVICE, "objective": objective, "sli": {"ratio": {"operation": OPERATION}}}
    response = client.put(f"/api/v1/slos/{name}", json=body)
    assert response.status_code in (200, 201), response.text


def _point(bucket: int, outcome: str, count: int) -> dict[str, Any]:
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    histogram[_FAST] = count
    return {
        "operation": OPERATION,
        "outcome": outcome,
        "bucket": bucket,
        "count": count,
        "sum": 0.05 * count,
        "histogram": histogram,
    }


def steady(start: int, end: int, *, good: int, bad: int = 0) -> list[dict[str, Any]]:
    """Every 10 s bucket of ``[start, end)``: ``good`` successes and ``bad`` failures."""
    points = []
    for bucket in range(start, end, 10):
        points.append(_point(bucket, "success", good))
        if bad:
            points.append(_point(bucket, "failure", bad))
    return points


def push(client: TestClient, points: Iterable[dict[str, Any]]) -> None:
    """Send telemetry through the real ingest endpoint, as an SDK does."""
    pending = list(points)
    for i in range(0, len(pending), 4000):
        body = {
            "protocol": 1,
            "service": SERVICE,
            "instance": "test:1",
            "sdk": "0.1.0",
            "sent_at": START,
            "dropped": 0,
            "telemetry": pending[i : i + 4000],
            "events": [],
        }
        response = client.post(
            INGEST_PATH,
            content=gzip.compress(json.dumps(body).encode()),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert 202 == response.status_code, response.text


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def fire(client: TestClient, clock: VirtualClock) -> str:
    """Fire the CheckoutErrors alert now; its fingerprint."""
    alert = {
        "labels": {"alertname": "CheckoutErrors", "service": SERVICE, "severity": "page"},
        "annotations": {"summary": "charge fails"},
        "endsAt": _rfc3339(clock.now() + 7200),
    }
    response = client.post("/api/v1/alerts", json=[alert])
    assert 200 == response.status_code, response.text
    return str(response.json()["fingerprints"][0])


def declare(client: TestClient, **body: Any) -> int:
    """Declare an incident (SEV2 of checkout by default); its number."""
    body.setdefault("title", "Checkout errors")
    body.setdefault("severity", "SEV2")
    body.setdefault("services", [SERVICE])
    response = client.post("/api/v1/incidents", json=body)
    assert 201 == response.status_code, response.text
    return int(response.json()["id"])


def move(client: TestClient, incident: int, to: str) -> None:
    """Move an incident."""
    response = client.post(f"/api/v1/incidents/{incident}/transition", json={"to": to})
    assert 200 == response.status_code, response.text


def generate(client: TestClient, incident: int, status: int = 201) -> dict[str, Any]:
    """Generate an incident's postmortem, expecting ``status``."""
    response = client.post(f"/api/v1/incidents/{incident}/postmortem")
    assert status == response.status_code, response.text
    return dict(response.json())


def get(client: TestClient, postmortem: int) -> dict[str, Any]:
    """One postmortem."""
    response = client.get(f"/api/v1/postmortems/{postmortem}")
    assert 200 == response.status_code, response.text
    return dict(response.json())


def the_incident(
    client: TestClient, clock: VirtualClock, *, bad: int = 2, before: int = 5400, **body: Any
) -> int:
    """The worked example, resolved: traffic of 100 calls per 10 s from T0 - ``before`` s
    (1.5 h) to T0 + 1 h, ``bad`` of them failing per 10 s during ``[T0, T0 + 30 min)``; the
    alert fires at T0; declared T0 + 2 min, acknowledged + 5 min, mitigated + 15 min,
    resolved + 30 min. The clock ends at T0 + 1 h.

    With a 99 % objective the budget consumed is ``180 * bad / (before / 10 + 180)``.
    """
    put_slo(client)
    clock.advance(T0 - clock.now())
    fingerprint = fire(client, clock)
    clock.advance(120)
    incident = declare(client, alerts=[fingerprint], slos=[SLO], **body)
    for at, state in ((300, "acknowledged"), (900, "mitigated"), (1800, "resolved")):
        clock.advance(T0 + at - clock.now())
        move(client, incident, state)
    clock.advance(T0 + 3600 - clock.now())
    push(
        client,
        steady(T0 - before, T0, good=100)
        + steady(T0, T0 + 1800, good=100 - bad, bad=bad)
        + steady(T0 + 1800, T0 + 3600, good=100),
    )
    return incident


def run_require(app: FastAPI, clock: VirtualClock) -> int:
    """One pass of the ``postmortems.require`` job now."""
    with transaction(app.state.sessions) as session:
        return require_postmortems(session, clock.now())


def events(client: TestClient, prefix: str = "postmortem.") -> list[dict[str, Any]]:
    """The events whose kind starts with ``prefix``, oldest first."""
    response = client.get("/api/v1/events", params={"limit": 500, "kind": f"{prefix}*"})
    assert 200 == response.status_code, response.text
    return list(reversed(response.json()["items"]))
