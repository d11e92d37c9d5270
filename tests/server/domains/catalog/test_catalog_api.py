"""The catalog's write API: create, replace, patch, delete, validation, audit, events, roles."""

from __future__ import annotations

from typing import Any

import pytest
from catalog_helpers import audit_of, events_of, put, spec
from fastapi.testclient import TestClient
from server_helpers import START, bearer, token_for

from reliant.testing import VirtualClock

LINK = {"title": "Runbook", "url": "https://runbooks.example.com/payments", "kind": "runbook"}


def test_put_creates_with_the_spec_defaults(client: TestClient) -> None:
    """PUT on a new name answers 201 with the spec's defaults filled in."""
    response = client.put("/api/v1/services/payments", json=spec(owner="team-payments"))
    assert 201 == response.status_code
    assert {
        "name": "payments",
        "owner": "team-payments",
        "tier": 3,
        "environment": "production",
        "description": "",
        "links": [],
        "dependencies": [],
        "labels": {},
        "managed_by": "api",
        "created_at": START,
        "updated_at": START,
    } == response.json()


def test_put_replaces_and_keeps_the_creation_time(client: TestClient, clock: VirtualClock) -> None:
    """PUT on an existing name answers 200, replaces the spec and bumps updated_at only."""
    put(client, "payments", tier=2, labels={"team": "a"})
    clock.advance(60)
    response = client.put("/api/v1/services/payments", json=spec(owner="team-b", links=[LINK]))
    body = response.json()
    assert (200, "team-b", 3, {}, [LINK]) == (
        response.status_code,
        body["owner"],
        body["tier"],
        body["labels"],
        body["links"],
    )
    assert (START, START + 60) == (body["created_at"], body["updated_at"])


def test_identical_put_changes_nothing(
    client: TestClient, clock: VirtualClock, db_url: str
) -> None:
    """A PUT equal to the stored spec answers 200 and writes no audit record or event."""
    first = put(client, "payments", tier=1, links=[LINK], labels={"a": "b"})
    clock.advance(60)
    response = client.put(
        "/api/v1/services/payments", json=spec(tier=1, links=[LINK], labels={"a": "b"})
    )
    assert (200, first) == (response.status_code, response.json())
    assert ["service.create"] == [a["action"] for a in audit_of(db_url, "payments")]
    assert ["service.created"] == [e["kind"] for e in events_of(db_url, "payments")]


def test_post_creates_and_refuses_a_taken_name(client: TestClient) -> None:
    """POST creates a service (201); a second POST of the name is a 409 problem."""
    created = client.post("/api/v1/services", json={"name": "payments", **spec(tier=1)})
    assert (201, "payments", 1) == (
        created.status_code,
        created.json()["name"],
        created.json()["tier"],
    )
    again = client.post("/api/v1/services", json={"name": "payments", **spec()})
    assert (409, "application/problem+json") == (
        again.status_code,
        again.headers["content-type"],
    )
    assert "PUT /api/v1/services/payments" in again.json()["detail"]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/services/ghost"),
        ("DELETE", "/api/v1/services/ghost"),
        ("PATCH", "/api/v1/services/ghost"),
        ("GET", "/api/v1/graph?service=ghost"),
    ],
)
def test_missing_service_is_a_404_problem(client: TestClient, method: str, path: str) -> None:
    """Reading, patching or deleting an unknown service answers 404 naming it."""
    response = client.request(method, path, json={} if method == "PATCH" else None)
    assert (404, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert "'ghost'" in response.json()["detail"]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/services/Bad_Name", spec(), "path.name"),
        ("/api/v1/services/-x", spec(), "path.name"),
        ("/api/v1/services/payments", spec(tier=9), "body.tier"),
        ("/api/v1/services/payments", spec(tier=0), "body.tier"),
        ("/api/v1/services/payments", spec(owner=""), "body.owner"),
        ("/api/v1/services/payments", {"tier": 1}, "body.owner"),
        ("/api/v1/services/payments", spec(colour="red"), "body.colour"),
        (
            "/api/v1/services/payments",
            spec(links=[{"title": "x", "url": "ftp://example.com"}]),
            "body.links.0.url",
        ),
        (
            "/api/v1/services/payments",
            spec(dependencies=[{"service": "Db"}]),
            "body.dependencies.0.service",
        ),
        (
            "/api/v1/services/payments",
            spec(dependencies=[{"service": "db"}, {"service": "db", "kind": "soft"}]),
            "body.dependencies",
        ),
        (
            "/api/v1/services/payments",
            spec(dependencies=[{"service": "db", "kind": "maybe"}]),
            "body.dependencies.0.kind",
        ),
    ],
)
def test_invalid_put_is_a_422_naming_the_field(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    """An invalid name or spec answers 422 whose detail names the offending field."""
    response = client.put(path, json=body)
    assert (422, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert response.json()["detail"].startswith(field)


def test_post_with_a_bad_name_is_a_422(client: TestClient) -> None:
    """POST validates the name in the body."""
    response = client.post("/api/v1/services", json={"name": "Payments!", **spec()})
    assert (422, True) == (
        response.status_code,
        response.json()["detail"].startswith("body.name"),
    )


def test_patch_changes_only_the_given_fields(client: TestClient) -> None:
    """PATCH merges the given fields into the spec; null resets one to its default."""
    put(client, "payments", tier=1, description="moves money", labels={"a": "b"})
    response = client.patch("/api/v1/services/payments", json={"tier": 2, "description": None})
    body = response.json()
    assert (200, 2, "", {"a": "b"}, "team-a") == (
        response.status_code,
        body["tier"],
        body["description"],
        body["labels"],
        body["owner"],
    )


def test_patch_cannot_clear_a_required_field(client: TestClient) -> None:
    """PATCH with owner null answers 422 naming body.owner, and changes nothing."""
    put(client, "payments")
    response = client.patch("/api/v1/services/payments", json={"owner": None})
    assert (422, True) == (
        response.status_code,
        response.json()["detail"].startswith("body.owner"),
    )
    assert "team-a" == client.get("/api/v1/services/payments").json()["owner"]


def test_patch_rejects_an_invalid_value(client: TestClient) -> None:
    """PATCH validates its fields like PUT does."""
    put(client, "payments")
    response = client.patch("/api/v1/services/payments", json={"tier": 9})
    assert (422, True) == (
        response.status_code,
        response.json()["detail"].startswith("body.tier"),
    )


def test_delete_refuses_while_hard_dependents_exist(client: TestClient) -> None:
    """DELETE answers 409 naming the services that hard-depend on it; soft ones do not block."""
    put(client, "db")
    put(client, "api", dependencies=[{"service": "db"}])
    put(client, "batch", dependencies=[{"service": "db", "kind": "soft"}])
    put(client, "web", dependencies=[{"service": "db"}])
    refused = client.delete("/api/v1/services/db")
    assert 409 == refused.status_code
    assert "api, web declare a hard dependency on 'db'" in refused.json()["detail"]
    assert "?force=true" in refused.json()["detail"]
    assert 200 == client.get("/api/v1/services/db").status_code


def test_forced_delete_leaves_dependents_pointing_at_an_undeclared_service(
    client: TestClient,
) -> None:
    """DELETE ?force=true removes the service; its dependents keep an undeclared dependency."""
    put(client, "db", tier=1)
    put(client, "api", dependencies=[{"service": "db"}])
    deleted = client.delete("/api/v1/services/db?force=true")
    assert (200, "db", 1) == (deleted.status_code, deleted.json()["name"], deleted.json()["tier"])
    assert 404 == client.get("/api/v1/services/db").status_code
    assert ["db"] == client.get("/api/v1/services/api").json()["undeclared_dependencies"]


def test_delete_takes_the_services_own_dependencies_along(client: TestClient) -> None:
    """Deleting a service removes the dependencies it declared; a self-dependency never blocks."""
    put(client, "db")
    put(client, "api", dependencies=[{"service": "db"}, {"service": "api"}])
    assert 200 == client.delete("/api/v1/services/api").status_code
    assert [] == client.get("/api/v1/services/db").json()["dependents"]


def test_mutations_are_audited_with_before_and_after(
    client: TestClient, clock: VirtualClock, db_url: str
) -> None:
    """Create, update and delete each write an audit record holding the spec as JSON."""
    put(client, "payments", tier=2)
    clock.advance(1)
    put(client, "payments", tier=1)
    clock.advance(1)
    client.delete("/api/v1/services/payments")
    created = {**spec(tier=2), "environment": "production", "description": ""}
    created |= {"links": [], "dependencies": [], "labels": {}, "managed_by": "api"}
    updated = {**created, "tier": 1}
    assert [
        {"actor": "bootstrap-admin", "action": "service.create", "before": None, "after": created},
        {
            "actor": "bootstrap-admin",
            "action": "service.update",
            "before": created,
            "after": updated,
        },
        {"actor": "bootstrap-admin", "action": "service.delete", "before": updated, "after": None},
    ] == audit_of(db_url, "payments")


def test_mutations_emit_events(client: TestClient, clock: VirtualClock, db_url: str) -> None:
    """Each real change appends one event; updates name the fields that changed."""
    put(client, "payments", tier=2)
    clock.advance(1)
    put(client, "payments", tier=1, labels={"a": "b"})
    clock.advance(1)
    client.patch("/api/v1/services/payments", json={"owner": "team-b"})
    clock.advance(1)
    client.delete("/api/v1/services/payments")
    assert [
        {
            "kind": "service.created",
            "source": "bootstrap-admin",
            "time": START,
            "attributes": {"owner": "team-a", "tier": 2, "managed_by": "api"},
        },
        {
            "kind": "service.updated",
            "source": "bootstrap-admin",
            "time": START + 1,
            "attributes": {"changed": ["tier", "labels"]},
        },
        {
            "kind": "service.updated",
            "source": "bootstrap-admin",
            "time": START + 2,
            "attributes": {"changed": ["owner"]},
        },
        {
            "kind": "service.deleted",
            "source": "bootstrap-admin",
            "time": START + 3,
            "attributes": {"forced": False, "dependents": []},
        },
    ] == events_of(db_url, "payments")


def test_viewer_reads_but_cannot_write(client: TestClient, anonymous: TestClient) -> None:
    """A viewer token reads the catalog and gets 403 on every write."""
    put(client, "payments")
    viewer = bearer(token_for(client, "viewer"))
    reads = [
        anonymous.get("/api/v1/services", headers=viewer),
        anonymous.get("/api/v1/services/payments", headers=viewer),
        anonymous.get("/api/v1/graph", headers=viewer),
    ]
    writes = [
        anonymous.put("/api/v1/services/x", json=spec(), headers=viewer),
        anonymous.post("/api/v1/services", json={"name": "x", **spec()}, headers=viewer),
        anonymous.patch("/api/v1/services/payments", json={"tier": 1}, headers=viewer),
        anonymous.delete("/api/v1/services/payments", headers=viewer),
    ]
    assert [200, 200, 200] == [r.status_code for r in reads]
    assert [403, 403, 403, 403] == [r.status_code for r in writes]
    assert "operator" in writes[0].json()["detail"]


def test_operator_can_write(client: TestClient, anonymous: TestClient, db_url: str) -> None:
    """An operator token may create services, and is named as the actor."""
    operator = bearer(token_for(client, "operator", name="ops"))
    response = anonymous.put("/api/v1/services/payments", json=spec(), headers=operator)
    assert 201 == response.status_code
    assert ["ops"] == [a["actor"] for a in audit_of(db_url, "payments")]


def test_ingest_token_cannot_read_the_catalog(client: TestClient, anonymous: TestClient) -> None:
    """An SDK's ingest token gets 403 on the catalog, even for its own service."""
    put(client, "payments")
    ingest = bearer(token_for(client, "ingest", service="payments"))
    paths = ["/api/v1/services", "/api/v1/services/payments", "/api/v1/graph"]
    assert [403, 403, 403] == [anonymous.get(p, headers=ingest).status_code for p in paths]


def test_anonymous_is_401(anonymous: TestClient) -> None:
    """Without a token the catalog answers 401."""
    assert 401 == anonymous.get("/api/v1/services").status_code


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (spec(owner="a\x00b"), "body.owner"),
        (spec(labels={"ok": "v\x00"}), "body.labels.ok"),
        (spec(labels={"k\x00": "v"}), "body.labels.k\x00"),
        (spec(links=[{"title": "t\x00", "url": "https://x.example"}]), "body.links.0.title"),
    ],
)
def test_nul_characters_are_a_422_on_every_store(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    """Text with NUL characters, which PostgreSQL cannot store, is refused naming the field."""
    for response in (
        client.put("/api/v1/services/payments", json=body),
        client.post("/api/v1/services", json={"name": "payments", **body}),
    ):
        assert (422, True) == (
            response.status_code,
            response.json()["detail"].startswith(f"{field}: text must not contain NUL"),
        )
    put(client, "payments")
    patched = client.patch("/api/v1/services/payments", json=body)
    assert 422 == patched.status_code


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/services/a%00b",
        "/api/v1/services?owner=a%00b",
        "/api/v1/services?environment=a%00b",
        "/api/v1/services?label=a%00=b",
        "/api/v1/graph?service=a%00b",
    ],
)
def test_nul_characters_in_the_url_are_a_422(client: TestClient, path: str) -> None:
    """A NUL character in a name or filter answers 422, never a store error."""
    assert 422 == client.get(path).status_code
