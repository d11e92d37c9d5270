"""Secret parameters: used by the steps, never shown — not in events, outputs, errors,
answers, the audit log or any stored row (once the run ends, not even its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from runbooks_helpers import (
    EXECUTABLES,
    SECRET,
    Driver,
    Target,
    an_incident,
    get_run,
    put,
    start,
    target,
)
from sqlalchemy import text

from reliant.server.db import transaction
from reliant.testing import VirtualClock

#: Tables a secret could leak into.
TABLES = ("runbook_runs", "runbook_steps", "events", "audit")


@pytest.fixture
def loopback() -> Iterator[Target]:
    """The HTTP target."""
    with target() as found:
        yield found


def stored(app: FastAPI, *, but: str = "") -> str:
    """Every row of the tables a secret could leak into, as one text, without column ``but``."""
    with transaction(app.state.sessions) as session:
        return "\n".join(
            str({k: v for k, v in row._mapping.items() if k != but})
            for table in TABLES
            for row in session.execute(text(f"SELECT * FROM {table}"))
        )


def test_secrets_are_masked_everywhere(
    app: FastAPI,
    client: TestClient,
    clock: VirtualClock,
    loopback: Target,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The target receives the secret; everything people can read shows ********."""
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", EXECUTABLES)
    put(
        client,
        "rotate",
        {
            "service": "payments",
            "parameters": [{"name": "token", "secret": True, "required": True}, {"name": "who"}],
            "steps": [
                {
                    "id": "call",
                    "kind": "http",
                    "method": "POST",
                    "url": f"{loopback.url}/echo",
                    "headers": {"X-Token": "{{ params.token }}"},
                    "body": "token={{ params.token }}",
                },
                {"id": "say", "kind": "shell", "command": ["echo", "using {{ params.token }}"]},
                {
                    "id": "env",
                    "kind": "shell",
                    "command": ["sh", "-c", 'echo "$TOKEN" >&2; exit 3'],
                    "env": {"TOKEN": "{{ params.token }}"},
                    "on_failure": "continue",
                },
                {
                    "id": "refused",
                    "kind": "http",
                    "url": "http://127.0.0.1:1/{{ params.token }}",
                    "on_failure": "continue",
                },
                {"id": "gate", "kind": "approval"},
            ],
        },
    )
    incident = an_incident(client)
    run = start(client, "rotate", params={"token": SECRET, "who": "ops"}, incident=incident)
    assert SECRET not in str(run)
    assert {"token": "********", "who": "ops"} == run["params"]
    driver = Driver(app, clock)
    waiting = driver.settle(client, run["id"])
    assert "waiting" == waiting["state"]

    # Really used: the target saw it in the header and the body.
    call = next(s for s in loopback.seen if s["path"] == "/echo")
    assert (SECRET, f"token={SECRET}") == (call["headers"]["X-Token"], call["body"])
    steps = {s["id"]: s for s in waiting["steps"]}
    assert "********" in steps["call"]["output"]
    assert SECRET not in steps["call"]["output"]
    assert "using ********\n" == steps["say"]["output"]
    assert ("********\n", "exit status 3") == (steps["env"]["output"], steps["env"]["error"])
    assert steps["refused"]["error"].startswith("ConnectError")
    assert ["echo", "using ********"] == steps["say"]["rendered"]["command"]
    assert "********" == steps["call"]["rendered"]["headers"]["X-Token"]

    # While the run is active, only its own row keeps the value (steps need it).
    assert SECRET in stored(app)
    assert SECRET not in stored(app, but="secrets")

    client.post(f"/api/v1/runbook-runs/{run['id']}/reject", json={"comment": f"not {SECRET}"})
    assert "failed" == get_run(client, run["id"])["state"]
    everything = [
        client.get("/api/v1/events", params={"limit": 500}).text,
        client.get("/api/v1/audit", params={"limit": 500}).text,
        client.get(f"/api/v1/runbook-runs/{run['id']}").text,
        client.get("/api/v1/runbook-runs").text,
        stored(app),
    ]
    assert [False] * len(everything) == [SECRET in x for x in everything]
    assert "********" in everything[0]
