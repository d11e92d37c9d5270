"""Retention: an admin setting shared by replicas, and a job pruning in bounded batches."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import START, bearer, token_for
from sqlalchemy import select

from reliant.server.db import transaction
from reliant.server.events import EventRow, append
from reliant.server.events.jobs import PRUNE_INTERVAL, PRUNE_JOB
from reliant.server.events.retention import prune
from reliant.server.jobs import JobRunner
from reliant.server.settings import DEFAULT_EVENT_RETENTION
from reliant.testing import VirtualClock

DAY = 86400.0


def stored(app: FastAPI) -> list[tuple[str, float]]:
    """(kind, time) of every stored event, oldest first."""
    with app.state.sessions() as session:
        return [(r.kind, r.time) for r in session.scalars(select(EventRow).order_by(EventRow.id))]


def add(app: FastAPI, *times: float) -> None:
    """Append one ``test.old`` event per time, received now."""
    with transaction(app.state.sessions) as session:
        for t in times:
            append(session, kind="test.old", now=START, time=t)


def test_default_retention_comes_from_settings(client: TestClient) -> None:
    """Until an admin sets one, the settings' retention is in force."""
    assert {
        "seconds": DEFAULT_EVENT_RETENTION,
        "default": DEFAULT_EVENT_RETENTION,
        "source": "default",
        "updated_at": None,
        "updated_by": None,
    } == client.get("/api/v1/settings/event-retention").json()


def test_admin_changes_retention_with_audit_and_event(client: TestClient) -> None:
    """PUT stores it, the audit log has before/after, and a settings.changed event is logged."""
    response = client.put("/api/v1/settings/event-retention", json={"seconds": 7 * DAY})
    assert (200, 7 * DAY, "runtime") == (
        response.status_code,
        response.json()["seconds"],
        response.json()["source"],
    )
    assert 7 * DAY == client.get("/api/v1/settings/event-retention").json()["seconds"]
    (record,) = client.get("/api/v1/audit", params={"target_kind": "setting"}).json()["items"]
    assert ("settings.update", "event_retention") == (record["action"], record["target_id"])
    assert (DEFAULT_EVENT_RETENTION, 7 * DAY) == (
        record["before"]["seconds"],
        record["after"]["seconds"],
    )
    (event,) = client.get("/api/v1/events", params={"kind": "settings.changed"}).json()["items"]
    expected = {"setting": "event_retention", "old": DEFAULT_EVENT_RETENTION, "new": 7 * DAY}
    assert expected == event["attributes"]


def test_retention_bounds_and_roles(client: TestClient) -> None:
    """Under an hour, or not a number, is 422; only admins read or change it."""
    for body in ({"seconds": 3599}, {"seconds": "a week"}, {}, {"seconds": 1e12}):
        response = client.put("/api/v1/settings/event-retention", json=body)
        assert 422 == response.status_code, body
    operator = bearer(token_for(client, "operator"))
    assert 403 == client.get("/api/v1/settings/event-retention", headers=operator).status_code
    response = client.put(
        "/api/v1/settings/event-retention", json={"seconds": 3600}, headers=operator
    )
    assert 403 == response.status_code
    assert "default" == client.get("/api/v1/settings/event-retention").json()["source"]


def test_job_prunes_old_events_and_logs_the_count(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """The job deletes events older than the runtime retention and appends events.pruned."""
    client.put("/api/v1/settings/event-retention", json={"seconds": DAY})
    add(app, START - 3 * DAY, START - 2 * DAY, START - 0.5 * DAY, START)
    runner: JobRunner = app.state.jobs
    assert PRUNE_JOB in runner.tick()
    kept = [k for k, _ in stored(app)]
    assert ["settings.changed", "test.old", "test.old", "events.pruned"] == kept
    (pruned,) = client.get("/api/v1/events", params={"kind": "events.pruned"}).json()["items"]
    assert {"count": 2, "before": START - DAY, "retention": DAY} == pruned["attributes"]
    clock.advance(PRUNE_INTERVAL)
    assert PRUNE_JOB in runner.tick()
    assert 4 == len(stored(app))


def test_job_follows_time(client: TestClient, app: FastAPI, clock: VirtualClock) -> None:
    """As the clock moves past the retention, the job prunes what became old."""
    add(app, START)
    runner: JobRunner = app.state.jobs
    runner.tick()
    assert ["test.old"] == [k for k, _ in stored(app)]
    add(app, START + 1)
    clock.advance(DEFAULT_EVENT_RETENTION + 1)
    runner.tick()
    assert ["test.old", "events.pruned"] == [k for k, _ in stored(app)]


def test_prune_is_bounded_per_run(app: FastAPI) -> None:
    """One run deletes at most `batch` events, oldest first; the next run goes on."""
    add(app, *(START - DAY - i for i in range(1, 8)), START)
    with transaction(app.state.sessions) as session:
        assert 3 == prune(session, now=START, seconds=DAY, batch=3)
    times = [START - t for k, t in stored(app) if k == "test.old"]
    assert [DAY + 1, DAY + 2, DAY + 3, DAY + 4, 0] == times
    with transaction(app.state.sessions) as session:
        assert 3 == prune(session, now=START, seconds=DAY, batch=3)
        assert 1 == prune(session, now=START, seconds=DAY, batch=3)
        assert 0 == prune(session, now=START, seconds=DAY, batch=3)


def test_prune_never_deletes_the_newest_event(app: FastAPI) -> None:
    """Even when every event is old, the newest stays, so ids never start over."""
    add(app, START - 10 * DAY, START - 9 * DAY)
    with transaction(app.state.sessions) as session:
        assert 1 == prune(session, now=START, seconds=DAY)
    assert [START - 9 * DAY, START] == [t for _, t in stored(app)]
    with app.state.sessions() as session:
        ids = list(session.scalars(select(EventRow.id).order_by(EventRow.id)))
    assert [2, 3] == ids
