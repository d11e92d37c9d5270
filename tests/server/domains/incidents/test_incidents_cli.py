"""`reliant incidents ...` round trips against a real control plane on the virtual clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from server_helpers import ADMIN

from reliant.cli import main
from reliant.server.streams import close_streams
from reliant.testing import VirtualClock

#: CLI wording and exit codes: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[LiveServer]:
    """The test app on a real port; its streams end before it stops."""
    with LiveServer(app) as live:
        try:
            yield live
        finally:
            close_streams(app)


@pytest.fixture(autouse=True)
def no_saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see neither a saved login nor RELIANT_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)


def cli(server: LiveServer, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``reliant incidents ARGV`` against the server; exit code and stdout."""
    capsys.readouterr()
    code = main(["incidents", *argv, "--url", server.url, "--token", ADMIN])
    return code, capsys.readouterr().out


def json_of(server: LiveServer, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out = cli(server, capsys, *argv, "-o", "json")
    assert 0 == code
    return json.loads(out)


def test_declare_respond_and_read_back(
    server: LiveServer, capsys: pytest.CaptureFixture[str], clock: VirtualClock
) -> None:
    """declare, ack, update, assign, task add/done, note, get and list agree."""
    declared = json_of(
        server,
        capsys,
        "declare",
        "--title",
        "Checkout errors",
        "--severity",
        "SEV2",
        "--service",
        "payments",
        "--commander",
        "alice",
    )
    incident = str(declared["id"])
    code, acked = cli(server, capsys, "ack", incident)
    assert (0, True) == (code, "acknowledged" in acked)
    clock.advance(60)
    assert 0 == cli(server, capsys, "update", incident, "-m", "bad deploy found")[0]
    assert 0 == cli(server, capsys, "assign", incident, "--role", "scribe", "--person", "bob")[0]
    task = json_of(
        server,
        capsys,
        "task",
        "add",
        incident,
        "--title",
        "alert on it",
        "--owner",
        "carol",
        "--due",
        "2027-02-01",
    )
    assert 0 == cli(server, capsys, "task", "done", incident, str(task["id"]))[0]
    assert 0 == cli(server, capsys, "note", incident, "-m", "customers notified")[0]
    code, text = cli(server, capsys, "get", incident)
    assert 0 == code
    assert text.startswith(f"Incident #{incident} [SEV2] acknowledged: Checkout errors\n")
    assert "roles: commander: alice, communications: -, scribe: bob" in text
    assert "bootstrap-admin: bad deploy found" in text
    assert f"[x] {task['id']} alert on it (carol, 2027-02-01)" in text
    assert "next: mitigated, resolved, closed" in text
    code, listing = cli(server, capsys, "list", "--state", "acknowledged")
    assert ["ID", "SEVERITY", "STATE", "TITLE"] == listing.splitlines()[0].split()[:4]
    assert [incident, "SEV2", "acknowledged"] == listing.splitlines()[1].split()[:3]


def test_refused_transition_exits_1_naming_the_allowed_ones(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reopening a triggered incident is refused with the server's reason."""
    incident = str(json_of(server, capsys, "declare", "--title", "t", "--severity", "SEV3")["id"])
    capsys.readouterr()
    assert 1 == main(["incidents", "reopen", incident, "--url", server.url, "--token", ADMIN])
    err = capsys.readouterr().err
    assert (True, True) == (
        "409 Conflict" in err,
        "allowed: acknowledged, mitigated, resolved, closed" in err,
    )


def test_timeline_and_follow(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    """timeline prints the entries oldest first; --follow streams them (here: stops at
    --max), JSON lines with -o json."""
    incident = str(json_of(server, capsys, "declare", "--title", "t", "--severity", "SEV3")["id"])
    cli(server, capsys, "note", incident, "-m", "first look")
    cli(server, capsys, "resolve", incident)
    code, text = cli(server, capsys, "timeline", incident)
    lines = text.splitlines()
    assert (0, 3) == (code, len(lines))
    assert ["incident.declared", "incident.note_added", "incident.resolved"] == [
        line.split()[3] for line in lines
    ]
    assert lines[1].endswith("first look")
    code, followed = cli(
        server, capsys, "timeline", incident, "--follow", "--max", "3", "-o", "json"
    )
    assert (0, ["incident.declared", "incident.note_added", "incident.resolved"]) == (
        code,
        [json.loads(line)["kind"] for line in followed.splitlines()],
    )


def test_merge_and_metrics(
    server: LiveServer, capsys: pytest.CaptureFixture[str], clock: VirtualClock
) -> None:
    """merge answers the primary; metrics prints a table and every definition."""
    first = str(json_of(server, capsys, "declare", "--title", "a", "--severity", "SEV2")["id"])
    second = str(json_of(server, capsys, "declare", "--title", "b", "--severity", "SEV2")["id"])
    merged = json_of(server, capsys, "merge", second, "--into", first)
    assert int(first) == merged["id"]
    clock.advance(60)
    code, text = cli(server, capsys, "metrics", "--group-by", "severity", "--bucket", "day")
    assert 0 == code
    lines = text.splitlines()
    assert ["GROUP", "INCIDENTS", "MTTA"] == lines[1].split()[:3]
    assert ["SEV2", "1", "-"] == lines[2].split()[:3]
    assert "MTTA: Mean time to acknowledge (PagerDuty)" in text
    assert "MTBF: Mean time between failures (Atlassian)" in text
