"""`reliant alerts list|silence` and `reliant silences list|create|expire` on a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from server_helpers import ADMIN, token_for

from reliant.cli import main
from reliant.cli._client import CommandError
from reliant.cli.alerts import parse_time
from reliant.server.db import transaction
from reliant.server.domains.alerts import service
from reliant.server.domains.alerts.jobs import dispatch_pass
from reliant.testing import VirtualClock

#: CLI wording and exit codes: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

PAGE = {"alertname": "SLOErrorBudgetBurn", "severity": "page", "service": "checkout"}
TICKET = {"alertname": "DiskFilling", "severity": "ticket", "service": "db"}


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


@pytest.fixture
def firing(app: FastAPI, clock: VirtualClock) -> None:
    """Two firing alerts: a page and a ticket."""
    with transaction(app.state.sessions) as session:
        for labels in (PAGE, TICKET):
            service.report(
                session, labels=labels, annotations={}, active=True, now=clock.now(), source="test"
            )


def cli(server: LiveServer, *argv: str, token: str = ADMIN) -> list[str]:
    return [*argv, "--url", server.url, "--token", token]


def as_json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_list_filters_with_matchers(
    server: LiveServer, firing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """--filter takes Alertmanager matchers; the table shows name, state and severity."""
    assert 0 == main(cli(server, "alerts", "list", "--filter", 'severity="page"'))
    lines = capsys.readouterr().out.splitlines()
    assert ["FINGERPRINT", "ALERTNAME", "STATE", "SEVERITY", "SERVICE", "SINCE", "MUTED"] == (
        lines[0].split()
    )
    assert [["SLOErrorBudgetBurn", "firing", "page", "checkout"]] == [
        line.split()[1:5] for line in lines[1:]
    ]


def test_silence_one_alert_then_expire_it(
    server: LiveServer,
    app: FastAPI,
    clock: VirtualClock,
    firing: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """alerts silence mutes exactly the alert's labels for the default 2h; the alert shows
    the silence; silences expire ends it."""
    assert 0 == main(cli(server, "alerts", "list", "--service", "db", "-o", "json"))
    fingerprint = as_json(capsys)[0]["fingerprint"]
    argv = cli(server, "alerts", "silence", fingerprint, "-m", "disk swap tonight", "-o", "json")
    assert 0 == main(argv)
    silence = as_json(capsys)
    assert (
        sorted(f'{k}="{v}"' for k, v in TICKET.items()),
        7200.0,
        "active",
        "disk swap tonight",
    ) == (
        sorted(silence["matchers"]),
        silence["ends_at"] - silence["starts_at"],
        silence["state"],
        silence["comment"],
    )
    with transaction(app.state.sessions) as session:
        dispatch_pass(session, clock.now())  # marks the alerts its silences mute
    assert 0 == main(cli(server, "alerts", "list", "--service", "db", "-o", "json"))
    assert [silence["id"]] == as_json(capsys)[0]["silenced_by"]
    assert 0 == main(cli(server, "silences", "expire", silence["id"]))
    assert f"expired silence {silence['id']} (expired)" in capsys.readouterr().out


def test_create_with_until_and_list_by_state(
    server: LiveServer, clock: VirtualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """silences create takes matchers and --until; list --state active shows it."""
    until = str(clock.now() + 3600)
    argv = ["silences", "create", 'service="db"', 'severity=~"ticket|page"']
    assert 0 == main(cli(server, *argv, "--until", until, "-m", "maintenance"))
    assert capsys.readouterr().out.startswith("created silence ")
    assert 0 == main(cli(server, "silences", "list", "--state", "active", "-o", "json"))
    [silence] = as_json(capsys)
    assert (['service="db"', 'severity=~"ticket|page"'], float(until)) == (
        silence["matchers"],
        silence["ends_at"],
    )


def test_bad_matcher_and_viewer_are_refused(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server's problem is printed and the command exits 1: a bad matcher, a viewer."""
    assert 1 == main(cli(server, "silences", "create", "service=", "--duration", "1h", "-m", "x"))
    assert "matcher" in capsys.readouterr().err
    viewer = token_for(client, "viewer")
    argv = cli(server, "silences", "create", 'a="b"', "--duration", "1h", "-m", "x", token=viewer)
    assert 1 == main(argv)
    assert "403" in capsys.readouterr().err


def test_create_needs_an_end(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --duration or --until the command says how long is missing (exit 1)."""
    assert 1 == main(cli(server, "silences", "create", 'a="b"', "-m", "x"))
    assert "--duration" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1800000000", 1800000000.0),
        ("2027-01-15T08:00:00Z", 1800000000.0),
        ("2027-01-15T08:00:00", 1800000000.0),
        ("2027-01-15T09:00:00+01:00", 1800000000.0),
    ],
)
def test_parse_time_reads_epoch_and_iso(text: str, expected: float) -> None:
    """Epoch seconds or ISO 8601 (UTC unless an offset is given)."""
    assert expected == parse_time(text, "--until")


def test_parse_time_refuses_other_text() -> None:
    """Anything else is an error naming the option and the accepted forms."""
    with pytest.raises(CommandError, match="--until: 'tomorrow' is neither"):
        parse_time("tomorrow", "--until")
