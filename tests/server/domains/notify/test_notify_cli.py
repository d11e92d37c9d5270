"""`reliant receivers ...` and `reliant notifications ...` against a real control plane."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from notify_helpers import Vendor, deliver, deliverer, put, vendor_server
from server_helpers import ADMIN

from reliant.cli import main
from reliant.cli._client import CommandError
from reliant.cli.receivers import body_of, value_of
from reliant.server.domains.notify import SECRET_KEY_ENV
from reliant.testing import VirtualClock

SECRET = "whsec-0123456789abcdef"


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server has a secret key; commands see no saved login nor RELIANT_* variables."""
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[LiveServer]:
    """The test app on a real port."""
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    """The imitation vendor APIs on loopback."""
    yield from vendor_server()


def cli(server: LiveServer, *argv: str) -> list[str]:
    return [*argv, "--url", server.url, "--token", ADMIN]


def as_json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_put_with_a_secret_from_the_environment_then_list_and_get(
    server: LiveServer,
    vendor: Vendor,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--set KEY=@env:NAME keeps the secret off the command line; reads mask secrets (a
    webhook's URL is one)."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    argv = ["receivers", "put", "hook", "--type", "webhook", "--set", f"url={vendor.url}/hook"]
    assert 0 == main(cli(server, *argv, "--set", "secret=@env:HOOK_SECRET"))
    assert "receiver hook (webhook) saved\n" == capsys.readouterr().out
    assert 0 == main(cli(server, "receivers", "list"))
    lines = capsys.readouterr().out.splitlines()
    assert ["hook", "webhook", "-", "True", "0", "-"] == lines[1].split()
    assert 0 == main(cli(server, "receivers", "get", "hook", "-o", "json"))
    got = as_json(capsys)
    assert ("********", "********") == (got["settings"]["url"], got["settings"]["secret"])


def test_put_from_a_file_and_test_delivers(
    server: LiveServer, vendor: Vendor, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--file gives the body; `receivers test` sends a real request and says it arrived."""
    body = tmp_path / "slack.yaml"
    body.write_text(f"type: slack\nurl: {vendor.url}/slack/T000/B000/XXXX\nsend_resolved: false\n")
    assert 0 == main(cli(server, "receivers", "put", "team", "--file", str(body)))
    capsys.readouterr()
    assert 0 == main(cli(server, "receivers", "test", "team"))
    assert capsys.readouterr().out.startswith("test notification to team: delivered: HTTP 200")
    assert 1 == len(vendor.accepted("/slack/"))


def test_test_of_a_failing_receiver_exits_1(
    server: LiveServer, vendor: Vendor, capsys: pytest.CaptureFixture[str]
) -> None:
    """A receiver whose endpoint answers 404: the command says so and exits 1."""
    argv = ["receivers", "put", "bad", "--type", "slack", "--set", f"url={vendor.url}/slack/x"]
    assert 0 == main(cli(server, *argv))
    capsys.readouterr()
    assert 1 == main(cli(server, "receivers", "test", "bad"))
    assert "NOT delivered (dead): HTTP 404" in capsys.readouterr().out


def test_invalid_receiver_is_refused_with_the_servers_reason(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PagerDuty routing key of the wrong shape: exit 1, the field named."""
    argv = ["receivers", "put", "pd", "--type", "pagerduty", "--set", "routing_key=short"]
    assert 1 == main(cli(server, *argv))
    assert "routing_key" in capsys.readouterr().err


def test_dead_letters_listed_shown_and_retried(
    server: LiveServer, app: FastAPI, clock: VirtualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notification to a missing receiver dies; list --state dead shows it, get shows the
    attempt, retry queues it again."""
    put(app, clock.now(), receiver="ghost", key="k1")
    deliver(app, clock.now(), deliverer())
    assert 0 == main(cli(server, "notifications", "list", "--state", "dead", "-o", "json"))
    [dead] = as_json(capsys)
    assert ("ghost", "dead") == (dead["receiver"], dead["state"])
    assert 0 == main(cli(server, "notifications", "get", str(dead["id"])))
    out = capsys.readouterr().out
    assert "no receiver named 'ghost'" in out
    assert 0 == main(cli(server, "notifications", "retry", str(dead["id"])))
    assert f"notification {dead['id']} to ghost queued again (pending)\n" == (
        capsys.readouterr().out
    )


def test_delete_removes_the_receiver(
    server: LiveServer, vendor: Vendor, capsys: pytest.CaptureFixture[str]
) -> None:
    """delete, then get answers 404 (exit 1)."""
    argv = ["receivers", "put", "gone", "--type", "slack", "--set", f"url={vendor.url}/slack/y"]
    assert 0 == main(cli(server, *argv))
    assert 0 == main(cli(server, "receivers", "delete", "gone"))
    assert capsys.readouterr().out.endswith("deleted receiver gone\n")
    assert 1 == main(cli(server, "receivers", "get", "gone"))


def test_values_parse_as_json_env_file_or_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON values become JSON; @env: and @file: read secrets; the rest stays text."""
    monkeypatch.setenv("KEY", "from-env")
    (tmp_path / "key").write_text("from-file\n")
    assert [False, 587, ["a@example.com"], "from-env", "from-file", "smtp.example.com"] == [
        value_of("false"),
        value_of("587"),
        value_of('["a@example.com"]'),
        value_of("@env:KEY"),
        value_of(f"@file:{tmp_path / 'key'}"),
        value_of("smtp.example.com"),
    ]


def test_bad_values_and_bodies_are_errors(tmp_path: Path) -> None:
    """Unset variables, unreadable files, pairs without =, non-mapping files, no type."""
    (tmp_path / "list.yaml").write_text("- a\n")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"set": ["k=@env:NOPE_NOT_SET"]}, "NOPE_NOT_SET is not set"),
        ({"set": [f"k=@file:{tmp_path / 'missing'}"]}, "cannot read"),
        ({"set": ["novalue"]}, "is not KEY=VALUE"),
        ({"file": str(tmp_path / "list.yaml")}, "must hold a mapping"),
        ({"set": ["url=x"]}, "--type"),
    ]
    for given, message in cases:
        args = argparse.Namespace(**{"file": None, "set": [], "type": None, **given})
        with pytest.raises(CommandError, match=message):
            body_of(args)
