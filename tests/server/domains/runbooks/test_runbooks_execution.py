"""How runs execute: failure handling, caps, timeouts, gates, cancellation, the kill switch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from runbooks_helpers import (
    EXECUTABLES,
    Driver,
    Target,
    events,
    get_run,
    put,
    runbook,
    start,
    states,
    target,
    until,
)

from reliant.testing import VirtualClock


@pytest.fixture(autouse=True)
def allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server allows the tests' executables."""
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", EXECUTABLES)


@pytest.fixture
def loopback() -> Iterator[Target]:
    """The HTTP target."""
    with target() as found:
        yield found


@pytest.fixture
def driver(app: FastAPI, clock: VirtualClock, client: TestClient) -> Driver:
    """The jobs, ticked by hand."""
    return Driver(app, clock)


def test_on_failure_continue_goto_and_on_success_end(
    client: TestClient, driver: Driver, loopback: Target
) -> None:
    """continue goes on, goto skips to its step, end stops: the run succeeds with its
    failed steps listed."""
    put(
        client,
        "rb",
        runbook(
            {"kind": "http", "url": f"{loopback.url}/status/500", "on_failure": "continue"},
            {"kind": "shell", "command": ["false"], "on_failure": {"goto": "s4"}},
            {"kind": "shell", "command": ["echo", "never"]},
            {"kind": "http", "url": f"{loopback.url}/ok", "on_success": "end"},
            {"kind": "manual"},
        ),
    )
    found = driver.settle(client, start(client, "rb")["id"])
    assert ("succeeded", ["failed", "failed", "skipped", "succeeded", "skipped"]) == (
        found["state"],
        states(found),
    )
    assert ["s1", "s2"] == found["failed_steps"]
    assert ("status 500, expected any 2xx", "exit status 1") == (
        found["steps"][0]["error"],
        found["steps"][1]["error"],
    )
    assert found["steps"][0]["output"].startswith("HTTP 500 Internal Server Error\nas asked")


def test_abort_fails_the_run(client: TestClient, driver: Driver) -> None:
    """A failed step with the default on_failure (abort) fails the run; the rest is skipped."""
    put(client, "rb", runbook({"kind": "shell", "command": ["false"]}, {"kind": "manual"}))
    found = driver.settle(client, start(client, "rb")["id"])
    assert ("failed", "step 's1' failed: exit status 1", ["failed", "skipped"]) == (
        found["state"],
        found["error"],
        states(found),
    )
    finished = [e for e in events(client) if e["kind"] == "runbook.run_finished"]
    assert [("error", "failed", ["s1"])] == [
        (e["severity"], e["attributes"]["state"], e["attributes"]["failed_steps"]) for e in finished
    ]


def test_output_is_capped_at_64_kib(client: TestClient, driver: Driver, loopback: Target) -> None:
    """Output beyond 64 KiB is cut, saying how many bytes were; events carry 500 characters."""
    put(
        client,
        "rb",
        runbook(
            {"kind": "shell", "command": ["seq", "1", "30000"]},
            {"kind": "http", "url": f"{loopback.url}/big"},
        ),
    )
    found = driver.settle(client, start(client, "rb")["id"])
    total = len("".join(f"{i}\n" for i in range(1, 30001)))
    shell, http = found["steps"]
    assert shell["output"].endswith(f"\n… {total - 65536} bytes cut")
    assert 65536 == len(shell["output"].encode()) - len(f"\n… {total - 65536} bytes cut".encode())
    assert http["output"].endswith("\n… 34464 bytes cut")  # a 100 000-byte body - 64 KiB
    excerpts = [
        e["attributes"]["output"] for e in events(client) if e["kind"] == "runbook.step_finished"
    ]
    assert [500, 500] == [len(x) for x in excerpts]
    assert excerpts[0].endswith(" bytes cut")
    assert excerpts[0].startswith("…")


def test_a_command_is_killed_at_its_timeout(client: TestClient, driver: Driver) -> None:
    """A command running past its step's timeout is killed and the step fails."""
    put(client, "rb", runbook({"kind": "shell", "command": ["sleep", "30"], "timeout": "1s"}))
    found = driver.settle(client, start(client, "rb")["id"])
    assert ("failed", "timed out after 1s: the command was killed") == (
        found["steps"][0]["state"],
        found["steps"][0]["error"],
    )


def test_expected_statuses(client: TestClient, driver: Driver, loopback: Target) -> None:
    """expect_status lists the statuses that succeed; a refused connection fails."""
    put(
        client,
        "rb",
        runbook(
            {"kind": "http", "url": f"{loopback.url}/status/404", "expect_status": [404]},
            {"kind": "http", "method": "HEAD", "url": f"{loopback.url}/ok"},
            {"kind": "http", "url": "http://127.0.0.1:1/closed", "timeout": "2s"},
        ),
    )
    found = driver.settle(client, start(client, "rb")["id"])
    assert ["succeeded", "succeeded", "failed"] == states(found)
    assert found["steps"][2]["error"].startswith("ConnectError")


def test_destructive_steps_wait_for_an_approval(client: TestClient, driver: Driver) -> None:
    """A destructive step waits for approval; approved, it runs; a run started with
    approve_destructive runs it at once; a rejection fails it."""
    put(
        client,
        "rb",
        runbook(
            {"kind": "shell", "command": ["echo", "drop"], "destructive": True},
            {"kind": "shell", "command": ["echo", "after"]},
        ),
    )
    run = start(client, "rb")
    found = driver.settle(client, run["id"])
    assert ("waiting", "approval", True) == (
        found["state"],
        found["steps"][0]["waiting_for"],
        found["steps"][0]["needs_approval"],
    )
    waiting = [e for e in events(client) if e["kind"] == "runbook.waiting"]
    assert [("approval", True)] == [
        (e["attributes"]["for"], e["attributes"]["destructive"]) for e in waiting
    ]
    wrong = client.post(f"/api/v1/runbook-runs/{run['id']}/approve", json={"step": "s2"})
    assert (409, f"run {run['id']} waits at step 's1', not 's2'") == (
        wrong.status_code,
        wrong.json()["detail"],
    )
    approved = client.post(
        f"/api/v1/runbook-runs/{run['id']}/approve", json={"comment": "go"}
    ).json()
    assert ("running", "pending", "bootstrap-admin") == (
        approved["state"],
        approved["steps"][0]["state"],
        approved["steps"][0]["decided_by"],
    )
    found = driver.settle(client, run["id"])
    assert ("succeeded", "drop\n") == (found["state"], found["steps"][0]["output"])

    pre = start(client, "rb", approve_destructive=True)
    assert "succeeded" == driver.settle(client, pre["id"])["state"]

    rejected = start(client, "rb")
    driver.settle(client, rejected["id"])
    client.post(f"/api/v1/runbook-runs/{rejected['id']}/reject", json={"comment": "not now"})
    found = get_run(client, rejected["id"])
    assert ("failed", "rejected by bootstrap-admin: not now", ["failed", "skipped"]) == (
        found["state"],
        found["steps"][0]["error"],
        states(found),
    )
    not_waiting = client.post(f"/api/v1/runbook-runs/{rejected['id']}/approve")
    assert 409 == not_waiting.status_code


def test_a_manual_step_is_completed_by_a_person(client: TestClient, driver: Driver) -> None:
    """A manual step waits; completing another step, or approving it, is a conflict."""
    put(client, "rb", runbook({"kind": "manual", "instructions": "restart by hand"}))
    run = start(client, "rb")
    driver.settle(client, run["id"])
    assert 409 == client.post(f"/api/v1/runbook-runs/{run['id']}/steps/s9/complete").status_code
    assert 409 == client.post(f"/api/v1/runbook-runs/{run['id']}/approve").status_code
    client.post(f"/api/v1/runbook-runs/{run['id']}/steps/s1/complete")
    assert "succeeded" == get_run(client, run["id"])["state"]


def test_cancel_kills_a_running_command(client: TestClient, driver: Driver) -> None:
    """Cancelling a run whose command runs kills the command; the run ends cancelled."""
    put(client, "rb", runbook({"kind": "shell", "command": ["sleep", "60"], "timeout": "2m"}))
    run = start(client, "rb")
    driver.start_tick()
    assert "running" == get_run(client, run["id"])["steps"][0]["state"]
    client.post(f"/api/v1/runbook-runs/{run['id']}/cancel")
    assert driver.executor.drain(20.0)
    found = get_run(client, run["id"])
    assert ("cancelled", "cancelled", None) == (
        found["state"],
        found["steps"][0]["state"],
        found["steps"][0]["output"],
    )


def test_the_kill_switch_pauses_new_steps(client: TestClient, driver: Driver) -> None:
    """With automation off, no new step starts; switched on again, the run resumes."""
    put(
        client,
        "rb",
        runbook(
            {"kind": "shell", "command": ["echo", "a"]}, {"kind": "shell", "command": ["echo", "b"]}
        ),
    )
    run = start(client, "rb")
    client.put("/api/v1/settings/runbooks", json={"enabled": False})
    for _ in range(3):
        driver.tick()
    found = get_run(client, run["id"])
    assert ("pending", ["pending", "pending"], True) == (
        found["state"],
        states(found),
        found["paused"],
    )
    client.put("/api/v1/settings/runbooks", json={"enabled": True})
    assert "succeeded" == driver.settle(client, run["id"])["state"]


def test_wait_until_times_out_or_fails_at_once(
    client: TestClient, driver: Driver, clock: VirtualClock, loopback: Target
) -> None:
    """A condition never met fails the step at its timeout; an unknown SLO at once; a URL
    is met by its status and body."""
    put(
        client,
        "rb",
        runbook(
            {"kind": "wait_until", "url": f"{loopback.url}/ok", "body_contains": "healthy"},
            {
                "kind": "wait_until",
                "operation": "charge",
                "condition": "requests > 0",
                "timeout": "30s",
                "interval": "10s",
                "on_failure": "continue",
            },
            {"kind": "wait_until", "slo": "nope", "condition": "burn_rate_1h < 1"},
        ),
    )
    run = start(client, "rb")
    found = until(driver, client, run["id"], lambda r: r["steps"][1]["state"] == "polling")
    assert "succeeded" == found["steps"][0]["state"]
    for _ in range(3):
        clock.advance(10)
        driver.tick()
    found = driver.settle(client, run["id"])
    assert (
        "failed",
        "not met within 30s: requests = 0; waiting for requests > 0",
        "failed",
        "no SLO named 'nope'",
    ) == (
        found["steps"][1]["state"],
        found["steps"][1]["error"],
        found["steps"][2]["state"],
        found["steps"][2]["error"],
    )


def test_a_runbook_change_does_not_touch_active_runs(client: TestClient, driver: Driver) -> None:
    """A run keeps the runbook as it was when it started, even when it is deleted."""
    put(client, "rb", runbook({"kind": "shell", "command": ["echo", "old"]}))
    run = start(client, "rb")
    put(client, "rb", runbook({"kind": "shell", "command": ["echo", "new"]}), status=200)
    client.delete("/api/v1/runbooks/rb")
    found = driver.settle(client, run["id"])
    assert ("succeeded", "old\n") == (found["state"], found["steps"][0]["output"])
