"""`reliant plan|apply|export` end to end against a real control plane on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from server_helpers import ADMIN
from spec_helpers import EXAMPLE, export, service

from reliant.cli import main
from reliant.cli import spec as spec_cli

#: CLI wording and exit codes: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[LiveServer]:
    """The test app on a real port; `client` inspects it in-process."""
    with LiveServer(app) as live:
        yield live


@pytest.fixture(autouse=True)
def no_saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see neither a saved login nor RELIANT_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)


def run(server: LiveServer, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `reliant ARGV` against the server; return exit code, stdout, stderr."""
    code = main([*argv, "--url", server.url, "--token", ADMIN])
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_apply_and_apply_again(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan shows the creations; apply --yes makes them; a second apply has nothing to do."""
    code, out, _ = run(server, capsys, "plan", str(EXAMPLE))
    assert 0 == code
    assert "+ Service payments" in out.splitlines()
    assert (
        "Plan: 5 to create, 0 to update, 0 to delete; 0 unchanged, 0 not in spec."
        == out.splitlines()[-1]
    )
    assert 2 == run(server, capsys, "plan", str(EXAMPLE), "--detailed-exitcode")[0]
    code, out, _ = run(server, capsys, "apply", str(EXAMPLE), "--yes")
    assert (0, "Applied: 5 created, 0 updated, 0 deleted.") == (code, out.splitlines()[-1])
    assert 5 == len(export(client))
    code, out, _ = run(server, capsys, "apply", str(EXAMPLE))
    assert (0, "No changes. (5 unchanged, 0 not in spec.)\n") == (code, out)
    assert 0 == run(server, capsys, "plan", str(EXAMPLE), "--detailed-exitcode")[0]


def test_export_round_trips(
    server: LiveServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """export writes YAML that plans to no changes; JSON holds the same documents."""
    assert 0 == run(server, capsys, "apply", str(EXAMPLE), "--yes")[0]
    code, out, _ = run(server, capsys, "export")
    assert 0 == code
    exported = tmp_path / "exported.yaml"
    exported.write_text(out)
    assert 0 == run(server, capsys, "plan", str(exported), "--detailed-exitcode")[0]
    code, out, _ = run(server, capsys, "spec", "export", "-o", "json", "--kind", "Policy")
    policies = [d for d in yaml.safe_load_all(exported.read_text()) if d["kind"] == "Policy"]
    assert (0, policies) == (code, json.loads(out))


def test_plan_as_json(
    server: LiveServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """-o json prints the server's plan, fingerprint included."""
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump_all([service("a"), service("b")]))
    code, out, _ = run(server, capsys, "spec", "plan", str(path), "-o", "json", "--kind", "Service")
    body = json.loads(out)
    assert (0, 2, 64) == (code, body["summary"]["create"], len(body["fingerprint"]))


def test_apply_refuses_without_yes_off_a_terminal(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """With changes to make, no --yes and no terminal, apply changes nothing and exits 1."""
    code, out, err = run(server, capsys, "apply", str(EXAMPLE))
    assert 1 == code
    assert "+ Service payments" in out
    assert err.startswith("reliant: refusing to apply without --yes")
    assert [] == export(client)


@pytest.mark.parametrize(("reply", "code", "count"), [("yes", 0, 5), ("y", 1, 0)])
def test_apply_asks_on_a_terminal(
    server: LiveServer,
    client: TestClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reply: str,
    code: int,
    count: int,
) -> None:
    """On a terminal apply asks; only 'yes' applies."""
    monkeypatch.setattr(spec_cli, "_interactive", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: reply)
    assert code == run(server, capsys, "apply", str(EXAMPLE))[0]
    assert count == len(export(client))


def test_prune_and_drift(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A hand edit shows as drift, a hand-made service as not in spec; --prune removes it."""
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(service("web", tier=2)))
    assert 0 == run(server, capsys, "apply", str(path), "--yes")[0]
    client.put("/api/v1/services/web", json={"owner": "team-a", "tier": 1})
    client.put("/api/v1/services/manual", json={"owner": "x"})
    code, out, _ = run(server, capsys, "plan", str(path))
    assert (
        0,
        [
            "~ Service web  (drift: changed on the server since the last apply)",
            "    tier: 1 → 2",
            "? Service manual  (not in spec: kept; --prune deletes it)",
            "Plan: 0 to create, 1 to update, 0 to delete; 0 unchanged, 1 not in spec, 1 drifted.",
        ],
    ) == (code, out.splitlines())
    code, out, _ = run(server, capsys, "apply", str(path), "--prune", "--yes")
    assert (0, "Applied: 0 created, 1 updated, 1 deleted.") == (code, out.splitlines()[-1])
    assert [service("web", tier=2)] == export(client)


def test_server_errors_are_one_line(
    server: LiveServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A kind the server does not manage in scope comes back as the server's 422, exit 1."""
    code, _, err = run(server, capsys, "plan", str(EXAMPLE), "--kind", "Service")
    assert 1 == code
    assert err.startswith(
        "reliant: 422 Invalid Request: documents[3]: Policy payments-provider: "
        "kind 'Policy' is not in scope"
    )


def test_apply_only_the_reviewed_plan(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """--expected applies only while the plan keeps the fingerprint that was reviewed."""
    reviewed = json.loads(run(server, capsys, "plan", str(EXAMPLE), "-o", "json")[1])
    code, _, err = run(server, capsys, "apply", str(EXAMPLE), "--yes", "--expected", "0" * 64)
    assert (1, []) == (code, export(client))
    assert "the plan changed since fingerprint 000000000000… was taken" in err
    expected = reviewed["fingerprint"]
    assert 0 == run(server, capsys, "apply", str(EXAMPLE), "--yes", "--expected", expected)[0]
    assert 5 == len(export(client))
