"""`reliant services ...` against a real control plane served by uvicorn on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from catalog_helpers import put
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from server_helpers import ADMIN

from reliant.cli import main, services

#: CLI wording and exit codes: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[LiveServer]:
    """The test app on a real port; `client` seeds it in-process."""
    with LiveServer(app) as live:
        yield live


@pytest.fixture(autouse=True)
def no_saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see neither a saved login nor RELIANT_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)


def run(server: LiveServer, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `reliant services ARGV` against the server; return exit code, stdout, stderr."""
    code = main(["services", *argv, "--url", server.url, "--token", ADMIN])
    out, err = capsys.readouterr()
    return code, out, err


def _seed(client: TestClient) -> None:
    put(client, "web", tier=1, dependencies=[{"service": "api"}])
    put(
        client,
        "api",
        owner="team-b",
        dependencies=[{"service": "db"}, {"service": "cache", "kind": "soft"}],
    )
    put(client, "db", tier=1, environment="staging", labels={"team": "data"})


def test_list_as_a_table(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """`services list` prints one row per service with its dependencies."""
    _seed(client)
    code, out, _ = run(server, capsys, "list")
    assert 0 == code
    assert [
        ["NAME", "OWNER", "TIER", "ENVIRONMENT", "DEPENDENCIES", "MANAGED_BY"],
        ["api", "team-b", "3", "production", "db,", "cache", "(soft)", "api"],
        ["db", "team-a", "1", "staging", "-", "api"],
        ["web", "team-a", "1", "production", "api", "api"],
    ] == [line.split() for line in out.splitlines()]


def test_list_follows_every_page_and_filters(
    server: LiveServer,
    client: TestClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI walks the cursor to the end and passes filters, repeated labels included."""
    monkeypatch.setattr(services, "PAGE", 2)
    for i in range(5):
        put(client, f"s{i}", labels={"a": "1", "b": str(i % 2)})
    code, out, _ = run(server, capsys, "list", "-o", "json")
    assert (0, ["s0", "s1", "s2", "s3", "s4"]) == (code, [s["name"] for s in json.loads(out)])
    code, out, _ = run(server, capsys, "list", "--label", "a=1", "--label", "b=1", "-o", "yaml")
    assert (0, ["s1", "s3"]) == (code, [s["name"] for s in yaml.safe_load(out)])


def test_get_shows_fields_and_dependents(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """`services get NAME` prints field/value rows; -o json the whole document."""
    _seed(client)
    code, out, _ = run(server, capsys, "get", "api")
    rows = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()[1:]}
    assert (0, "db, cache (soft)", "web", "cache") == (
        code,
        rows["dependencies"],
        rows["dependents"],
        rows["undeclared_dependencies"],
    )
    code, out, _ = run(server, capsys, "get", "api", "-o", "json")
    assert (0, [{"service": "web", "kind": "hard"}]) == (code, json.loads(out)["dependents"])


def test_errors_are_one_line_and_exit_1(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing service or a refused delete prints the problem on one line, exit code 1."""
    _seed(client)
    code, out, err = run(server, capsys, "get", "ghost")
    assert (1, "", "reliant: 404 Not Found: no service named 'ghost'") == (
        code,
        out,
        err.split(";")[0],
    )
    code, out, err = run(server, capsys, "delete", "db")
    assert (1, "") == (code, out)
    assert err.startswith("reliant: 409 Conflict: api declares a hard dependency on 'db'")
    assert 1 == len(err.splitlines())


def test_delete_with_force(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """`services delete NAME --force` removes a service others depend on."""
    _seed(client)
    assert (0, "deleted service db\n") == run(server, capsys, "delete", "db", "--force")[:2]
    assert 404 == client.get("/api/v1/services/db").status_code


def test_graph_as_edges_tree_and_json(
    server: LiveServer, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """`services graph` prints edges, --tree a tree, -o json the graph document."""
    _seed(client)
    put(client, "solo")
    code, out, _ = run(server, capsys, "graph")
    assert 0 == code
    assert [
        "FROM  TO                  KIND",
        "api   cache (undeclared)  soft",
        "api   db                  hard",
        "web   api                 hard",
        "without dependencies: solo",
        "undeclared: cache",
    ] == out.splitlines()
    code, out, _ = run(server, capsys, "graph", "--tree")
    assert [
        "solo",
        "web",
        "└── api",
        "    ├── cache (undeclared) [soft]",
        "    └── db",
    ] == out.splitlines()
    code, out, _ = run(server, capsys, "graph", "--service", "db", "--depth", "1", "-o", "json")
    assert ["api", "db"] == [n["name"] for n in json.loads(out)["nodes"]]


def test_no_token_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Without any token the command says how to log in and exits 1."""
    assert 1 == main(["services", "list", "--url", "http://127.0.0.1:9"])
    assert "reliant login" in capsys.readouterr().err


def _graph(edges: list[tuple[str, str, str]], undeclared: tuple[str, ...] = ()) -> dict[str, Any]:
    from reliant.server.domains.catalog.graph import Edge, build

    names = {n for a, b, _ in edges for n in (a, b)} - set(undeclared)
    graph = build(dict.fromkeys(names, (3, "t")), [Edge(*e) for e in edges])
    return {
        "nodes": [{"name": n.name, "declared": n.declared} for n in graph.nodes],
        "edges": [{"from": e.source, "to": e.target, "kind": e.kind} for e in graph.edges],
        "cycles": [list(c) for c in graph.cycles],
        "cycles_truncated": graph.cycles_truncated,
    }


def test_tree_marks_cycles_and_repeats() -> None:
    """The tree marks loops back up the branch, and services already drawn."""
    graph = _graph([("a", "b", "hard"), ("b", "a", "hard"), ("c", "b", "soft")])
    assert [
        "c",
        "└── b [soft]",
        "    └── a",
        "        └── b (cycle)",
        "cycle: a -> b -> a",
    ] == services.tree_lines(graph)
    diamond = _graph(
        [("a", "b", "hard"), ("a", "c", "hard"), ("b", "d", "hard"), ("c", "d", "hard")]
    )
    assert ["a", "├── b", "│   └── d", "└── c", "    └── d (see above)"] == services.tree_lines(
        diamond
    )


def test_tree_of_a_pure_cycle_still_starts_somewhere() -> None:
    """Services that only sit on cycles are drawn from the alphabetically first."""
    graph = _graph([("x", "y", "hard"), ("y", "x", "hard")])
    assert ["x", "└── y", "    └── x (cycle)", "cycle: x -> y -> x"] == services.tree_lines(graph)


def test_edge_lines_of_an_empty_graph() -> None:
    """An empty catalog prints a placeholder instead of an empty table."""
    empty = {"nodes": [], "edges": [], "cycles": [], "cycles_truncated": False}
    assert ["(no services)"] == services.edge_lines(empty)
