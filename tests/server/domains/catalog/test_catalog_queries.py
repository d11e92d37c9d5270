"""The catalog's read API: listing with filters and cursors, one service, the graph."""

from __future__ import annotations

from typing import Any

import pytest
from catalog_helpers import put
from fastapi.testclient import TestClient
from server_helpers import START

from reliant.server.http import encode_cursor
from reliant.testing import VirtualClock


def _names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


def test_list_pages_through_every_service_once(client: TestClient) -> None:
    """Following `next` with limit=3 walks 7 services in name order, 3 + 3 + 1."""
    for name in ["g", "c", "a", "e", "b", "f", "d"]:
        put(client, name)
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/services", params=params).json()
        pages.append(_names(body))
        cursor = body["next"]
        if cursor is None:
            break
    assert [["a", "b", "c"], ["d", "e", "f"], ["g"]] == pages


def test_a_full_last_page_has_no_next(client: TestClient) -> None:
    """When the services fill the page exactly, `next` is null."""
    for name in ["a", "b"]:
        put(client, name)
    body = client.get("/api/v1/services?limit=2").json()
    assert (["a", "b"], None) == (_names(body), body["next"])


def test_list_of_an_empty_catalog(client: TestClient) -> None:
    """An empty catalog lists no services and no next page."""
    assert {"items": [], "next": None} == client.get("/api/v1/services").json()


@pytest.mark.store_agnostic
@pytest.mark.parametrize("query", ["limit=0", "limit=501", "tier=5", "label=nokey"])
def test_bad_list_parameters_are_422(client: TestClient, query: str) -> None:
    """Out-of-range limits and tiers, and labels without '=', answer 422 naming them."""
    response = client.get(f"/api/v1/services?{query}")
    assert (422, True) == (
        response.status_code,
        response.json()["detail"].startswith(f"query.{query.split('=')[0]}"),
    )


def test_malformed_cursor_is_400(client: TestClient) -> None:
    """A cursor the server did not make answers 400 with a hint."""
    for cursor in ["not-a-cursor", encode_cursor({"after": 3}), encode_cursor({"after": "\x00"})]:
        response = client.get("/api/v1/services", params={"cursor": cursor})
        assert (400, True) == (response.status_code, "`next`" in response.json()["detail"])


def test_list_filters(client: TestClient) -> None:
    """Owner, tier, environment and labels (all must match) narrow the list."""
    put(client, "a", owner="t1", tier=1, labels={"team": "x", "lang": "py"})
    put(client, "b", owner="t1", tier=2, environment="staging", labels={"team": "x"})
    put(client, "c", owner="t2", tier=1, labels={"team": "y", "lang": "py"})
    put(client, "d", owner="t2", tier=4)

    def names(query: str) -> list[str]:
        return _names(client.get(f"/api/v1/services?{query}").json())

    assert ["a", "b"] == names("owner=t1")
    assert ["a", "c"] == names("tier=1")
    assert ["b"] == names("environment=staging")
    assert ["a", "b"] == names("label=team=x")
    assert ["a", "c"] == names("label=lang=py")
    assert ["a"] == names("label=team=x&label=lang=py")
    assert ["c"] == names("owner=t2&tier=1")
    assert [] == names("label=team=z")
    assert [] == names("label=nosuchkey=x")


def test_label_filter_with_dotted_keys_and_empty_values(client: TestClient) -> None:
    """Label keys may hold dots, slashes and quotes; a value may be empty."""
    labels = {"app.kubernetes.io/name": "pay", 'we"ird': "x=y", "empty": ""}
    put(client, "a", labels=labels)
    put(client, "b", labels={"app": "pay"})
    for key, value in labels.items():
        body = client.get("/api/v1/services", params={"label": f"{key}={value}"}).json()
        assert ["a"] == _names(body)


def test_filtered_list_paginates(client: TestClient) -> None:
    """Cursors keep the filter's results in order across pages."""
    for i in range(5):
        put(client, f"s{i}", owner="t1" if i % 2 == 0 else "t2")
    first = client.get("/api/v1/services?owner=t1&limit=2").json()
    second = client.get(f"/api/v1/services?owner=t1&limit=2&cursor={first['next']}").json()
    assert (["s0", "s2"], ["s4"], None) == (_names(first), _names(second), second["next"])


def test_get_shows_dependents_undeclared_dependencies_and_last_event(
    client: TestClient, clock: VirtualClock
) -> None:
    """One service comes with who depends on it, its missing dependencies and last event time."""
    put(client, "db", dependencies=[{"service": "disk"}, {"service": "net", "kind": "soft"}])
    put(client, "net")
    put(client, "api", dependencies=[{"service": "db"}])
    put(client, "batch", dependencies=[{"service": "db", "kind": "soft"}])
    clock.advance(30)
    client.patch("/api/v1/services/db", json={"tier": 1})
    body = client.get("/api/v1/services/db").json()
    assert [{"service": "disk", "kind": "hard"}, {"service": "net", "kind": "soft"}] == body[
        "dependencies"
    ]
    assert [{"service": "api", "kind": "hard"}, {"service": "batch", "kind": "soft"}] == body[
        "dependents"
    ]
    assert (["disk"], START + 30) == (body["undeclared_dependencies"], body["last_event_at"])


def test_dependencies_keep_their_declared_order(client: TestClient) -> None:
    """Dependencies read back in the order they were written, not sorted."""
    deps = [{"service": n, "kind": "hard"} for n in ["zeta", "alpha", "mu"]]
    put(client, "api", dependencies=deps)
    assert deps == client.get("/api/v1/services/api").json()["dependencies"]


def test_graph_lists_nodes_edges_and_cycles(client: TestClient) -> None:
    """The graph shows every service, undeclared targets, edges with kinds and each cycle."""
    put(
        client,
        "api",
        tier=1,
        dependencies=[{"service": "db"}, {"service": "cache", "kind": "soft"}],
    )
    put(client, "db", owner="dba", dependencies=[{"service": "audit"}])
    put(client, "audit", dependencies=[{"service": "api", "kind": "soft"}])
    put(client, "solo")
    body = client.get("/api/v1/graph").json()
    assert [
        {"name": "api", "tier": 1, "owner": "team-a", "declared": True},
        {"name": "audit", "tier": 3, "owner": "team-a", "declared": True},
        {"name": "cache", "tier": None, "owner": None, "declared": False},
        {"name": "db", "tier": 3, "owner": "dba", "declared": True},
        {"name": "solo", "tier": 3, "owner": "team-a", "declared": True},
    ] == body["nodes"]
    assert [
        {"from": "api", "to": "cache", "kind": "soft"},
        {"from": "api", "to": "db", "kind": "hard"},
        {"from": "audit", "to": "api", "kind": "soft"},
        {"from": "db", "to": "audit", "kind": "hard"},
    ] == body["edges"]
    assert ([["api", "db", "audit"]], False) == (body["cycles"], body["cycles_truncated"])


def test_graph_of_an_empty_catalog(client: TestClient) -> None:
    """An empty catalog has an empty graph."""
    assert {"nodes": [], "edges": [], "cycles": [], "cycles_truncated": False} == client.get(
        "/api/v1/graph"
    ).json()


def test_graph_neighbourhood(client: TestClient) -> None:
    """?service=X&depth=N keeps the services within N hops of X, either direction."""
    put(client, "web", dependencies=[{"service": "api"}])
    put(client, "api", dependencies=[{"service": "db"}])
    put(client, "db", dependencies=[{"service": "disk"}])
    put(client, "other")

    def nodes(query: str) -> list[str]:
        return [n["name"] for n in client.get(f"/api/v1/graph?{query}").json()["nodes"]]

    assert ["api", "db", "web"] == nodes("service=api")
    assert ["api", "db", "disk", "web"] == nodes("service=api&depth=2")
    assert ["api"] == nodes("service=api&depth=0")
    assert ["db", "disk"] == nodes("service=disk&depth=1")
    edges = client.get("/api/v1/graph?service=web").json()["edges"]
    assert [{"from": "web", "to": "api", "kind": "hard"}] == edges
