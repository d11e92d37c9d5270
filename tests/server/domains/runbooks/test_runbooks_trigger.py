"""Auto-remediation: firing alerts start runbooks, within guardrails and the kill switch."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from runbooks_helpers import EXECUTABLES, Driver, events, get_run, put, runbook
from sqlalchemy import delete

from reliant.server.db import transaction
from reliant.server.domains.incidents import declare_from_alerts
from reliant.server.events import EventRow, append
from reliant.server.events.stream import GAP_GRACE
from reliant.testing import VirtualClock


@pytest.fixture(autouse=True)
def allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server allows the tests' executables."""
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", EXECUTABLES)


@pytest.fixture
def driver(app: FastAPI, clock: VirtualClock, client: TestClient) -> Driver:
    """The jobs, ticked by hand; the trigger's cursor starts now."""
    found = Driver(app, clock)
    found.triggers()
    return found


def remediation(**guardrails: Any) -> dict[str, Any]:
    """A runbook started by HighErrors alerts of payments, with a destructive step."""
    return runbook(
        {"kind": "shell", "command": ["echo", "restart {{ params.region }}"], "destructive": True},
        parameters=[{"name": "region", "required": True}],
        triggers=[
            {
                "matchers": ['alertname="HighErrors"', 'service=~"pay.*"'],
                "params": {"region": "{{ labels.region }}"},
            }
        ],
        guardrails=guardrails,
    )


def fire(client: TestClient, instance: str, alertname: str = "HighErrors") -> None:
    """An alert starts firing."""
    labels = {"alertname": alertname, "service": "payments", "region": "eu", "instance": instance}
    response = client.post("/api/v1/alerts", json=[{"labels": labels, "annotations": {}}])
    assert 200 == response.status_code, response.text


def runs(client: TestClient) -> list[dict[str, Any]]:
    """Every run, oldest first."""
    return list(reversed(client.get("/api/v1/runbook-runs").json()["items"]))


def skipped(client: TestClient) -> list[str]:
    """The reasons of the runs skipped, oldest first."""
    return [e["attributes"]["reason"] for e in events(client, "runbook.run_skipped")]


def test_a_firing_alert_starts_a_run(client: TestClient, driver: Driver) -> None:
    """A matching alert starts an automatic run with parameters from its labels; its
    destructive steps wait for approval; alerts that do not match start nothing."""
    put(client, "restart", remediation())
    fire(client, "a", alertname="Other")
    fire(client, "b")
    driver.triggers()
    [run] = runs(client)
    assert (True, "alert:HighErrors", "HighErrors", "payments") == (
        run["automatic"],
        run["created_by"],
        run["trigger"]["alertname"],
        run["service"],
    )
    found = driver.settle(client, run["id"])
    assert ("waiting", True, {"region": "eu"}) == (
        found["state"],
        found["steps"][0]["needs_approval"],
        found["params"],
    )
    client.post(f"/api/v1/runbook-runs/{run['id']}/approve")
    assert "restart eu\n" == driver.settle(client, run["id"])["steps"][0]["output"]
    driver.triggers()
    assert 1 == len(runs(client))


def test_guardrails_skip_runs_and_say_why(
    client: TestClient, driver: Driver, clock: VirtualClock
) -> None:
    """An active run, a cooldown and the hourly limit each skip an alert's run."""
    put(client, "restart", remediation(cooldown="10m", max_runs_per_hour=2))
    fire(client, "1")
    driver.triggers()
    [first] = runs(client)
    fire(client, "2")
    driver.triggers()
    client.post(f"/api/v1/runbook-runs/{first['id']}/cancel")
    fire(client, "3")
    driver.triggers()
    clock.advance(600)
    fire(client, "4")
    driver.triggers()
    second = runs(client)[-1]
    client.post(f"/api/v1/runbook-runs/{second['id']}/cancel")
    clock.advance(600)
    fire(client, "5")
    driver.triggers()
    assert 2 == len(runs(client))
    assert [
        f"automatic run {first['id']} of this runbook is still pending",
        f"cooling down after run {first['id']}: 600s of 10m left",
        "2 automatic runs started in the last hour (max_runs_per_hour: 2)",
    ] == skipped(client)
    skip = events(client, "runbook.run_skipped")[0]
    assert ("payments", "restart", "HighErrors", "warning") == (
        skip["service"],
        skip["attributes"]["runbook"],
        skip["attributes"]["alert"]["alertname"],
        skip["severity"],
    )


def test_the_kill_switch_stops_automatic_runs(client: TestClient, driver: Driver) -> None:
    """With automation off, alerts start no run; a skip event says so."""
    put(client, "restart", remediation())
    client.put("/api/v1/settings/runbooks", json={"enabled": False})
    fire(client, "1")
    driver.triggers()
    assert [] == runs(client)
    assert ["automatic runs are switched off (the runbooks kill switch)"] == skipped(client)
    client.put("/api/v1/settings/runbooks", json={"enabled": True})
    fire(client, "2")
    driver.triggers()
    assert 1 == len(runs(client))


def test_a_run_that_cannot_start_is_skipped(
    client: TestClient, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An executable taken off the allow-list since the runbook was written skips the run."""
    put(client, "restart", remediation())
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", "sleep")
    fire(client, "1")
    driver.triggers()
    [reason] = skipped(client)
    assert reason.startswith("cannot start: runbook 'restart': steps[0].command[0]: 'echo' is not")


def test_the_cursor_waits_for_a_missing_id(
    app: FastAPI, client: TestClient, driver: Driver, clock: VirtualClock
) -> None:
    """An event id missing (a transaction that may still commit) holds the cursor back for
    the gap grace; then the events after it are handled."""
    put(client, "restart", remediation())
    with transaction(app.state.sessions) as session:
        hole = append(session, kind="test.placeholder", now=clock.now()).id
    fire(client, "1")
    with transaction(app.state.sessions) as session:
        session.execute(delete(EventRow).where(EventRow.id == hole))
    driver.triggers()
    assert [] == runs(client)
    clock.advance(GAP_GRACE)
    driver.triggers()
    assert 1 == len(runs(client))


def test_a_triggered_run_waits_for_approval_of_destructive_steps_always(
    client: TestClient, driver: Driver
) -> None:
    """Automatic runs never skip the approval of destructive steps."""
    put(client, "restart", remediation())
    fire(client, "1")
    driver.triggers()
    [run] = runs(client)
    found = get_run(client, run["id"])
    assert (False, [True]) == (
        found["approve_destructive"],
        [s["needs_approval"] for s in found["steps"]],
    )


@pytest.mark.parametrize("declared_first", [True, False], ids=["declared-first", "triggered-first"])
def test_an_automatic_run_joins_the_incident_of_its_alert(
    app: FastAPI, clock: VirtualClock, client: TestClient, driver: Driver, declared_first: bool
) -> None:
    """Whichever job handles the alert first, the run belongs to the incident the alert
    opened, and its journal is on that incident's timeline although the runbook acts on
    another service (payments) than the incident's (storefront)."""
    rule = {"matchers": ['alertname="ChargesFailing"'], "severity": "SEV2"}
    assert 201 == client.put("/api/v1/incident-rules/pages", json=rule).status_code
    triggers = [{"matchers": ['alertname="ChargesFailing"']}]
    put(
        client,
        "failover",
        runbook({"kind": "shell", "command": ["echo", "failover"]}, triggers=triggers),
    )
    labels = {"alertname": "ChargesFailing", "service": "storefront"}
    assert 200 == client.post("/api/v1/alerts", json=[{"labels": labels}]).status_code

    def declare_pass() -> None:
        with transaction(app.state.sessions) as session:
            declare_from_alerts(session, clock.now())

    if declared_first:
        declare_pass()
        driver.triggers()
    else:
        driver.triggers()
        [run] = runs(client)
        assert run["incident"] is None  # no incident yet
        driver.settle(client, run["id"])
        declare_pass()
        driver.triggers()  # the next pass adopts the run
    [run] = runs(client)
    [incident] = client.get("/api/v1/incidents").json()["items"]
    assert (incident["id"], ["storefront"]) == (run["incident"], incident["services"])
    driver.settle(client, run["id"])
    entries = client.get(f"/api/v1/incidents/{incident['id']}/timeline", params={"limit": 500})
    kinds = [e["kind"] for e in entries.json()["items"]]
    assert {"runbook.run_started", "runbook.step_finished", "runbook.run_finished"} <= set(kinds)
    listed = client.get("/api/v1/runbook-runs", params={"incident": incident["id"]}).json()
    assert [run["id"]] == [r["id"] for r in listed["items"]]
