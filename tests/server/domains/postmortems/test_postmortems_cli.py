"""`reliant postmortems ...` round trips against a real control plane on the virtual clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from postmortems_helpers import the_incident
from server_helpers import ADMIN

from reliant.cli import main
from reliant.testing import VirtualClock

#: CLI wording and exit codes: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[LiveServer]:
    """The test app on a real port."""
    with LiveServer(app) as live:
        yield live


@pytest.fixture(autouse=True)
def no_saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see neither a saved login nor RELIANT_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)


def run(server: LiveServer, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``reliant postmortems ARGV`` against the server; exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(["postmortems", *argv, "--url", server.url, "--token", ADMIN])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli(server: LiveServer, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``reliant postmortems ARGV`` against the server; exit code and stdout."""
    code, out, _ = run(server, capsys, *argv)
    return code, out


def json_of(server: LiveServer, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """A command's JSON output (it must succeed)."""
    code, out = cli(server, capsys, *argv, "-o", "json")
    assert 0 == code
    return json.loads(out)


def test_generate_read_move_export_and_policy(
    server: LiveServer,
    client: TestClient,
    clock: VirtualClock,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """generate, get, list, refresh, state and export agree with the API; a refused move
    exits 1 naming the allowed ones; policy shows the built-in default."""
    incident = the_incident(client, clock)
    made = json_of(server, capsys, "generate", str(incident))
    pid = str(made["id"])
    code, text = cli(server, capsys, "get", pid)
    assert 0 == code
    assert f"Postmortem #{pid} of incident #{incident} [draft, version 1]" in text
    assert "time to detect 2m00s" in text
    assert "SLO checkout-availability: 50.0 % of its budget consumed" in text
    assert [int(pid)] == [p["id"] for p in json_of(server, capsys, "list", "--required")]
    assert 2 == json_of(server, capsys, "refresh", pid)["version"]
    code, _, err = run(server, capsys, "state", pid, "published")
    assert 1 == code
    assert "allowed: in_review" in err
    assert "in_review" == json_of(server, capsys, "state", pid, "in_review")["state"]
    out = tmp_path / "pm.html"
    code, _ = cli(server, capsys, "export", pid, "--format", "html", "-o", str(out))
    assert 0 == code
    assert "<svg" in out.read_text()
    code, markdown = cli(server, capsys, "export", pid)
    assert (0, True) == (code, markdown.startswith("# Postmortem: Checkout errors"))
    code, _, err = run(server, capsys, "generate", str(incident))
    assert 1 == code
    assert f"/api/v1/postmortems/{pid}" in err
    code, policy = cli(server, capsys, "policy")
    assert 0 == code
    assert "default" in policy
    assert "SEV2" in policy
