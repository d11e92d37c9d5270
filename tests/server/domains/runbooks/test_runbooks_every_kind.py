"""One run with every step kind against real local targets.

An HTTP server on loopback, an allow-listed command, a service using the SDK (an
in-process ``reliant.connect`` agent following the config stream of the control plane
served on a real port) obeying SDK actions, wait-until on an SLO and on an operation's
error ratio, a manual step and an approval gate. Jobs tick on the virtual clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from runbooks_helpers import (
    EXECUTABLES,
    Driver,
    Target,
    an_incident,
    events,
    get_run,
    push,
    put,
    start,
    states,
    target,
    until,
)
from server_helpers import START, token_for

import reliant
from reliant import CircuitState
from reliant.testing import VirtualClock

#: Seconds the SDK has to obey a change of its config document.
OBEY_DEADLINE = 15.0


def wait_for_state(breaker: reliant.CircuitBreaker, state: CircuitState) -> None:
    """Poll the breaker until it is in ``state`` (readiness polling with a deadline)."""
    end = time.monotonic() + OBEY_DEADLINE
    while time.monotonic() < end:
        if breaker.state is state:
            return
        time.sleep(0.02)
    raise AssertionError(f"the breaker is {breaker.state}, not {state}")


@pytest.fixture
def loopback() -> Iterator[Target]:
    """The HTTP target."""
    with target() as found:
        yield found


@pytest.fixture
def served(app: FastAPI, client: TestClient) -> Iterator[LiveServer]:
    """The test control plane on a real port, for the SDK agent."""
    with LiveServer(app) as live:
        yield live


def test_a_run_with_every_step_kind(
    app: FastAPI,
    client: TestClient,
    clock: VirtualClock,
    served: LiveServer,
    loopback: Target,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """http, shell, sdk (obeyed by a real SDK), wait_until (SLO, telemetry), manual and
    approval steps run in order, each journaled with the run's service and incident."""
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", EXECUTABLES)
    breaker = reliant.CircuitBreaker(name="payments-db")
    agent = reliant.connect(
        served.url,
        token=token_for(client, "ingest", service="payments"),
        service="payments",
        flush_interval=0.5,
        poll_interval=0.5,
        watch=[breaker],
    )
    try:
        slo = {"service": "payments", "objective": 99.0, "sli": {"ratio": {"operation": "charge"}}}
        assert 201 == client.put("/api/v1/slos/payments-availability", json=slo).status_code
        start_bucket = int(START)
        push(
            client,
            "payments",
            [("charge", start_bucket - 600 + 10 * i, "success", 100) for i in range(60)],
        )
        push(
            client,
            "payments",
            [("refund", start_bucket - 300 + 10 * i, "failure", 1) for i in range(30)],
        )
        put(
            client,
            "mitigate",
            {
                "service": "payments",
                "parameters": [{"name": "region", "default": "eu"}],
                "steps": [
                    {"id": "probe", "kind": "http", "url": f"{loopback.url}/ok"},
                    {
                        "id": "say",
                        "kind": "shell",
                        "command": ["echo", "mitigating {{ params.region }}"],
                    },
                    {"id": "open", "kind": "sdk", "action": "force_open", "target": "payments-db"},
                    {
                        "id": "budget",
                        "kind": "wait_until",
                        "slo": "payments-availability",
                        "condition": "budget_remaining > 0.5",
                    },
                    {
                        "id": "calm",
                        "kind": "wait_until",
                        "operation": "refund",
                        "window": "5m",
                        "condition": "error_ratio < 0.1",
                        "interval": "10s",
                    },
                    {"id": "look", "kind": "manual", "instructions": "check the dashboard"},
                    {"id": "gate", "kind": "approval", "instructions": "close the breaker?"},
                    {"id": "close", "kind": "sdk", "action": "close", "target": "payments-db"},
                ],
            },
        )
        driver = Driver(app, clock)
        incident = an_incident(client)
        run = start(client, "mitigate", incident=incident)

        found = until(driver, client, run["id"], lambda r: r["steps"][4]["state"] == "polling")
        assert ["succeeded"] * 4 + ["polling", "pending", "pending", "pending"] == states(found)
        probe, say, opened, budget, calm = found["steps"][:5]
        assert probe["output"].startswith("HTTP 200 OK\nhealthy")
        assert [("GET", "/ok")] == [(s["method"], s["path"]) for s in loopback.seen]
        assert "mitigating eu\n" == say["output"]
        assert opened["output"].startswith("force_open payments-db of payments: set")
        wait_for_state(breaker, CircuitState.FORCED_OPEN)
        assert budget["output"].startswith(
            "budget_remaining = 1; waiting for budget_remaining > 0.5"
        )
        assert "error_ratio = 1; waiting for error_ratio < 0.1" == calm["output"]

        # The errors stop: 1000 good refunds; the next probe, 10 s later, finds the ratio low.
        push(client, "payments", [("refund", start_bucket, "success", 1000)])
        driver.tick()  # not due yet: nothing happens
        assert "polling" == get_run(client, run["id"])["steps"][4]["state"]
        clock.advance(10)
        found = driver.settle(client, run["id"])
        assert ("waiting", "look", "manual") == (
            found["state"],
            found["current"],
            found["steps"][5]["waiting_for"],
        )
        assert found["steps"][4]["output"].startswith("error_ratio = 0.0281")

        done = client.post(
            f"/api/v1/runbook-runs/{run['id']}/steps/look/complete", json={"comment": "ok"}
        )
        assert ("succeeded", "completed by bootstrap-admin: ok") == (
            done.json()["steps"][5]["state"],
            done.json()["steps"][5]["output"],
        )
        found = driver.settle(client, run["id"])
        assert ("waiting", "gate", "approval") == (
            found["state"],
            found["current"],
            found["steps"][6]["waiting_for"],
        )
        client.post(f"/api/v1/runbook-runs/{run['id']}/approve", json={"step": "gate"})
        found = driver.settle(client, run["id"])
        assert ("succeeded", ["succeeded"] * 8) == (found["state"], states(found))
        wait_for_state(breaker, CircuitState.CLOSED)
    finally:
        agent.close()

    journal = [e for e in events(client) if e["attributes"].get("run") == run["id"]]
    assert {("payments", incident)} == {
        (e["service"], e["attributes"]["incident"]) for e in journal
    }
    kinds = [(e["kind"], e["attributes"].get("step")) for e in journal]
    steps = ["probe", "say", "open", "budget", "calm"]
    expected = [("runbook.run_started", None)]
    for step in steps:
        expected += [("runbook.step_started", step), ("runbook.step_finished", step)]
    expected += [
        ("runbook.waiting", "look"),
        ("runbook.step_finished", "look"),
        ("runbook.waiting", "gate"),
        ("runbook.approved", "gate"),
        ("runbook.step_finished", "gate"),
        ("runbook.step_started", "close"),
        ("runbook.step_finished", "close"),
        ("runbook.run_finished", None),
    ]
    assert expected == kinds
    # The SDK actions are audited and evented as the run, not as a person.
    changes = client.get("/api/v1/events", params={"kind": "config.changed"}).json()["items"]
    assert [f"runbook:{run['id']}"] * 2 == [e["source"] for e in changes]
    audited = client.get("/api/v1/audit", params={"actor": f"runbook:{run['id']}"}).json()["items"]
    assert ["override.remove", "override.set"] == [a["action"] for a in audited]
