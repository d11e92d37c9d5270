"""Driving on-call in tests: schedules, policies, alerts routed to them, the job runner.

``Desk`` works on a test server (``app``, admin ``client``, virtual ``clock``): it declares
schedules and policies through the API, routes alerts with ``team="payments"`` to a policy,
reports alerts as the SLO evaluator would, and ticks the app's own job runner with the
clock advanced — ``alerts.dispatch``, ``oncall.escalate`` and the rest, as a server runs
them. Receivers are not created: notifications stay in the outbox to be inspected (the
delivery job turns them into dead letters without any network call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import START
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.db import transaction
from reliant.server.domains import alerts
from reliant.server.domains.notify.models import NotificationRow
from reliant.server.events import EventRow
from reliant.testing import VirtualClock

POLICY = "payments-escalation"
SCHEDULE = "payments-primary"
#: The labels of the tests' alert: routed to ``POLICY`` by ``team="payments"``.
LABELS = {"alertname": "PaymentsDown", "severity": "page", "team": "payments", "service": "pay"}
#: The rotation's start: START (2027-01-15 08:00 UTC) is within alice's first day.
ROTATION_START = "2027-01-15T00:00"


def schedule(**changes: Any) -> dict[str, Any]:
    """alice then bob, one day each from 2027-01-15 00:00 UTC."""
    body: dict[str, Any] = {
        "timezone": "UTC",
        "rotations": [
            {
                "name": "primary",
                "members": ["alice", "bob"],
                "start": ROTATION_START,
                "shift": "1d",
            }
        ],
    }
    body.update(changes)
    return body


def policy(**changes: Any) -> dict[str, Any]:
    """Level 1: the member on call on ``SCHEDULE``; level 2: receiver ``manager``; 5 m each."""
    body: dict[str, Any] = {
        "levels": [
            {"targets": [{"schedule": SCHEDULE}], "timeout": "5m"},
            {"targets": [{"receiver": "manager"}], "timeout": "5m"},
        ]
    }
    body.update(changes)
    return body


def document(receiver: str = POLICY) -> dict[str, Any]:
    """A routing document: ``team="payments"`` to ``receiver``, no group wait."""
    return {
        "route": {
            "receiver": "default",
            "group_by": ["alertname"],
            "group_wait": "0s",
            "group_interval": "10s",
            "repeat_interval": "4h",
            "routes": [{"matchers": ['team="payments"'], "receiver": receiver}],
        },
        "receivers": [{"name": "default"}, {"name": receiver}],
    }


def put(client: TestClient, path: str, body: dict[str, Any], status: int = 201) -> Any:
    """PUT ``body`` to ``/api/v1/oncall/<path>`` and check the status."""
    response = client.put(f"/api/v1/oncall/{path}", json=body)
    assert status == response.status_code, response.text
    return response.json()


@dataclass
class Desk:
    """A test server's on-call machinery on the virtual clock."""

    app: FastAPI
    client: TestClient
    clock: VirtualClock

    def setup(self, *, schedule_body: Any = None, policy_body: Any = None) -> None:
        """Declare the schedule, the policy and the routing document."""
        put(self.client, f"schedules/{SCHEDULE}", schedule_body or schedule())
        put(self.client, f"policies/{POLICY}", policy_body or policy())
        answer = self.client.put("/api/v1/alerting/config", json=document())
        assert 200 == answer.status_code, answer.text

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction on the app's store."""
        with transaction(self.app.state.sessions) as session:
            yield session

    def report(self, active: bool = True, labels: dict[str, str] | None = None) -> None:
        """Report the alert now, firing (for a day unless reported again) or resolved."""
        now = self.clock.now()
        with self.session() as s:
            alerts.report(
                s,
                labels=labels or LABELS,
                annotations={"summary": "payments are failing"},
                active=active,
                now=now,
                source="test",
                ends_at=now + 86400 if active else None,
            )

    def run(self, seconds: float, step: float = 5.0) -> None:
        """Tick the job runner every ``step`` seconds for ``seconds``."""
        end = self.clock.now() + seconds
        while self.clock.now() < end:
            self.clock.advance(min(step, end - self.clock.now()))
            self.app.state.jobs.tick()

    def run_until(self, done: Callable[[], bool], *, within: float, step: float = 5.0) -> float:
        """Tick every ``step`` seconds until ``done()``; the time, from START, it became true."""
        end = self.clock.now() + within
        while self.clock.now() < end:
            self.clock.advance(step)
            self.app.state.jobs.tick()
            if done():
                return self.clock.now() - START
        raise AssertionError(f"not done within {within} s of virtual time")

    def outbox(self) -> list[tuple[str, str, str]]:
        """Every notification queued so far: (receiver, dedup key, status), in order."""
        with self.session() as s:
            rows = s.scalars(select(NotificationRow).order_by(NotificationRow.id))
            return [(r.receiver, r.dedup_key, r.status) for r in rows]

    def payloads(self) -> list[dict[str, Any]]:
        """Every notification's stored payload, in order."""
        with self.session() as s:
            rows = s.scalars(select(NotificationRow).order_by(NotificationRow.id))
            return [dict(r.payload) for r in rows]

    def pages(self) -> list[dict[str, Any]]:
        """Every page, oldest first, as the API shows them."""
        answer = self.client.get("/api/v1/oncall/pages")
        assert 200 == answer.status_code, answer.text
        return list(reversed(answer.json()["items"]))

    def page(self, page_id: int = 1) -> dict[str, Any]:
        """One page as the API shows it."""
        answer = self.client.get(f"/api/v1/oncall/pages/{page_id}")
        assert 200 == answer.status_code, answer.text
        return dict(answer.json())

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The attributes of every event of ``kind``, oldest first."""
        with self.session() as s:
            rows = s.scalars(select(EventRow).where(EventRow.kind == kind).order_by(EventRow.id))
            return [dict(r.attributes) | {"time": r.time, "source": r.source} for r in rows]
