"""Building SLOs and synthetic telemetry for the SLO tests, and recording alert reports."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import START
from sqlalchemy.orm import Session

from reliant.agent.protocol import INGEST_PATH, LATENCY_BOUNDS
from reliant.server.db import transaction
from reliant.server.domains.slo import Cycle, evaluate_all

SERVICE = "checkout"
OPERATION = "charge"
#: The first bucket of the tests' traffic: 2027-01-15 08:00:00 UTC, a multiple of 60 s.
T0 = int(START)
#: Points per ingest request (well under the 4 MiB body limit).
BATCH = 4000
#: Index of the 100 ms bound: calls recorded there are fast, those in the last slow.
FAST = LATENCY_BOUNDS.index(0.1)
SLOW = len(LATENCY_BOUNDS)


def slo(**changes: Any) -> dict[str, Any]:
    """A 99.9% availability SLO of ``checkout``'s ``charge`` over 30 rolling days."""
    body: dict[str, Any] = {
        "service": SERVICE,
        "objective": 99.9,
        "sli": {"ratio": {"operation": OPERATION}},
    }
    body.update(changes)
    return body


def put(client: TestClient, name: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    """PUT an SLO and return the answer, checking its status."""
    response = client.put(f"/api/v1/slos/{name}", json=body)
    assert status == response.status_code, response.text
    return dict(response.json())


def point(bucket: int, outcome: str, count: int, *, index: int = FAST) -> dict[str, Any]:
    """One telemetry point: ``count`` calls of ``charge`` in the histogram bucket ``index``."""
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    histogram[index] = count
    return {
        "operation": OPERATION,
        "outcome": outcome,
        "bucket": bucket,
        "count": count,
        "sum": 0.05 * count,
        "histogram": histogram,
    }


def steady(
    start: int, end: int, *, good: int, bad: int = 0, every: int = 10, outcome: str = "failure"
) -> list[dict[str, Any]]:
    """Every ``every`` seconds in ``[start, end)``: ``good`` successes and ``bad`` errors."""
    points = []
    for bucket in range(start, end, every):
        if good:
            points.append(point(bucket, "success", good))
        if bad:
            points.append(point(bucket, outcome, bad))
    return points


def push(client: TestClient, points: Iterable[dict[str, Any]], service: str = SERVICE) -> None:
    """Send points through the real ingest endpoint, as an SDK does (gzip batches)."""
    pending = list(points)
    for i in range(0, len(pending), BATCH):
        body = {
            "protocol": 1,
            "service": service,
            "instance": "test:1",
            "sdk": "0.1.0",
            "sent_at": START,
            "dropped": 0,
            "telemetry": pending[i : i + BATCH],
            "events": [],
        }
        response = client.post(
            INGEST_PATH,
            content=gzip.compress(json.dumps(body).encode()),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert 202 == response.status_code, response.text


@dataclass
class Reports:
    """A stand-in for the alerts facade's ``report``: keeps every call."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, session: Session, **kwargs: Any) -> None:
        assert isinstance(session, Session)
        self.calls.append(kwargs)

    def active(self, severity: str) -> list[bool]:
        """The ``active`` flag of each report of ``severity``, in order."""
        return [c["active"] for c in self.calls if c["labels"]["severity"] == severity]


def evaluate(app: FastAPI, now: float, reports: Reports | None = None) -> Cycle:
    """One evaluation cycle at ``now``, committed."""
    with transaction(app.state.sessions) as session:
        return evaluate_all(session, now, report=reports or Reports())


def status(client: TestClient, name: str) -> dict[str, Any]:
    """GET an SLO's status."""
    response = client.get(f"/api/v1/slos/{name}/status")
    assert 200 == response.status_code, response.text
    return dict(response.json())


def events(client: TestClient, kind: str) -> list[dict[str, Any]]:
    """The events of ``kind``, oldest first."""
    response = client.get("/api/v1/events", params={"kind": kind, "limit": 500})
    assert 200 == response.status_code, response.text
    return list(reversed(response.json()["items"]))
