"""/api/v1/spec: export, plan and apply, on SQLite and PostgreSQL, with the real handlers."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import ADMIN, bearer, token_for
from spec_helpers import (
    FAILING_MODULES,
    actions,
    apply,
    audit,
    events,
    example,
    export,
    plan,
    policy,
    service,
)

from reliant.server.domains.spec import registry

EXAMPLE_CREATES = [
    ("create", "Service", "payments"),
    ("create", "Service", "recommendations"),
    ("create", "Service", "storefront"),
    ("create", "Policy", "payments-provider"),
    ("create", "Policy", "recommendations-client"),
]


def test_plan_changes_nothing(client: TestClient) -> None:
    """A plan lists what apply would create, and the server still holds nothing."""
    body = plan(client, example())
    assert EXAMPLE_CREATES == actions(body)
    assert (True, 5, 64) == (
        body["has_changes"],
        body["summary"]["create"],
        len(body["fingerprint"]),
    )
    assert [] == export(client)


def test_apply_creates_everything_then_nothing(client: TestClient) -> None:
    """Apply writes every object; applying again changes nothing and records nothing."""
    first = apply(client, example())
    assert (True, EXAMPLE_CREATES) == (first["applied"], actions(first))
    trail = audit(client)
    second = apply(client, example())
    assert (False, 0) == (
        second["applied"],
        sum(second["summary"][a] for a in ("create", "update", "delete")),
    )
    assert 5 == second["summary"]["unchanged"]
    assert trail == audit(client)
    applied = events(client, "spec.applied")
    assert 1 == len(applied)
    assert {
        "created": 5,
        "updated": 0,
        "deleted": 0,
        "prune": False,
        "kinds": [
            "Service",
            "Policy",
            "SLO",
            "AlertRoute",
            "Schedule",
            "EscalationPolicy",
            "IncidentRule",
            "Runbook",
            "ErrorBudgetPolicy",
        ],
        "fingerprint": first["fingerprint"],
    } == applied[0]["attributes"]


def test_every_object_is_audited_by_its_handler(client: TestClient) -> None:
    """One audit record per object written, in apply order."""
    apply(client, example())
    assert [
        ("service.create", "payments"),
        ("service.create", "recommendations"),
        ("service.create", "storefront"),
        ("policy.create", "payments-provider"),
        ("policy.create", "recommendations-client"),
    ] == audit(client)


def test_export_round_trips(client: TestClient) -> None:
    """Exported documents plan to no changes, and leave defaults out."""
    apply(client, example())
    documents = export(client)
    assert ["Service"] * 3 + ["Policy"] * 2 == [d["kind"] for d in documents]
    assert {
        "owner": "team-discovery",
        "description": "Suggests products; the shop works without it.",
    } == documents[1]["spec"]
    body = plan(client, documents)
    assert (False, 5) == (body["has_changes"], body["summary"]["unchanged"])
    assert ["payments-provider", "recommendations-client"] == [
        d["metadata"]["name"] for d in export(client, kind="Policy")
    ]


def test_objects_made_outside_the_spec_are_not_in_spec_until_pruned(client: TestClient) -> None:
    """A service made through the API is listed as not in spec; prune deletes it."""
    apply(client, [service("web")])
    assert 201 == client.put("/api/v1/services/manual", json={"owner": "x"}).status_code
    body = plan(client, [service("web")])
    assert [("unchanged", "Service", "web"), ("not-in-spec", "Service", "manual")] == actions(body)
    assert (False, False) == (body["has_changes"], body["changes"][1]["managed"])
    pruned = apply(client, [service("web")], prune=True)
    assert [("delete", "Service", "manual"), ("unchanged", "Service", "web")] == actions(pruned)
    assert ["web"] == [d["metadata"]["name"] for d in export(client)]


def test_drift_of_managed_objects_is_shown_and_undone(client: TestClient) -> None:
    """A hand edit of a spec-managed service is drift with field-level detail; apply reverts it."""
    apply(client, [service("web", tier=2, links=[{"title": "a", "url": "https://a"}])])
    edited = {"owner": "team-a", "tier": 2, "links": [{"title": "a", "url": "https://b"}]}
    assert 200 == client.put("/api/v1/services/web", json=edited).status_code
    body = plan(client, [service("web", tier=2, links=[{"title": "a", "url": "https://a"}])])
    (change,) = body["changes"]
    assert ("update", True, True) == (change["action"], change["managed"], change["drift"])
    assert [{"path": "links[0].url", "before": "https://b", "after": "https://a"}] == change[
        "fields"
    ]
    apply(client, [service("web", tier=2, links=[{"title": "a", "url": "https://a"}])])
    assert "https://a" == export(client)[0]["spec"]["links"][0]["url"]


def test_stale_fingerprint_is_refused(client: TestClient) -> None:
    """Apply with the fingerprint of an outdated plan answers 409 and changes nothing."""
    apply(client, [service("web")])
    seen = plan(client, [service("web", tier=1)])
    assert 200 == client.put("/api/v1/services/web", json={"owner": "team-b"}).status_code
    response = client.post(
        "/api/v1/spec/apply",
        json={"documents": [service("web", tier=1)], "expected": seen["fingerprint"]},
    )
    assert 409 == response.status_code, response.text
    assert "run `reliant plan` again" in response.json()["detail"]
    assert {"owner": "team-b"} == export(client)[0]["spec"]
    fresh = plan(client, [service("web", tier=1)])
    done = apply(client, [service("web", tier=1)], expected=fresh["fingerprint"])
    assert (True, fresh["fingerprint"]) == (done["applied"], done["fingerprint"])


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The apply engine uses the Policy handler that refuses 'boom' and 'crash'."""
    monkeypatch.setattr(registry, "HANDLER_MODULES", FAILING_MODULES)


@pytest.mark.usefixtures("failing")
def test_a_refused_change_rolls_everything_back(client: TestClient) -> None:
    """When a handler refuses a change mid-apply, nothing of the apply remains."""
    apply(client, [service("keep")])
    trail = audit(client)
    documents = [service("keep", tier=1), service("new"), policy("a-ok"), policy("boom")]
    response = client.post("/api/v1/spec/apply", json={"documents": documents, "prune": True})
    assert 422 == response.status_code, response.text
    assert (
        "create Policy boom failed: the store refused 'boom'; nothing was applied"
        == response.json()["detail"]
    )
    assert [service("keep")] == export(client)
    assert trail == audit(client)
    assert 1 == len(events(client, "spec.applied"))


@pytest.mark.usefixtures("failing")
def test_an_unexpected_error_rolls_back_too(app: FastAPI) -> None:
    """A handler crashing with an unexpected error gives a 500 and leaves nothing changed."""
    with TestClient(
        app, base_url="https://testserver", headers=bearer(ADMIN), raise_server_exceptions=False
    ) as client:
        response = client.post(
            "/api/v1/spec/apply", json={"documents": [service("new"), policy("crash")]}
        )
        assert 500 == response.status_code, response.text
        assert [] == export(client)


def test_invalid_documents_are_422_with_every_problem(client: TestClient) -> None:
    """Each problem names the document's position, the object and the key path."""
    bad = service("web", tier=9)
    response = client.post(
        "/api/v1/spec/plan",
        json={"documents": [bad, {"kind": "Nope"}, policy("p") | {"metadata": {"name": "P!"}}]},
    )
    assert 422 == response.status_code
    assert [
        "documents[0]: Service web: spec.tier: should be less than or equal to 4, got 9",
        "documents[1]: kind: unknown kind 'Nope' (known kinds: Service, Policy, SLO, "
        "AlertRoute, Schedule, EscalationPolicy, IncidentRule, Runbook, ErrorBudgetPolicy)",
        "documents[2]: Policy P!: metadata.name: should be a name of lowercase letters, "
        "digits, '.', '-' and '_', starting and ending alphanumeric, got 'P!'",
    ] == response.json()["errors"]


def test_kinds_limit_the_scope(client: TestClient) -> None:
    """With kinds=[Service], policies on the server are neither listed nor pruned."""
    apply(client, [service("payments"), policy("p")])
    body = plan(client, [service("payments")], kinds=["Service"], prune=True)
    assert [("unchanged", "Service", "payments")] == actions(body)
    response = client.post(
        "/api/v1/spec/plan", json={"documents": [policy("p")], "kinds": ["Service"]}
    )
    assert 422 == response.status_code
    assert "kind 'Policy' is not in scope here (in scope: Service)" in response.json()["detail"]
    unknown = client.get("/api/v1/spec/export", params={"kind": "Slo"})
    assert (
        422,
        "kind 'Slo' is not managed here (managed: Service, Policy, SLO, AlertRoute, Schedule, "
        "EscalationPolicy, IncidentRule, Runbook, ErrorBudgetPolicy)",
    ) == (
        unknown.status_code,
        unknown.json()["detail"],
    )


def test_roles(client: TestClient, anonymous: TestClient) -> None:
    """Viewers export and plan; only operators and admins apply; ingest tokens do neither."""
    body = {"documents": [service("web")]}
    viewer, operator, ingest = (
        bearer(token_for(client, r)) for r in ("viewer", "operator", "ingest")
    )
    assert 401 == anonymous.post("/api/v1/spec/plan", json=body).status_code
    assert 200 == client.get("/api/v1/spec/export", headers=viewer).status_code
    assert 200 == client.post("/api/v1/spec/plan", json=body, headers=viewer).status_code
    assert 403 == client.post("/api/v1/spec/apply", json=body, headers=viewer).status_code
    assert 403 == client.post("/api/v1/spec/plan", json=body, headers=ingest).status_code
    assert 200 == client.post("/api/v1/spec/apply", json=body, headers=operator).status_code


def test_a_missing_handler_module_fails_clearly(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler module that cannot be imported is named in the 500 problem."""
    monkeypatch.setattr(registry, "HANDLER_MODULES", ("reliant.server.domains.nope",))
    response = client.post("/api/v1/spec/plan", json={"documents": []})
    assert 500 == response.status_code
    assert response.json()["detail"].startswith(
        "spec handler module 'reliant.server.domains.nope' cannot be imported"
    )


def test_registry_rejects_bad_handlers() -> None:
    """A module without SPEC_HANDLER, or two handlers of one kind, is a RegistryError."""
    with pytest.raises(registry.RegistryError, match=r"json\.SPEC_HANDLER is missing"):
        registry.handlers(["json"])
    with pytest.raises(registry.RegistryError, match="two handlers for kind 'Service'"):
        registry.handlers(["reliant.server.domains.catalog"] * 2)
    assert ["Service", "Policy"] == list(
        registry.handlers(["reliant.server.domains.config", "reliant.server.domains.catalog"])
    )


def test_hand_edit_of_a_managed_policy_is_drift(client: TestClient) -> None:
    """A policy written by apply, then edited through the API, shows as managed drift."""
    documents = [service("payments"), policy("charge")]
    apply(client, documents)
    edited = {"service": "payments", "pipeline": [{"kind": "retry", "attempts": 5}]}
    assert 200 == client.put("/api/v1/policies/charge", json=edited).status_code
    body = plan(client, documents)
    change = next(c for c in body["changes"] if c["kind"] == "Policy")
    assert ("update", True, True) == (change["action"], change["managed"], change["drift"])
