"""/api/v1/slos: create, replace, list, delete, status and history, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import bearer, token_for
from slo_helpers import T0, Reports, evaluate, events, push, put, slo, status, steady

from reliant.server.domains.slo import cycle

PROMQL = {
    "prometheus": {
        "error_query": 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
        "total_query": "sum(rate(http_requests_total[{{.window}}]))",
    }
}


def _audit(client: TestClient) -> list[tuple[str, str]]:
    response = client.get("/api/v1/audit", params={"limit": 500})
    assert 200 == response.status_code, response.text
    rows = [(r["action"], r["target_id"]) for r in reversed(response.json()["items"])]
    return [row for row in rows if row[0].startswith("slo.")]


def test_put_creates_then_replaces_then_changes_nothing(client: TestClient) -> None:
    """PUT answers 201, then 200; the same spec again writes no audit record or event."""
    created = put(client, "checkout-availability", slo())
    assert ("checkout-availability", "checkout", "api", "bootstrap-admin") == (
        created["name"],
        created["service"],
        created["managed_by"],
        created["updated_by"],
    )
    assert 99.9 == created["spec"]["objective"]
    assert (None, []) == (created["status"], created["warnings"])
    put(client, "checkout-availability", slo(objective=99.5), status=200)
    put(client, "checkout-availability", slo(objective=99.5), status=200)
    assert [
        ("slo.create", "checkout-availability"),
        ("slo.update", "checkout-availability"),
    ] == _audit(client)
    kinds = [(e["kind"], e["service"]) for e in events(client, "slo.*")]
    assert [("slo.created", "checkout"), ("slo.updated", "checkout")] == kinds
    updated = events(client, "slo.updated")[0]["attributes"]
    assert {"slo": "checkout-availability", "changed": ["objective"]} == updated


def test_get_list_filter_and_paginate(client: TestClient) -> None:
    """The list is sorted by name, filtered by service, and pages with a cursor."""
    for name, service in (("b", "checkout"), ("a", "checkout"), ("c", "search")):
        put(client, name, slo(service=service))
    page = client.get("/api/v1/slos", params={"limit": 2}).json()
    assert ["a", "b"] == [i["name"] for i in page["items"]]
    rest = client.get("/api/v1/slos", params={"limit": 2, "cursor": page["next"]}).json()
    assert (["c"], None) == ([i["name"] for i in rest["items"]], rest["next"])
    search = client.get("/api/v1/slos", params={"service": "search"}).json()
    assert ["c"] == [i["name"] for i in search["items"]]
    one = client.get("/api/v1/slos/b").json()
    assert ("b", "checkout") == (one["name"], one["spec"]["service"])
    assert 400 == client.get("/api/v1/slos", params={"cursor": "garbage"}).status_code


def test_delete(client: TestClient) -> None:
    """DELETE answers 204 and audits; a second DELETE or a GET is 404."""
    put(client, "gone", slo())
    assert 204 == client.delete("/api/v1/slos/gone").status_code
    assert 404 == client.delete("/api/v1/slos/gone").status_code
    missing = client.get("/api/v1/slos/gone")
    assert 404 == missing.status_code
    assert "GET /api/v1/slos" in missing.json()["detail"]
    assert ("slo.delete", "gone") == _audit(client)[-1]
    assert ["slo.created", "slo.deleted"] == [e["kind"] for e in events(client, "slo.*")]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"objective": 100}, "objective"),
        ({"sli": {"latency": {"operation": "charge", "threshold": "300ms"}}}, "threshold"),
        ({"window": {"calendar": "month", "timezone": "Mars/Olympus"}}, "time zone"),
        ({"sli": {"ratio": {"operation": "charge"}, "prometheus": PROMQL["prometheus"]}}, "one"),
        ({"description": "nul\u0000"}, "NUL"),
    ],
)
def test_invalid_specs_are_422(client: TestClient, change: dict[str, Any], where: str) -> None:
    """The model refuses what cannot be counted exactly; the detail says what is wrong."""
    response = client.put("/api/v1/slos/bad", json=slo(**change))
    assert 422 == response.status_code
    assert where in response.text


def test_warnings_are_part_of_the_answer(client: TestClient) -> None:
    """A 90% SLO's 14.4x page can never fire; 99.999% over 30 days is a tiny budget."""
    low = put(client, "low", slo(objective=90))
    assert ["never_fires"] == [w["code"] for w in low["warnings"]]
    high = put(client, "high", slo(objective=99.999))
    assert ["tiny_budget"] == [w["code"] for w in high["warnings"]]
    body = status(client, "low")
    assert [False, True, True, True] == [c["can_fire"] for c in body["conditions"]]
    assert "can never fire" in body["conditions"][0]["explanation"]


def test_roles(client: TestClient, anonymous: TestClient) -> None:
    """Viewers read; operators write; anonymous callers get 401."""
    put(client, "checkout-availability", slo())
    viewer = bearer(token_for(client, "viewer"))
    operator = bearer(token_for(client, "operator"))
    assert (
        200
        == anonymous.get("/api/v1/slos/checkout-availability/status", headers=viewer).status_code
    )
    assert 403 == anonymous.put("/api/v1/slos/x", json=slo(), headers=viewer).status_code
    assert 201 == anonymous.put("/api/v1/slos/x", json=slo(), headers=operator).status_code
    assert 401 == anonymous.get("/api/v1/slos").status_code


def test_status_of_a_new_slo_is_evaluated_on_demand(client: TestClient) -> None:
    """Before the first cycle, the status is computed on the spot from the rollups."""
    push(client, steady(T0 - 600, T0, good=99, bad=1))
    put(client, "checkout-availability", slo(objective=99.0))
    body = status(client, "checkout-availability")
    assert (True, None, "ratio", "occurrences") == (
        body["evaluated"],
        body["reason"],
        body["sli"],
        body["budgeting"],
    )
    assert {"good": 5940, "total": 6000, "events": 6000} == {
        k: body["counts"][k] for k in ("good", "total", "events")
    }
    assert 0.01 == pytest.approx(body["counts"]["error_ratio"])
    assert 0.0 == pytest.approx(body["budget"]["remaining"], abs=1e-12)
    assert ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] == [w["window"] for w in body["windows"]]
    assert 1.0 == pytest.approx(body["windows"][0]["burn_rate"])
    assert "A burn rate of 1x spends exactly the whole budget" in body["explanation"]["burn_rate"]


def test_status_reads_the_snapshot_after_a_cycle(client: TestClient, app: FastAPI) -> None:
    """After a cycle the status is the stored snapshot, with the cycle's time and figures."""
    put(client, "checkout-availability", slo())
    push(client, steady(T0 - 3600, T0, good=1000, bad=1))
    evaluate(app, T0)
    push(client, steady(T0, T0 + 600, good=0, bad=100))  # not counted until the next cycle
    body = status(client, "checkout-availability")
    assert T0 == body["evaluated_at"]
    assert (360_360, 360) == (
        body["counts"]["total"],
        body["counts"]["total"] - body["counts"]["good"],
    )
    listed = client.get("/api/v1/slos").json()["items"][0]["status"]
    assert (T0, True, [], False) == (
        listed["evaluated_at"],
        listed["evaluated"],
        listed["firing"],
        listed["exhausted"],
    )
    forecast = body["forecast"]
    assert 1.0 == pytest.approx(forecast["burn_rate_1h"], rel=1e-3)
    remaining = body["budget"]["remaining"]
    assert remaining * 30 * 86400 / forecast["burn_rate_1h"] == pytest.approx(
        forecast["exhausted_in_1h"]
    )
    assert forecast["exhausted_at_1h"] == pytest.approx(T0 + forecast["exhausted_in_1h"])


def test_promql_slos_are_not_evaluated_natively(client: TestClient, app: FastAPI) -> None:
    """A PromQL SLI is stored, marked evaluated: false with the reason, and never alerts."""
    put(client, "prom", slo(sli=PROMQL))
    reports = Reports()
    cycle_ = evaluate(app, T0, reports)
    assert (0, 1, []) == (cycle_.evaluated, cycle_.skipped, reports.calls)
    body = status(client, "prom")
    assert (False, "prometheus") == (body["evaluated"], body["sli"])
    assert "reliant slo rules" in body["reason"]
    assert (None, None, []) == (body["budget"], body["forecast"], body["windows"])
    history = client.get("/api/v1/slos/prom/history").json()
    assert (False, []) == (history["evaluated"], history["points"])
    listed = client.get("/api/v1/slos/prom").json()["status"]
    assert False is listed["evaluated"]


def test_deleting_a_firing_slo_resolves_its_alerts(
    client: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alert of a deleted SLO would otherwise fire forever."""
    reports = Reports()
    monkeypatch.setattr(cycle, "alerts_reporter", lambda: reports)
    put(client, "checkout-availability", slo())
    push(client, steady(T0 - 600, T0, good=0, bad=10))
    evaluate(app, T0, reports)
    assert [True] == reports.active("page")
    assert 204 == client.delete("/api/v1/slos/checkout-availability").status_code
    assert [True, False] == reports.active("page")
    assert [True, False] == reports.active("ticket")


def test_relabelling_a_firing_slo_resolves_the_old_alert(
    client: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New labels make a new alert; the one under the old labels is resolved at once."""
    reports = Reports()
    monkeypatch.setattr(cycle, "alerts_reporter", lambda: reports)
    put(client, "checkout-availability", slo())
    push(client, steady(T0 - 600, T0, good=0, bad=10))
    evaluate(app, T0, reports)
    put(client, "checkout-availability", slo(alerting={"labels": {"team": "pay"}}), status=200)
    resolved = [c for c in reports.calls if not c["active"]]
    assert {"page", "ticket"} == {c["labels"]["severity"] for c in resolved}
    assert all("team" not in c["labels"] for c in resolved)
    evaluate(app, T0 + 30, reports)
    assert "pay" == reports.calls[-1]["labels"]["team"]


def test_history_series(client: TestClient, app: FastAPI) -> None:
    """Points every step: budget remaining falls as errors come, burn rates per window."""
    put(client, "checkout-availability", slo(window={"rolling": "1d"}))
    push(client, steady(T0, T0 + 3600, good=999, bad=1))
    push(client, steady(T0 + 3600, T0 + 7200, good=990, bad=10))
    response = client.get(
        "/api/v1/slos/checkout-availability/history",
        params={"since": T0, "until": T0 + 7200, "step": 1800},
    )
    assert 200 == response.status_code, response.text
    body = response.json()
    assert [T0 + 1800 * k for k in range(5)] == [p["time"] for p in body["points"]]
    remaining = [p["budget_remaining"] for p in body["points"]]
    assert [1.0, 0.0, 0.0, -3.0, -4.5] == pytest.approx(remaining, abs=1e-9)
    assert 10.0 == pytest.approx(body["points"][-1]["burn_rates"]["1h"])
    assert 1.0 == pytest.approx(body["points"][2]["burn_rates"]["1h"])
    assert ["page", "ticket"] == body["points"][-1]["firing"]
    evaluate(app, T0 + 7200)
    assert status(client, "checkout-availability")["budget"]["remaining"] == pytest.approx(
        remaining[-1]
    )


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    "params",
    [
        {"step": 15},
        {"since": 100, "until": 50},
        {"since": 0, "until": 10**9, "step": 10},
        {"until": -1},
    ],
)
def test_bad_history_ranges_are_422(client: TestClient, params: dict[str, Any]) -> None:
    """Steps off the 10 s grid, empty ranges and too many points are refused."""
    put(client, "checkout-availability", slo())
    response = client.get("/api/v1/slos/checkout-availability/history", params=params)
    assert 422 == response.status_code, response.text
