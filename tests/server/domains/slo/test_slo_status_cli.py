"""`reliant slo list|get|status` against a real control plane on the virtual clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from server_helpers import ADMIN
from slo_helpers import T0, evaluate, push, put, slo, steady

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


@pytest.fixture
def burning(app: FastAPI, client: TestClient, clock: VirtualClock) -> None:
    """`availability` after ten minutes of a total outage; `quiet` never evaluated traffic."""
    put(client, "availability", slo())
    put(client, "quiet", slo(service="search", objective=99.99999))
    push(client, steady(T0, T0 + 600, good=0, bad=10))
    clock.advance(T0 + 600 - clock.now())
    evaluate(app, clock.now())


def run(server: LiveServer, *argv: str) -> list[str]:
    return [*argv, "--url", server.url, "--token", ADMIN]


def test_list_shows_budget_left_and_what_fires(
    server: LiveServer, burning: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """One row per SLO: objective, window, budget left, firing severities, warnings."""
    assert 0 == main(run(server, "slo", "list"))
    lines = capsys.readouterr().out.splitlines()
    assert ["NAME", "SERVICE", "OBJECTIVE", "WINDOW", "BUDGET_LEFT", "FIRING", "WARNINGS"] == (
        lines[0].split()
    )
    rows = {line.split()[0]: line for line in lines[1:]}
    # 600 bad of 600 events against 0.6 allowed: the budget is spent 1000 times over.
    assert ["availability", "checkout", "99.9%", "30d", "-99900.00%"] == (
        rows["availability"].split()[:5]
    )
    assert ("page" in rows["availability"], "1") == (True, rows["quiet"].split()[-1])


def test_list_filters_by_service_and_prints_json(
    server: LiveServer, burning: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """--service keeps one service's SLOs; -o json prints the API's items."""
    assert 0 == main(run(server, "slo", "list", "--service", "search", "-o", "json"))
    assert ["quiet"] == [s["name"] for s in json.loads(capsys.readouterr().out)]


def test_status_explains_budget_windows_and_conditions(
    server: LiveServer, burning: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The text status: budget with bad events left, each window's burn rate, the page
    condition firing at a 1000x burn."""
    assert 0 == main(run(server, "slo", "status", "availability"))
    out = capsys.readouterr().out
    assert "SLO availability of checkout: objective 99.9%, ratio SLI, occurrences budgeting" in out
    assert "budget left: -99900.00% (overspent by 599.4 bad events; 0.6 allowed) - EXHAUSTED" in out
    assert "period so far: 0 good of 600" in out
    window_5m = next(line.split() for line in out.splitlines() if line.startswith("5m "))
    assert ["5m", "300", "100.00%", "1000.00x"] == window_5m
    page = next(line.split() for line in out.splitlines() if line.startswith("page "))
    assert ["page", "1h/5m", "14.40x", "1000.00x", "1000.00x", "FIRING"] == page


def test_get_prints_spec_and_warnings(
    server: LiveServer, burning: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """get shows the spec as YAML and every warning with its code."""
    assert 0 == main(run(server, "slo", "get", "quiet"))
    out = capsys.readouterr().out
    assert out.startswith("SLO quiet of search (managed by api)\n")
    assert "objective: 99.99999" in out
    assert "warning [" in out


def test_unknown_slo_is_an_error_naming_it(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing SLO: exit 1 and the server's problem on stderr."""
    assert 1 == main(run(server, "slo", "status", "ghost"))
    assert "ghost" in capsys.readouterr().err
