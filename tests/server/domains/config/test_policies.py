"""Policies (kind Policy): REST API, the spec handler, and their place in config documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from config_helpers import audit_trail, changes
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, token_for

from reliant.agent.protocol import config_path
from reliant.server.auth import Principal, Role
from reliant.server.db import transaction
from reliant.server.domains.config import SPEC_HANDLER, PolicyHandler
from reliant.server.http import Ctx, Problem
from reliant.spec.models import PolicySpec

RETRY = [{"kind": "retry", "attempts": 3}]


def _spec(service: str = "payments", **extra: Any) -> dict[str, Any]:
    return {"service": service, "pipeline": RETRY, **extra}


def _version(client: TestClient, service: str) -> int:
    return int(client.get(config_path(service)).json()["version"])


def test_put_creates_then_replaces(client: TestClient) -> None:
    """PUT creates (201), replaces (200); GET returns the spec and who manages it."""
    created = client.put("/api/v1/policies/charge", json=_spec())
    replaced = client.put("/api/v1/policies/charge", json=_spec(description="retry charges"))
    assert (201, 200) == (created.status_code, replaced.status_code)
    body = client.get("/api/v1/policies/charge").json()
    assert (
        "charge",
        {"service": "payments", "description": "retry charges", "pipeline": RETRY},
        "api",
    ) == (body["name"], body["spec"], body["managed_by"])


def test_policy_is_in_its_services_document(client: TestClient) -> None:
    """A policy appears under policies in spec.service's document, without the service."""
    client.put("/api/v1/policies/charge", json=_spec())
    doc = client.get(config_path("payments")).json()
    assert ({"charge": {"description": "", "pipeline": RETRY}}, 1) == (
        doc["policies"],
        doc["version"],
    )


def test_versions_bump_on_change_only(client: TestClient, app: FastAPI) -> None:
    """Creating, changing and deleting bump the version; an identical PUT does not."""
    client.put("/api/v1/policies/charge", json=_spec())
    client.put("/api/v1/policies/charge", json=_spec())
    assert 1 == _version(client, "payments")
    client.put("/api/v1/policies/charge", json=_spec(description="x"))
    assert 2 == _version(client, "payments")
    assert 204 == client.delete("/api/v1/policies/charge").status_code
    assert (3, {}) == (
        _version(client, "payments"),
        client.get(config_path("payments")).json()["policies"],
    )
    assert [
        ("policy.create", "policy", "charge"),
        ("policy.update", "policy", "charge"),
        ("policy.delete", "policy", "charge"),
    ] == audit_trail(app)
    assert ["set", "set", "removed"] == [a["change"] for _, a in changes(app)]


def test_moving_a_policy_bumps_both_services(client: TestClient, app: FastAPI) -> None:
    """A policy moved from A to B leaves A's document and joins B's; both versions bump."""
    client.put("/api/v1/policies/charge", json=_spec("payments"))
    client.put("/api/v1/policies/charge", json=_spec("billing"))
    assert (2, 1) == (_version(client, "payments"), _version(client, "billing"))
    assert {} == client.get(config_path("payments")).json()["policies"]
    assert ["charge"] == list(client.get(config_path("billing")).json()["policies"])
    assert [("payments", "removed", 2), ("billing", "set", 1)] == [
        (s, a["change"], a["version"]) for s, a in changes(app)
    ][1:]


def test_missing_policy_is_404(client: TestClient) -> None:
    """GET and DELETE of an unknown policy are 404."""
    assert 404 == client.get("/api/v1/policies/nope").status_code
    assert 404 == client.delete("/api/v1/policies/nope").status_code


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            {"service": "payments", "pipeline": [{"kind": "retry", "attempts": 0}]},
            "pipeline[0].attempts",
        ),
        ({"service": "payments", "pipeline": []}, "body.pipeline"),
        ({"service": "Pay Ments", "pipeline": RETRY}, "body.service"),
        ({"service": "payments", "pipeline": RETRY, "extra": 1}, "body.extra"),
    ],
)
def test_invalid_policy_is_422(client: TestClient, body: dict[str, Any], where: str) -> None:
    """Bodies failing PolicySpec (the pipeline must build) are 422 naming the problem."""
    response = client.put("/api/v1/policies/charge", json=body)
    assert 422 == response.status_code
    assert where in response.json()["detail"]


@pytest.mark.parametrize("text", ["nul \x00 inside", "lone \ud800 surrogate"])
def test_unstorable_text_is_422(client: TestClient, app: FastAPI, text: str) -> None:
    """Text no store keeps (NUL, lone surrogates) is refused by the API and the handler."""
    body = json.dumps(_spec(description=text)).encode()
    response = client.put(
        "/api/v1/policies/charge", content=body, headers={"Content-Type": "application/json"}
    )
    assert (422, 0) == (response.status_code, _version(client, "payments"))
    with _ctx(app) as ctx, pytest.raises(Problem) as refused:
        SPEC_HANDLER.create(ctx, "charge", _spec(description=text))
    assert 422 == refused.value.status


def test_policy_names_follow_the_naming_rule(client: TestClient) -> None:
    """Policy names are reliant.yaml names: lowercase, digits, '.', '-', '_'."""
    assert 422 == client.put("/api/v1/policies/Charge", json=_spec()).status_code


def test_list_filters_by_service_and_paginates(client: TestClient) -> None:
    """GET /policies lists by name, filtered by service, a page at a time."""
    for name, service in (("a", "payments"), ("b", "billing"), ("c", "payments")):
        client.put(f"/api/v1/policies/{name}", json=_spec(service))
    first = client.get("/api/v1/policies", params={"limit": 2}).json()
    rest = client.get("/api/v1/policies", params={"limit": 2, "cursor": first["next"]}).json()
    only = client.get("/api/v1/policies", params={"service": "payments"}).json()
    assert (["a", "b"], ["c"], None, ["a", "c"]) == (
        [p["name"] for p in first["items"]],
        [p["name"] for p in rest["items"]],
        rest["next"],
        [p["name"] for p in only["items"]],
    )


def test_policy_roles(client: TestClient) -> None:
    """Viewers read policies; only operators write them; SDK tokens do neither."""
    client.put("/api/v1/policies/charge", json=_spec())
    viewer = bearer(token_for(client, "viewer"))
    ingest = bearer(token_for(client, "ingest"))
    assert 200 == client.get("/api/v1/policies/charge", headers=viewer).status_code
    assert 200 == client.get("/api/v1/policies", headers=viewer).status_code
    assert 403 == client.put("/api/v1/policies/x", json=_spec(), headers=viewer).status_code
    assert 403 == client.delete("/api/v1/policies/charge", headers=viewer).status_code
    assert 403 == client.get("/api/v1/policies", headers=ingest).status_code


@contextmanager
def _ctx(app: FastAPI, now: float = 1_800_000_000.0) -> Iterator[Ctx]:
    with transaction(app.state.sessions) as session:
        principal = Principal("000000000009", "alice", Role.OPERATOR)
        yield Ctx(session=session, principal=principal, settings=app.state.settings, now=now)


def test_spec_handler_round_trip(client: TestClient, app: FastAPI) -> None:
    """The handler creates, updates and deletes policies as apply would, marked as spec."""
    assert isinstance(SPEC_HANDLER, PolicyHandler)
    assert "Policy" == SPEC_HANDLER.kind
    with _ctx(app) as ctx:
        SPEC_HANDLER.create(ctx, "charge", PolicySpec.model_validate(_spec()))
        SPEC_HANDLER.create(ctx, "refund", _spec("billing"))
    with _ctx(app) as ctx:
        assert {
            "charge": {"service": "payments", "description": "", "pipeline": RETRY},
            "refund": {"service": "billing", "description": "", "pipeline": RETRY},
        } == SPEC_HANDLER.current(ctx.session)
        SPEC_HANDLER.update(ctx, "charge", _spec(description="d"))
        SPEC_HANDLER.update(ctx, "refund", _spec("billing"))  # unchanged: a no-op
        SPEC_HANDLER.delete(ctx, "refund")
    assert (2, 2) == (_version(client, "payments"), _version(client, "billing"))
    body = client.get("/api/v1/policies/charge").json()
    assert ("spec", "alice", "d") == (
        body["managed_by"],
        body["updated_by"],
        body["spec"]["description"],
    )
    assert [
        ("alice", "policy.create"),
        ("alice", "policy.create"),
        ("alice", "policy.update"),
        ("alice", "policy.delete"),
    ] == [("alice", a) for a, _, _ in audit_trail(app)]


def test_spec_handler_errors(app: FastAPI, client: TestClient) -> None:
    """Creating an existing policy is 409; updating or deleting a missing one is 404."""
    client.put("/api/v1/policies/charge", json=_spec())
    with _ctx(app) as ctx:
        with pytest.raises(Problem) as exists:
            SPEC_HANDLER.create(ctx, "charge", _spec())
        with pytest.raises(Problem) as missing:
            SPEC_HANDLER.update(ctx, "nope", _spec())
        with pytest.raises(Problem) as gone:
            SPEC_HANDLER.delete(ctx, "nope")
    assert (409, 404, 404) == (exists.value.status, missing.value.status, gone.value.status)
