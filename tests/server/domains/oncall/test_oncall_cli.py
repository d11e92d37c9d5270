"""`reliant oncall` and `reliant pages` end to end against a real control plane."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from live_server import LiveServer
from oncall_helpers import SCHEDULE, Desk
from server_helpers import ADMIN, START

from reliant.cli import main


@pytest.fixture
def server(app: FastAPI, desk: Desk) -> Iterator[LiveServer]:
    """The test app on a real port, with the schedule, policy and routing declared."""
    desk.setup()
    with LiveServer(app) as live:
        yield live


@pytest.fixture(autouse=True)
def no_saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see neither a saved login nor RELIANT_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)


def cli(server: LiveServer, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``reliant ARGV --url --token``; the exit code and stdout (stderr appended)."""
    code = main([*argv, "--url", server.url, "--token", ADMIN])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.store_agnostic
def test_now_shifts_and_an_override_round_trip(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`oncall now` shows alice until midnight and bob next; an override puts carol on call
    (the command warns she is no receiver), `overrides` lists it, `override-delete`
    removes it; `shifts` lists the days in the schedule's zone."""
    code, now = cli(server, capsys, "oncall", "now")
    assert 0 == code
    assert [
        "SCHEDULE          ON_CALL  SOURCE   UNTIL                 NEXT  NEXT_FROM",
        "payments-primary  alice    primary  2027-01-16 00:00 UTC  bob   2027-01-16 00:00 UTC",
    ] == now.splitlines()
    code, made = cli(
        server, capsys, "oncall", "override", SCHEDULE, "--member", "carol",
        "--start", str(START), "--duration", "2h",
    )  # fmt: skip
    assert (0, True, True) == (
        code,
        made.startswith(
            "Override 1: carol is on call on payments-primary from 2027-01-15 08:00 UTC until "
            "2027-01-15 10:00 UTC.\n"
        ),
        "warning: member 'carol' is not a notify receiver yet" in made,
    )
    code, listed = cli(server, capsys, "oncall", "overrides", SCHEDULE, "-o", "json")
    assert (0, [("carol", START, START + 7200)]) == (
        code,
        [(o["member"], o["starts_at"], o["ends_at"]) for o in json.loads(listed)],
    )
    assert "carol" in cli(server, capsys, "oncall", "now")[1]
    code, shifts = cli(
        server, capsys, "oncall", "shifts", SCHEDULE,
        "--since", "2027-01-15T08:00Z", "--until", "2027-01-16T12:00Z",
    )  # fmt: skip
    assert [
        "MEMBER  START                 END                   SOURCE",
        "carol   2027-01-15 08:00 UTC  2027-01-15 10:00 UTC  override",
        "alice   2027-01-15 10:00 UTC  2027-01-16 00:00 UTC  primary",
        "bob     2027-01-16 00:00 UTC  2027-01-16 12:00 UTC  primary",
    ] == shifts.splitlines()
    assert (0, "Override 1 of payments-primary deleted.\n") == cli(
        server, capsys, "oncall", "override-delete", SCHEDULE, "1"
    )


def test_pages_list_ack_and_resolve(
    server: LiveServer, desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    """A page listed, acknowledged then resolved from the command line, as the token's
    name; an unknown page fails with the server's problem on stderr and exit code 1."""
    desk.report()
    desk.run_until(lambda: bool(desk.outbox()), within=10, step=1)
    code, listed = cli(server, capsys, "pages", "list")
    assert (0, True) == (code, "triggered" in listed.splitlines()[1])
    assert (0, "Page 1 acknowledged by bootstrap-admin: PaymentsDown: payments are failing\n") == (
        cli(server, capsys, "pages", "ack", "1")
    )
    code, acked = cli(server, capsys, "pages", "list", "--state", "acknowledged", "-o", "json")
    assert (0, [1]) == (code, [p["id"] for p in json.loads(acked)])
    assert (0, "Page 1 resolved by bootstrap-admin: PaymentsDown: payments are failing\n") == (
        cli(server, capsys, "pages", "resolve", "1")
    )
    assert (1, "reliant: 404 Not Found: no page 9; list them with GET /api/v1/oncall/pages\n") == (
        cli(server, capsys, "pages", "ack", "9")
    )
