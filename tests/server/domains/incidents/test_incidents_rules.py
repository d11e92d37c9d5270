"""Incident rules: validation, automatic declaration from alerts by the ``incidents.declare``
job, deduplication by group key, auto-mitigation and auto-resolution, and ``reliant apply``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from incidents_helpers import (
    PAGE_RULE,
    event_kinds,
    fire,
    get,
    incidents,
    move,
    put_rule,
    resolve,
    run_declare,
    timeline,
)
from server_helpers import START
from sqlalchemy import delete, select

from reliant.server.db import transaction
from reliant.server.domains.incidents.models import IncidentCursorRow
from reliant.server.domains.spec import registry
from reliant.server.events import EventRow, append
from reliant.testing import VirtualClock


@pytest.fixture
def rule(client: TestClient, app: FastAPI, clock: VirtualClock) -> None:
    """The page rule, stored (which starts the job's cursor at the log's end)."""
    put_rule(client, "payments-pages", PAGE_RULE)


def test_a_firing_alert_declares_an_incident(
    client: TestClient, app: FastAPI, clock: VirtualClock, rule: None
) -> None:
    """An alert the rule accepts declares a triggered incident on the job's next pass,
    titled from its name and summary, with its service, severity and alert."""
    fp = fire(
        client,
        clock,
        alertname="HighErrorRate",
        severity="page",
        service="payments",
        summary="5% of payments fail",
    )
    assert [] == incidents(client)
    clock.advance(5)
    assert 1 == run_declare(app, clock)
    (found,) = incidents(client)
    incident = get(client, found["id"])
    assert {
        "title": "HighErrorRate: 5% of payments fail",
        "severity": "SEV2",
        "state": "triggered",
        "services": ["payments"],
        "rule": "payments-pages",
        "created_at": START + 5,
        "created_by": "rule:payments-pages",
        "group_labels": {"service": "payments", "alertname": "HighErrorRate"},
    } == {
        k: incident[k]
        for k in (
            "title",
            "severity",
            "state",
            "services",
            "rule",
            "created_at",
            "created_by",
            "group_labels",
        )
    }
    assert [(fp, "firing")] == [(a["fingerprint"], a["state"]) for a in incident["alerts"]]
    assert ["alert.firing", "incident.declared"] == [
        e["kind"] for e in timeline(client, found["id"])
    ]


def test_severity_mapping_and_scoping(
    client: TestClient, app: FastAPI, clock: VirtualClock, rule: None
) -> None:
    """ticket maps to SEV4; unmapped severities and other services declare nothing."""
    fire(client, clock, alertname="Slow", severity="ticket", service="ledger")
    fire(client, clock, alertname="Slow", severity="info", service="ledger")
    fire(client, clock, alertname="Slow", severity="page", service="search")
    run_declare(app, clock)
    assert [("SEV4", ["ledger"])] == [(i["severity"], i["services"]) for i in incidents(client)]


def test_dedup_by_group_key_while_open(
    client: TestClient, app: FastAPI, clock: VirtualClock, rule: None
) -> None:
    """Alerts of one group (service, alertname) join the open incident; another group
    declares another; once resolved, the group declares a new incident."""
    first = fire(client, clock, alertname="Down", severity="page", service="payments", pod="a")
    run_declare(app, clock)
    second = fire(client, clock, alertname="Down", severity="page", service="payments", pod="b")
    fire(client, clock, alertname="Down", severity="page", service="ledger", pod="a")
    run_declare(app, clock)
    by_service = {i["services"][0]: i for i in incidents(client)}
    payments = get(client, by_service["payments"]["id"])
    assert 2 == len(by_service)
    assert {first, second} == {a["fingerprint"] for a in payments["alerts"]}
    move(client, payments["id"], "resolved")
    fire(client, clock, alertname="Down", severity="page", service="payments", pod="c")
    run_declare(app, clock)
    assert 2 == len([i for i in incidents(client) if i["services"] == ["payments"]])


def test_a_refiring_alert_rejoins_its_open_incident(
    client: TestClient, app: FastAPI, clock: VirtualClock, rule: None
) -> None:
    """An alert that resolves and fires again while its incident is open stays with it."""
    labels = {"alertname": "Down", "severity": "page", "service": "payments", "pod": "a"}
    fire(client, clock, **labels)
    fire(client, clock, **{**labels, "pod": "b"})
    run_declare(app, clock)
    resolve(client, clock, **labels)
    clock.advance(10)
    fire(client, clock, **labels)
    run_declare(app, clock)
    (found,) = incidents(client)
    assert ["firing", "firing"] == [a["state"] for a in get(client, found["id"])["alerts"]]


@pytest.mark.parametrize(("auto_resolve", "state"), [(False, "mitigated"), (True, "resolved")])
def test_all_alerts_resolved_mitigates_or_resolves(
    client: TestClient, app: FastAPI, clock: VirtualClock, auto_resolve: bool, state: str
) -> None:
    """When the last alert resolves, the incident becomes mitigated (auto_resolve false)
    or resolved (true), by the rule; one alert resolving alone changes nothing."""
    put_rule(client, "pages", {**PAGE_RULE, "auto_resolve": auto_resolve})
    a = {"alertname": "Down", "severity": "page", "service": "payments", "pod": "a"}
    b = {**a, "pod": "b"}
    fire(client, clock, **a)
    fire(client, clock, **b)
    run_declare(app, clock)
    clock.advance(60)
    resolve(client, clock, **a)
    run_declare(app, clock)
    (found,) = incidents(client)
    assert "triggered" == found["state"]
    clock.advance(60)
    resolve(client, clock, **b)
    run_declare(app, clock)
    incident = get(client, found["id"])
    assert (state, "rule:pages") == (incident["state"], incident["transitions"][-1]["by"])
    assert ["resolved", "resolved"] == [x["state"] for x in incident["alerts"]]


def test_no_move_backwards_when_alerts_resolve(
    client: TestClient, app: FastAPI, clock: VirtualClock, rule: None
) -> None:
    """An incident resolved by hand stays resolved when its alerts resolve later."""
    labels = {"alertname": "Down", "severity": "page", "service": "payments"}
    fire(client, clock, **labels)
    run_declare(app, clock)
    (found,) = incidents(client)
    move(client, found["id"], "resolved")
    resolve(client, clock, **labels)
    run_declare(app, clock)
    assert "resolved" == get(client, found["id"])["state"]


def test_group_by_nothing_and_title_template(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """group_by [] gathers every alert of the rule in one incident, titled by template."""
    spec = {
        "matchers": ['team="db"'],
        "severity": "SEV3",
        "group_by": [],
        "title": "Database trouble on {service}",
    }
    put_rule(client, "db", spec)
    fire(client, clock, alertname="A", team="db", service="ledger")
    fire(client, clock, alertname="B", team="db", service="payments")
    run_declare(app, clock)
    (found,) = incidents(client)
    assert ("Database trouble on ledger", 2) == (
        found["title"],
        len(get(client, found["id"])["alerts"]),
    )


def test_first_rule_by_name_wins(client: TestClient, app: FastAPI, clock: VirtualClock) -> None:
    """Rules are tried in name order; the first accepting an alert takes it."""
    put_rule(client, "b-generic", {"matchers": ['severity="page"'], "severity": "SEV3"})
    put_rule(client, "a-payments", {"matchers": ['service="payments"'], "severity": "SEV1"})
    fire(client, clock, alertname="Down", severity="page", service="payments")
    fire(client, clock, alertname="Down", severity="page", service="search")
    run_declare(app, clock)
    assert {("a-payments", "SEV1"), ("b-generic", "SEV3")} == {
        (i["rule"], i["severity"]) for i in incidents(client)
    }


def test_history_before_the_cursor_is_not_replayed(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """Alerts that fired before the first rule (and cursor) existed declare nothing."""
    fire(client, clock, alertname="Old", severity="page", service="payments")
    put_rule(client, "pages", PAGE_RULE)
    assert 0 == run_declare(app, clock)
    assert [] == incidents(client)


def test_a_gap_younger_than_the_grace_is_not_passed(
    client: TestClient, app: FastAPI, clock: VirtualClock, rule: None
) -> None:
    """A missing id (an uncommitted transaction) holds the cursor back until it appears
    or the gap grace has passed; the alert after it is handled once either way."""
    with transaction(app.state.sessions) as session:
        # Id N + 1 visible while N is "in flight" (as when transactions commit out of order).
        missing = append(session, kind="test.filler", now=clock.now()).id
        append(session, kind="test.filler", now=clock.now())
        session.execute(delete(EventRow).where(EventRow.id == missing))
    fire(client, clock, alertname="Down", severity="page", service="payments")
    assert 0 == run_declare(app, clock)
    with transaction(app.state.sessions) as session:
        assert missing - 1 == session.scalars(select(IncidentCursorRow)).one().last_id
    clock.advance(5)
    assert 1 == run_declare(app, clock)
    assert 0 == run_declare(app, clock)
    assert 1 == len(incidents(client))


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({**PAGE_RULE, "matchers": ['severity="page"', "service=~(payments"]}, "matchers.1"),
        ({**PAGE_RULE, "matchers": ["not a matcher"]}, "matchers.0"),
        ({"matchers": ['a="b"'], "severity": "SEV9"}, "severity"),
        (
            {"matchers": ['a="b"'], "severity_from": {"map": {"page": "P1"}}},
            "severity_from.map.page",
        ),
        ({"matchers": ['a="b"']}, ""),
        ({"matchers": ['a="b"'], "severity": "SEV1", "notify": ["Bad Name"]}, "notify.0"),
    ],
)
def test_invalid_rules_are_422_naming_the_field(
    client: TestClient, spec: dict[str, Any], field: str
) -> None:
    """A bad matcher, an unknown severity or a malformed field is a 422 at its path."""
    response = client.put("/api/v1/incident-rules/bad", json=spec)
    assert 422 == response.status_code, response.text
    assert response.json()["detail"].startswith(f"body.{field}".rstrip("."))
    assert 404 == client.get("/api/v1/incident-rules/bad").status_code


def test_rule_crud_is_audited_and_evented(client: TestClient) -> None:
    """Create (201), replace (200), unchanged (no event), list, delete (204)."""
    assert 201 == client.put("/api/v1/incident-rules/pages", json=PAGE_RULE).status_code
    changed = {**PAGE_RULE, "auto_resolve": True}
    assert 200 == client.put("/api/v1/incident-rules/pages", json=changed).status_code
    assert 200 == client.put("/api/v1/incident-rules/pages", json=changed).status_code
    listed = client.get("/api/v1/incident-rules").json()["items"]
    assert [("pages", True, "api")] == [
        (r["name"], r["spec"]["auto_resolve"], r["managed_by"]) for r in listed
    ]
    assert 204 == client.delete("/api/v1/incident-rules/pages").status_code
    assert 404 == client.delete("/api/v1/incident-rules/pages").status_code
    assert ["incident_rule.created", "incident_rule.updated", "incident_rule.deleted"] == (
        event_kinds(client, "incident_rule.")
    )
    audit = client.get("/api/v1/audit", params={"target_kind": "incident_rule"}).json()["items"]
    assert {"incident_rule.create", "incident_rule.update", "incident_rule.delete"} == {
        a["action"] for a in audit
    }


def rule_document(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "reliant.dev/v1",
        "kind": "IncidentRule",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_apply_plans_and_applies_incident_rules(client: TestClient) -> None:
    """reliant apply creates a rule (managed by spec), then finds nothing to change; a
    bad matcher fails the plan's apply with the rule and path named."""
    assert "IncidentRule" in registry.handlers()
    body = {"documents": [rule_document("pages", PAGE_RULE)], "kinds": ["IncidentRule"]}
    applied = client.post("/api/v1/spec/apply", json=body)
    assert 200 == applied.status_code, applied.text
    assert "spec" == client.get("/api/v1/incident-rules/pages").json()["managed_by"]
    again = client.post("/api/v1/spec/plan", json=body).json()
    assert ["unchanged"] == [c["action"] for c in again["changes"]]
    bad = {**PAGE_RULE, "matchers": ["=nope"]}
    body = {"documents": [rule_document("bad", bad)], "kinds": ["IncidentRule"]}
    refused = client.post("/api/v1/spec/apply", json=body)
    assert 422 == refused.status_code
    assert "IncidentRule 'bad': matchers.0:" in refused.json()["detail"]
