"""Reading a service's status from the event log, telemetry and overrides (both stores)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import START
from web_helpers import add_event, add_service, add_telemetry, breaker_changed

from reliant.server.web.health import Health
from reliant.server.web.status import ServiceStatus, status, statuses


def _status(app: FastAPI, name: str, now: float) -> ServiceStatus:
    with app.state.sessions() as session:
        return status(session, name, now=now)


def test_a_quiet_service_has_unknown_health(client: TestClient, app: FastAPI) -> None:
    """Created but never reporting: no recent data (service.created does not count)."""
    add_service(client, "quiet")
    state = _status(app, "quiet", START)
    assert Health("unknown", "no recent data") == state.health
    assert (0, 0, None, []) == (state.warnings, state.errors, state.last_event_at, state.policies)


def test_telemetry_gives_the_error_ratio_and_health(client: TestClient, app: FastAPI) -> None:
    """Calls in the last 5 minutes: their error ratio decides the level."""
    add_service(client, "api")
    add_telemetry(client, "api", bucket=int(START) - 60, ok=90, failed=10)
    state = _status(app, "api", START)
    assert (100, 10, 0.1) == (
        state.summary.requests,
        state.summary.errors,
        state.summary.error_ratio,
    )
    assert Health("critical", "10.0% errors", ("10.0% errors",)) == state.health


def test_breaker_reports_and_overrides_make_the_policies(client: TestClient, app: FastAPI) -> None:
    """The last breaker report and an operator's override meet in one policy state."""
    add_service(client, "api")
    breaker_changed(client, "api", "db", "open", time=START - 30)
    breaker_changed(client, "api", "db", "half_open", time=START - 10)
    response = client.put("/api/v1/services/api/overrides/faults/slow", json={"enabled": True})
    assert 200 == response.status_code, response.text
    state = _status(app, "api", START)
    assert [("breaker", "db", "half_open"), ("fault", "slow", None)] == [
        (p.kind, p.name, p.reported) for p in state.policies
    ]
    assert {"enabled": True} == state.policies[1].override
    assert "warning" == state.health.level
    assert ("breaker db half open", "fault slow on", "1 warning") == state.health.reasons


def test_severity_counts_cover_the_last_five_minutes(client: TestClient, app: FastAPI) -> None:
    """Warnings and errors older than the window drop out of the counts."""
    add_service(client, "api")
    add_event(client, "retry.exhausted", service="api", severity="error", time=START - 400)
    add_event(client, "timeout.exceeded", service="api", severity="warning", time=START - 100)
    add_event(client, "deploy.finished", service="api", time=START - 50)
    state = _status(app, "api", START)
    assert (1, 0, START - 50) == (state.warnings, state.errors, state.last_event_at)


def test_statuses_keep_the_order_asked(client: TestClient, app: FastAPI) -> None:
    """statuses() answers one status per name, in the order given; none for none."""
    for name in ("b", "a"):
        add_service(client, name)
    with app.state.sessions() as session:
        assert ["b", "a"] == [s.name for s in statuses(session, ["b", "a"], now=START)]
        assert [] == statuses(session, [], now=START)
