"""`reliant runbooks` and `reliant runs` against a real control plane on the virtual clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from runbooks_helpers import EXECUTABLES, SECRET, Driver, an_incident, get_run, put, runbook, start
from server_helpers import ADMIN

from reliant.cli import main
from reliant.cli import runbooks as cli
from reliant.testing import VirtualClock


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[LiveServer]:
    """The test app on a real port."""
    with LiveServer(app) as live:
        yield live


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No saved login nor RELIANT_URL/TOKEN; the tests' executables allowed."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)
    monkeypatch.setenv("RELIANT_RUNBOOK_EXECUTABLES", EXECUTABLES)


@pytest.fixture
def driver(app: FastAPI, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> Driver:
    """The jobs: `--wait` ticks them instead of sleeping."""
    found = Driver(app, clock)
    monkeypatch.setattr(cli, "sleep", lambda _: found.tick())
    return found


def run(server: LiveServer, *argv: str) -> list[str]:
    return [*argv, "--url", server.url, "--token", ADMIN]


def test_list_and_get(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runbooks are listed with their steps and triggers; one is shown as YAML."""
    put(
        client, "restart", runbook({"kind": "manual"}, {"kind": "manual"}, description="restart it")
    )
    assert 0 == main(run(server, "runbooks", "list"))
    lines = capsys.readouterr().out.splitlines()
    assert ["NAME", "SERVICE", "STEPS", "TRIGGERS", "DESCRIPTION"] == lines[0].split()
    assert ["restart", "payments", "2", "-", "restart", "it"] == lines[1].split()
    assert 0 == main(run(server, "runbooks", "get", "restart"))
    out = capsys.readouterr().out
    assert out.startswith("Runbook restart (managed by api)\ndescription: restart it\n")
    assert 1 == main(run(server, "runbooks", "get", "nope"))
    assert "reliant: 404 Not Found: no runbook named 'nope'\n" == capsys.readouterr().err


def test_dry_run_prints_rendered_steps(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run prints each step rendered, secrets masked, and runs nothing."""
    put(
        client,
        "rotate",
        runbook(
            {"kind": "shell", "command": ["echo", "{{ params.token }}"], "destructive": True},
            parameters=[{"name": "token", "secret": True}],
        ),
    )
    assert 0 == main(run(server, "runbooks", "run", "rotate", "-p", f"token={SECRET}", "--dry-run"))
    out = capsys.readouterr().out
    assert [
        "Dry run of rotate: nothing ran.",
        "params: token=********",
        "- s1 (shell) (needs approval)",
        "    command:",
        "    - echo",
        "    - '********'",
    ] == out.splitlines()[:6]
    assert [] == client.get("/api/v1/runbook-runs").json()["items"]
    assert 1 == main(run(server, "runbooks", "run", "rotate", "-p", "oops"))
    assert "reliant: -p 'oops': write -p KEY=VALUE\n" == capsys.readouterr().err


def test_run_and_wait_follows_the_steps(
    server: LiveServer, client: TestClient, driver: Driver, capsys: pytest.CaptureFixture[str]
) -> None:
    """--wait prints each step as it changes and exits 0 when the run succeeds, 1 when not."""
    put(
        client,
        "hello",
        runbook(
            {"kind": "shell", "command": ["echo", "hi {{ params.who }}"]},
            parameters=[{"name": "who"}],
        ),
    )
    incident = str(an_incident(client))
    assert 0 == main(
        run(server, "runbooks", "run", "hello", "-p", "who=ops", "--wait", "--incident", incident)
    )
    captured = capsys.readouterr()
    assert [
        "run 1 of hello started",
        "  [+] s1 (shell): succeeded in 0.0s",
    ] == captured.err.splitlines()
    assert captured.out.startswith("Run 1 of hello: succeeded\n")
    put(client, "broken", runbook({"kind": "shell", "command": ["false"]}))
    assert 1 == main(run(server, "runbooks", "run", "broken", "--wait", "-o", "json"))
    captured = capsys.readouterr()
    assert "  [x] s1 (shell): failed in 0.0s: exit status 1" in captured.err.splitlines()
    assert "failed" == json.loads(captured.out)["state"]


def test_runs_verbs(
    server: LiveServer, client: TestClient, driver: Driver, capsys: pytest.CaptureFixture[str]
) -> None:
    """runs list/get show runs; complete, approve, reject and cancel act on them."""
    put(client, "rb", runbook({"kind": "manual"}, {"kind": "approval"}, {"kind": "approval"}))
    first = start(client, "rb")
    driver.settle(client, first["id"])
    assert 0 == main(run(server, "runs", "list"))
    lines = capsys.readouterr().out.splitlines()
    assert ["ID", "RUNBOOK", "STATE", "CURRENT", "AUTOMATIC", "INCIDENT", "CREATED_AT"] == lines[
        0
    ].split()
    assert ["1", "rb", "waiting", "s1", "False", "-"] == lines[1].split()[:6]
    assert 0 == main(run(server, "runs", "complete", "1", "s1", "--comment", "done"))
    driver.settle(client, first["id"])
    assert 0 == main(run(server, "runs", "approve", "1", "--step", "s2"))
    driver.settle(client, first["id"])
    assert 0 == main(run(server, "runs", "reject", "1", "--comment", "no"))
    capsys.readouterr()
    assert 0 == main(run(server, "runs", "get", "1"))
    out = capsys.readouterr().out.splitlines()
    assert "Run 1 of rb: failed" == out[0]
    assert ["s3", "approval", "failed"] == out[-1].split()[:3]
    second = start(client, "rb")
    assert 0 == main(run(server, "runs", "cancel", str(second["id"])))
    assert "cancelled" == get_run(client, second["id"])["state"]
    assert 1 == main(run(server, "runs", "cancel", str(second["id"])))
    assert "409 Conflict" in capsys.readouterr().err


def test_kill_switch(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """disable and enable flip the kill switch."""
    assert 0 == main(run(server, "runbooks", "disable"))
    assert (
        "runbook automation disabled: no automatic runs, no new steps\n" == capsys.readouterr().out
    )
    assert client.get("/api/v1/settings/runbooks").json()["enabled"] is False
    assert 0 == main(run(server, "runbooks", "enable"))
    assert client.get("/api/v1/settings/runbooks").json()["enabled"] is True
