"""Steps claimed by a replica that died: retried when harmless, failed otherwise.

A claim made and never run stands for a replica killed mid-step; the virtual clock then
passes its expiry. (``test_runbooks_restart.py`` does it with a real server and SIGKILL.)
"""

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
    target,
)

from reliant.server.db import transaction
from reliant.server.domains.runbooks.executor import CLAIM_SECONDS, INTERRUPTED
from reliant.server.domains.runbooks.steps import Claim, Outcome
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


def die_mid_step(app: FastAPI, driver: Driver, clock: VirtualClock) -> list[Claim]:
    """Claim the next steps as a replica would, then die: the claims are never run or
    renewed, and expire."""
    with transaction(app.state.sessions) as session:
        claims = driver.executor.claim(session, clock.now())
    clock.advance(CLAIM_SECONDS + 1)
    return claims


def test_interrupted_steps_are_retried_or_failed(
    app: FastAPI, client: TestClient, clock: VirtualClock, loopback: Target
) -> None:
    """A command is not run twice: it fails as interrupted and on_failure applies; a GET
    request and a wait-until poll run again."""
    put(
        client,
        "rb",
        runbook(
            {"kind": "shell", "command": ["echo", "once"], "on_failure": "continue"},
            {"kind": "http", "url": f"{loopback.url}/ok"},
            {"kind": "wait_until", "url": f"{loopback.url}/ok"},
        ),
    )
    run = start(client, "rb")
    driver = Driver(app, clock)
    die_mid_step(app, driver, clock)  # running the command
    driver.tick()  # s1 fails as interrupted; on to s2
    die_mid_step(app, driver, clock)  # sending the GET
    driver.tick()  # s2 is pending again
    driver.tick()  # s2's second attempt succeeds
    die_mid_step(app, driver, clock)  # polling the URL
    driver.tick()  # s3 polls again
    found = driver.settle(client, run["id"])
    assert ("succeeded", ["failed", "succeeded", "succeeded"], [1, 2, 1]) == (
        found["state"],
        [s["state"] for s in found["steps"]],
        [s["attempts"] for s in found["steps"]],
    )
    assert INTERRUPTED == found["steps"][0]["error"]
    assert [] == [s for s in loopback.seen if s["method"] != "GET"]
    started = [
        (e["attributes"]["step"], e["attributes"]["attempt"])
        for e in events(client)
        if e["kind"] == "runbook.step_started"
    ]
    assert [("s1", 1), ("s2", 1), ("s2", 2), ("s3", 1)] == started


def test_a_late_outcome_of_a_lost_claim_is_ignored(
    app: FastAPI, client: TestClient, clock: VirtualClock
) -> None:
    """An outcome recorded after its claim was recovered changes nothing."""
    put(
        client, "rb", runbook({"kind": "shell", "command": ["echo", "x"], "on_failure": "continue"})
    )
    run = start(client, "rb")
    driver = Driver(app, clock)
    [claim] = die_mid_step(app, driver, clock)
    driver.tick()
    before = get_run(client, run["id"])
    driver.executor.record(app.state.engine, claim, Outcome(True, "late"))
    assert before == get_run(client, run["id"])
    assert (INTERRUPTED, None) == (before["steps"][0]["error"], before["steps"][0]["output"])


def test_a_tick_rolled_back_runs_nothing(
    app: FastAPI, client: TestClient, clock: VirtualClock
) -> None:
    """Claims of a tick whose transaction rolls back are not run; the next tick runs them."""
    put(client, "rb", runbook({"kind": "shell", "command": ["echo", "x"]}))
    run = start(client, "rb")
    driver = Driver(app, clock)
    with app.state.sessions() as session:
        session.begin()
        driver.executor.run(session, clock.now())
        assert 1 == driver.executor.busy()
        session.rollback()  # the job's transaction fails
    assert (0, "pending") == (
        driver.executor.busy(),
        get_run(client, run["id"])["steps"][0]["state"],
    )
    assert "succeeded" == driver.settle(client, run["id"])["state"]
