"""The SLO kind in ``reliant apply``, and alerts reaching the real alerts domain."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from slo_helpers import T0, evaluate, push, put, slo, steady

from reliant.server.db import transaction
from reliant.server.domains import slo as slo_domain
from reliant.server.domains.slo import cycle
from reliant.server.domains.spec.registry import handlers


def _document(name: str, **changes: Any) -> dict[str, Any]:
    return {
        "apiVersion": "reliant.dev/v1",
        "kind": "SLO",
        "metadata": {"name": name},
        "spec": slo(**changes),
    }


def _apply(client: TestClient, documents: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/spec/apply", json={"documents": documents, **extra})
    assert 200 == response.status_code, response.text
    return dict(response.json())


def _actions(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The changes made, sorted (unchanged objects left out)."""
    return sorted(
        (c["action"], c["kind"], c["name"]) for c in body["changes"] if c["action"] != "unchanged"
    )


def test_the_slo_kind_is_registered() -> None:
    """The apply engine finds the SLO handler through HANDLER_MODULES."""
    assert slo_domain.SPEC_HANDLER is handlers()["SLO"]


def test_apply_creates_then_changes_nothing_then_exports(client: TestClient) -> None:
    """An SLO document is created (managed by spec), applying again changes nothing, and
    export gives back the same spec."""
    first = _apply(client, [_document("checkout-availability")])
    assert [("create", "SLO", "checkout-availability")] == _actions(first)
    assert "spec" == client.get("/api/v1/slos/checkout-availability").json()["managed_by"]
    assert [] == _actions(_apply(client, [_document("checkout-availability")]))
    exported = client.get("/api/v1/spec/export").json()["documents"]
    found = [d for d in exported if d["kind"] == "SLO"]
    assert [("checkout-availability", slo())] == [
        (d["metadata"]["name"], {k: d["spec"][k] for k in slo()}) for d in found
    ]


def test_apply_updates_and_prunes(client: TestClient) -> None:
    """A changed objective is an update; an SLO no longer declared is deleted with prune."""
    _apply(client, [_document("a"), _document("b")])
    body = _apply(client, [_document("a", objective=99.5)], prune=True)
    assert [("delete", "SLO", "b"), ("update", "SLO", "a")] == _actions(body)
    assert 404 == client.get("/api/v1/slos/b").status_code


def test_a_hand_edit_of_a_managed_slo_is_drift(client: TestClient) -> None:
    """An API write keeps managed_by=spec, so the next plan shows the edit as drift."""
    _apply(client, [_document("a")])
    put(client, "a", slo(objective=95.0), status=200)
    plan = client.post("/api/v1/spec/plan", json={"documents": [_document("a")]}).json()
    change = next(c for c in plan["changes"] if c["kind"] == "SLO")
    assert ("update", True) == (change["action"], change["managed"])


def test_an_invalid_slo_document_is_refused(client: TestClient) -> None:
    """apply validates the spec with the model (a latency threshold off the bounds)."""
    bad = _document("x", sli={"latency": {"operation": "charge", "threshold": "300ms"}})
    response = client.post("/api/v1/spec/apply", json={"documents": [bad]})
    assert 422 == response.status_code
    assert "threshold" in response.text


def test_burn_alerts_reach_the_alerts_domain(client: TestClient, app: FastAPI) -> None:
    """With the alerts facade present, a cycle reports the page and ticket alerts through
    it, and they resolve when the SLO recovers."""
    assert cycle.alerts_reporter() is not None
    put(client, "checkout-availability", slo())
    push(client, steady(T0 - 600, T0, good=0, bad=10))
    with transaction(app.state.sessions) as session:
        slo_domain.evaluate_all(session, T0)
    alerts = client.get("/api/v1/alerts", params={"filter": 'sloth_slo="checkout-availability"'})
    assert 200 == alerts.status_code, alerts.text
    items = alerts.json()["items"]
    assert {"page", "ticket"} == {a["labels"]["severity"] for a in items}
    assert {"slo"} == {a["source"] for a in items}
    assert all(a["labels"]["alertname"] == slo_domain.DEFAULT_ALERT_NAME for a in items)
    assert 204 == client.delete("/api/v1/slos/checkout-availability").status_code
    after = client.get("/api/v1/alerts", params={"filter": 'sloth_slo="checkout-availability"'})
    assert all(a["resolved_at"] is not None for a in after.json()["items"])
    evaluate(app, T0 + 30)  # nothing left to evaluate
