"""Overrides and the config document: versions, ETags, validation, audit, events, roles."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from config_helpers import audit_trail, changes
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, token_for

from reliant.agent.protocol import config_path
from reliant.server.auth import Principal, Role
from reliant.server.db import transaction
from reliant.server.domains import config
from reliant.server.domains.config.service import set_override
from reliant.server.http import Ctx

OVERRIDES = "/api/v1/services/payments/overrides"


def _doc(client: TestClient, service: str = "payments", if_none_match: str = "") -> Any:
    headers = {"If-None-Match": if_none_match} if if_none_match else {}
    return client.get(config_path(service), headers=headers)


def test_unconfigured_service_has_an_empty_document(client: TestClient) -> None:
    """A service nobody configured (even one not in the catalog) is at version 0, empty."""
    response = _doc(client, "never-declared")
    assert (200, '"0"') == (response.status_code, response.headers["etag"])
    assert {
        "service": "never-declared",
        "version": 0,
        "breakers": {},
        "limiters": {},
        "faults": {},
        "policies": {},
        "flags": {},
    } == response.json()


def test_overrides_appear_in_the_document(client: TestClient) -> None:
    """Each override lands in its section; the version counts the changes."""
    client.put(f"{OVERRIDES}/breakers/payments-db", json={"state": "forced_open"})
    client.put(f"{OVERRIDES}/limiters/inbound", json={"rate": 50, "burst": 10})
    client.put(f"{OVERRIDES}/faults/payments-latency", json={"enabled": True})
    client.put(f"{OVERRIDES}/limiters/outbound", json={"rate": 2.5, "per": 60})
    response = _doc(client)
    assert {
        "service": "payments",
        "version": 4,
        "breakers": {"payments-db": {"state": "forced_open"}},
        "limiters": {
            "inbound": {"rate": 50.0, "burst": 10},
            "outbound": {"rate": 2.5, "per": 60.0},
        },
        "faults": {"payments-latency": {"enabled": True}},
        "policies": {},
        "flags": {},
    } == response.json()
    assert '"4"' == response.headers["etag"]


def test_etag_and_if_none_match(client: TestClient) -> None:
    """If-None-Match with the current version (or weak, listed, *) answers 304 without body."""
    client.put(f"{OVERRIDES}/breakers/db", json={"state": "disabled"})
    for header in ('"1"', 'W/"1"', '"0", "1"', "*"):
        response = _doc(client, if_none_match=header)
        assert (304, b"", '"1"') == (
            response.status_code,
            response.content,
            response.headers["etag"],
        )
    assert 200 == _doc(client, if_none_match='"0"').status_code


def test_version_bumps_once_per_change_and_not_on_no_op(client: TestClient, app: FastAPI) -> None:
    """Re-putting the same value changes nothing: no version, no audit, no event."""
    body = {"rate": 50.0, "per": 1.0, "burst": 10}
    first = client.put(f"{OVERRIDES}/limiters/inbound", json=body)
    again = client.put(f"{OVERRIDES}/limiters/inbound", json={"rate": 50, "per": 1, "burst": 10})
    changed = client.put(f"{OVERRIDES}/limiters/inbound", json={"rate": 50, "burst": 10})
    assert [1, 1, 2] == [r.json()["version"] for r in (first, again, changed)]
    assert 2 == _doc(client).json()["version"]
    assert 2 == len(audit_trail(app))
    assert 2 == len(changes(app))


def test_versions_are_per_service(client: TestClient) -> None:
    """A change to one service leaves another's version alone."""
    client.put(f"{OVERRIDES}/breakers/db", json={"state": "disabled"})
    client.put("/api/v1/services/orders/overrides/breakers/db", json={"state": "disabled"})
    client.put("/api/v1/services/orders/overrides/breakers/db", json={"state": "forced_open"})
    assert (1, 2) == (_doc(client).json()["version"], _doc(client, "orders").json()["version"])


def test_delete_returns_to_automatic(client: TestClient) -> None:
    """DELETE removes the override (204) and bumps the version; a missing one is 404."""
    client.put(f"{OVERRIDES}/breakers/payments-db", json={"state": "forced_open"})
    assert 204 == client.delete(f"{OVERRIDES}/breakers/payments-db").status_code
    assert ({}, 2) == (_doc(client).json()["breakers"], _doc(client).json()["version"])
    missing = client.delete(f"{OVERRIDES}/breakers/payments-db")
    assert 404 == missing.status_code
    assert "no override of breakers 'payments-db'" in missing.json()["detail"]
    assert 2 == _doc(client).json()["version"]


def test_sdk_object_names_may_hold_slashes_and_colons(client: TestClient) -> None:
    """Names as code writes them (payments/db, Svc:charge) are accepted in the path."""
    for name in ("payments/db", "Svc:charge", "a.b_c-d"):
        assert 200 == client.put(f"{OVERRIDES}/faults/{name}", json={"enabled": False}).status_code
    assert {"payments/db", "Svc:charge", "a.b_c-d"} == set(_doc(client).json()["faults"])
    assert 204 == client.delete(f"{OVERRIDES}/faults/payments/db").status_code


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("breakers/db", {"state": "open"}),
        ("breakers/db", {"state": "forced_open", "extra": 1}),
        ("limiters/in", {"rate": 0}),
        ("limiters/in", {"rate": -1}),
        ("limiters/in", {"rate": 10, "burst": 0}),
        ("limiters/in", {"rate": 10, "burst": 1.5}),
        ("limiters/in", {"rate": 10, "per": 0}),
        ("limiters/in", {"burst": 3}),
        ("faults/f", {"enabled": "maybe"}),
        ("faults/-bad", {"enabled": True}),
        ("faults/" + "x" * 201, {"enabled": True}),
    ],
)
def test_invalid_overrides_are_422(client: TestClient, path: str, body: dict[str, Any]) -> None:
    """Unknown states, non-positive rates, fractional or zero bursts and bad names are refused."""
    response = client.put(f"{OVERRIDES}/{path}", json=body)
    assert (422, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert 0 == _doc(client).json()["version"]


def test_bad_service_name_is_422(client: TestClient) -> None:
    """Service names follow the catalog's naming rule."""
    assert 422 == client.get(config_path("Not_OK")).status_code
    assert (
        422
        == client.put(
            "/api/v1/services/UPPER/overrides/breakers/db", json={"state": "disabled"}
        ).status_code
    )


def test_changes_are_audited_and_evented(client: TestClient, app: FastAPI) -> None:
    """Each change writes an audit record and a config.changed event saying what changed."""
    client.put(f"{OVERRIDES}/breakers/payments-db", json={"state": "forced_open"})
    client.delete(f"{OVERRIDES}/breakers/payments-db")
    assert [
        ("override.set", "override", "payments/breakers/payments-db"),
        ("override.remove", "override", "payments/breakers/payments-db"),
    ] == audit_trail(app)
    assert [
        (
            "payments",
            {
                "target": "breaker",
                "name": "payments-db",
                "change": "set",
                "before": None,
                "after": {"state": "forced_open"},
                "version": 1,
            },
        ),
        (
            "payments",
            {
                "target": "breaker",
                "name": "payments-db",
                "change": "removed",
                "before": {"state": "forced_open"},
                "after": None,
                "version": 2,
            },
        ),
    ] == changes(app)


def test_list_overrides(client: TestClient, clock: Any) -> None:
    """Viewers list a service's overrides with who set them and when."""
    client.put(f"{OVERRIDES}/breakers/db", json={"state": "metrics_only"})
    clock.advance(5)
    client.put(f"{OVERRIDES}/faults/slow", json={"enabled": True})
    viewer = bearer(token_for(client, "viewer"))
    body = client.get(OVERRIDES, headers=viewer).json()
    assert {
        "service": "payments",
        "version": 2,
        "items": [
            {
                "service": "payments",
                "kind": "breakers",
                "name": "db",
                "value": {"state": "metrics_only"},
                "updated_at": clock.now() - 5,
                "updated_by": "bootstrap-admin",
                "version": 2,
            },
            {
                "service": "payments",
                "kind": "faults",
                "name": "slow",
                "value": {"enabled": True},
                "updated_at": clock.now(),
                "updated_by": "bootstrap-admin",
                "version": 2,
            },
        ],
    } == body


def test_roles(client: TestClient, anonymous: TestClient) -> None:
    """Operators write; viewers read overrides only; SDK tokens read their own document."""
    viewer = bearer(token_for(client, "viewer"))
    operator = bearer(token_for(client, "operator"))
    bound = bearer(token_for(client, "ingest", name="sdk-payments", service="payments"))
    unbound = bearer(token_for(client, "ingest", name="sdk-any"))
    put = f"{OVERRIDES}/breakers/db"
    body = {"state": "disabled"}
    assert 401 == anonymous.get(config_path("payments")).status_code
    assert 403 == client.put(put, json=body, headers=viewer).status_code
    assert 403 == client.put(put, json=body, headers=bound).status_code
    assert 200 == client.put(put, json=body, headers=operator).status_code
    assert 403 == client.delete(put, headers=viewer).status_code
    assert 200 == client.get(OVERRIDES, headers=viewer).status_code
    assert 403 == client.get(OVERRIDES, headers=bound).status_code
    assert 403 == client.get(config_path("payments"), headers=viewer).status_code
    assert 200 == client.get(config_path("payments"), headers=bound).status_code
    assert 200 == client.get(config_path("orders"), headers=unbound).status_code
    refused = client.get(config_path("orders"), headers=bound)
    assert 403 == refused.status_code
    assert "bound to service 'payments'" in refused.json()["detail"]
    stream = client.get(config_path("orders") + "/stream", headers=bound)
    assert 403 == stream.status_code


def test_facade_document_and_overrides(client: TestClient, app: FastAPI) -> None:
    """The facade gives the document and the overrides rows to other domains."""
    client.put(f"{OVERRIDES}/faults/slow", json={"enabled": True})
    with transaction(app.state.sessions) as session:
        doc = config.config_document(session, "payments")
        rows = config.overrides(session, "payments")
        assert (1, {"slow": {"enabled": True}}) == (doc["version"], doc["faults"])
        assert [("faults", "slow")] == [(r.kind, r.name) for r in rows]
        assert 1 == config.version(session, "payments")


def test_concurrent_changes_each_bump_the_version_once(app: FastAPI) -> None:
    """Changes committed at the same time each get their own version: 1..n, none lost."""
    sessions = app.state.sessions

    def change(n: int) -> None:
        with transaction(sessions) as session:
            principal = Principal("000000000009", "alice", Role.OPERATOR)
            ctx = Ctx(session=session, principal=principal, settings=app.state.settings, now=0.0)
            set_override(ctx, "payments", "faults", f"f{n}", {"enabled": True})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(change, range(12)))
    with transaction(sessions) as session:
        assert 12 == config.version(session, "payments")
    assert list(range(1, 13)) == sorted(a["version"] for _, a in changes(app))
