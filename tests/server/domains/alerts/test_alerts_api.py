"""The alerts API: listing, Alertmanager intake (webhook v4, POST /alerts), silences,
the routing document, groups, and who may call what."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import START, Bench
from fastapi.testclient import TestClient
from server_helpers import bearer, token_for

from reliant.server.domains import alerts

HERE = Path(__file__).parent
#: Notifications a real Alertmanager (0.25.0) sent to a webhook receiver.
FIRING = (HERE / "alertmanager_webhook_firing.json").read_text()
RESOLVED = (HERE / "alertmanager_webhook_resolved.json").read_text()
PAGE = {"alertname": "Burn", "severity": "page", "service": "api", "sloth_id": "api-avail"}


@pytest.fixture
def ingest(client: TestClient) -> dict[str, str]:
    """Headers of an ingest token (not bound to a service)."""
    return bearer(token_for(client, "ingest", name="alertmanager"))


def post_raw(client: TestClient, path: str, body: str, headers: dict[str, str]) -> Any:
    return client.post(path, content=body, headers={**headers, "content-type": "application/json"})


def test_alertmanager_webhook_payload_is_reported(
    bench: Bench, client: TestClient, ingest: dict[str, str]
) -> None:
    """A real v4 payload: each alert reported with source alertmanager, Alertmanager's
    fingerprints, its startsAt, and no resolve timeout (it fires until sent resolved)."""
    answer = post_raw(client, "/api/v1/alertmanager/webhook", FIRING, ingest)
    assert 200 == answer.status_code, answer.text
    sent = [a["fingerprint"] for a in json.loads(FIRING)["alerts"]]
    assert {"received": 2, "fingerprints": sent} == answer.json()
    bench.run(3600, step=600)
    listed = client.get("/api/v1/alerts").json()["items"]
    started = dt.datetime(2026, 11, 24, 9, 8, 9, 826963, tzinfo=dt.UTC).timestamp()
    assert [("firing", "alertmanager", None, started)] * 2 == [
        (a["state"], a["source"], a["ends_at"], a["starts_at"]) for a in listed
    ]
    assert sorted(sent) == sorted(a["fingerprint"] for a in listed)
    assert "payments: 12% of requests fail" == listed[0]["annotations"]["summary"]
    assert listed[0]["generator_url"].startswith("http://prometheus.example:9090/graph")


def test_alertmanager_resolved_alerts_resolve(
    bench: Bench, client: TestClient, ingest: dict[str, str]
) -> None:
    """The second notification resolves payments-1 and leaves payments-0 firing."""
    post_raw(client, "/api/v1/alertmanager/webhook", FIRING, ingest)
    bench.clock.advance(5)
    assert 200 == post_raw(client, "/api/v1/alertmanager/webhook", RESOLVED, ingest).status_code
    states = {
        a["labels"]["instance"]: a["state"] for a in client.get("/api/v1/alerts").json()["items"]
    }
    assert {"payments-0:8000": "firing", "payments-1:8000": "resolved"} == states
    assert ["alert.firing", "alert.firing", "alert.resolved"] == [e[0] for e in bench.events()]


def test_webhook_rejects_other_versions_and_bad_labels(
    client: TestClient, ingest: dict[str, str]
) -> None:
    """version must be "4"; alerts need alertname (422 names the alert)."""
    payload = json.loads(FIRING)
    old = client.post(
        "/api/v1/alertmanager/webhook", json={**payload, "version": "3"}, headers=ingest
    )
    payload["alerts"][1]["labels"].pop("alertname")
    nameless = client.post("/api/v1/alertmanager/webhook", json=payload, headers=ingest)
    assert (422, 422) == (old.status_code, nameless.status_code)
    assert ["body", "alerts", 1, "labels"] == nameless.json()["errors"][0]["loc"]


def test_a_service_bound_ingest_token_reports_only_its_service(client: TestClient) -> None:
    """A token bound to db may not report payments' alerts; one bound to payments may."""
    db = bearer(token_for(client, "ingest", name="db-sdk", service="db"))
    payments = bearer(token_for(client, "ingest", name="pay-sdk", service="payments"))
    assert (403, 200) == (
        post_raw(client, "/api/v1/alertmanager/webhook", FIRING, db).status_code,
        post_raw(client, "/api/v1/alertmanager/webhook", FIRING, payments).status_code,
    )


def test_post_alerts_takes_prometheus_alerts(
    bench: Bench, client: TestClient, ingest: dict[str, str]
) -> None:
    """Alertmanager's POST /api/v2/alerts shape: no endsAt = 5 minutes; a past endsAt resolves."""
    body = [
        {"labels": {**PAGE, "n": "1"}, "annotations": {"summary": "s"}},
        {"labels": {**PAGE, "n": "2"}, "endsAt": "2027-01-15T09:00:00Z"},
        {
            "labels": {**PAGE, "n": "3"},
            "startsAt": "2027-01-15T07:00:00Z",
            "endsAt": "2027-01-15T07:30:00Z",
        },
    ]
    answer = client.post("/api/v1/alerts", json=body, headers=ingest)
    assert 200 == answer.status_code, answer.text
    found = {a["labels"]["n"]: a for a in client.get("/api/v1/alerts").json()["items"]}
    assert [("firing", START + 300), ("firing", START + 3600)] == [
        (found[n]["state"], found[n]["ends_at"]) for n in ("1", "2")
    ]
    assert "3" not in found  # it had ended already: nothing to resolve


def test_post_alerts_refuses_an_end_before_the_start(client: TestClient) -> None:
    """endsAt before startsAt is a 422 at that alert."""
    body = [{"labels": PAGE, "startsAt": "2027-01-15T09:00:00Z", "endsAt": "2027-01-15T08:00:00Z"}]
    answer = client.post("/api/v1/alerts", json=body)
    assert (422, ["body", 0, "endsAt"]) == (answer.status_code, answer.json()["errors"][0]["loc"])


def test_list_filters_by_state_matchers_and_service_with_pages(
    bench: Bench, client: TestClient
) -> None:
    """state, Alertmanager matchers in ?filter= and service filter; cursors page through."""
    for i in range(5):
        bench.report({**PAGE, "i": str(i), "severity": "page" if i % 2 else "ticket"})
        bench.clock.advance(1)
    bench.report({**PAGE, "i": "0", "severity": "ticket"}, active=False)
    pages = client.get("/api/v1/alerts", params={"filter": 'severity="ticket"', "limit": 1})
    first = pages.json()
    second = client.get(
        "/api/v1/alerts",
        params={"filter": 'severity="ticket"', "limit": 1, "cursor": first["next"]},
    ).json()
    third = client.get(
        "/api/v1/alerts",
        params={"filter": 'severity="ticket"', "limit": 1, "cursor": second["next"]},
    ).json()
    assert (["4"], ["2"], ["0"], None) == (
        [a["labels"]["i"] for a in first["items"]],
        [a["labels"]["i"] for a in second["items"]],
        [a["labels"]["i"] for a in third["items"]],
        third["next"],
    )
    firing_tickets = client.get(
        "/api/v1/alerts",
        params=[("filter", "severity=ticket"), ("filter", 'i=~"[0-3]"'), ("state", "firing")],
    ).json()["items"]
    assert ["2"] == [a["labels"]["i"] for a in firing_tickets]
    assert (5, 0) == (
        len(client.get("/api/v1/alerts", params={"service": "api"}).json()["items"]),
        len(client.get("/api/v1/alerts", params={"service": "db"}).json()["items"]),
    )
    bad = client.get("/api/v1/alerts", params={"filter": "severity"})
    assert (422, ["query", "filter", 0]) == (bad.status_code, bad.json()["errors"][0]["loc"])


def test_get_one_alert_with_its_receivers(bench: Bench, client: TestClient) -> None:
    """By fingerprint, with where the routing document sends it; 404 otherwise."""
    bench.report(PAGE)
    fp = alerts.fingerprint(PAGE)
    found = client.get(f"/api/v1/alerts/{fp}").json()
    assert (fp, ["default"], PAGE) == (found["fingerprint"], found["receivers"], found["labels"])
    assert 404 == client.get("/api/v1/alerts/0123456789abcdef").status_code


def test_silence_lifecycle(bench: Bench, client: TestClient) -> None:
    """Create (audited, with an event), read, list by state, expire once (then 409)."""
    made = client.post(
        "/api/v1/silences",
        json={
            "matchers": ['service="api", severity=~"page|ticket"'],
            "duration": "2h",
            "comment": "deploy",
        },
    )
    assert 201 == made.status_code, made.text
    silence = made.json()
    assert (['service="api"', 'severity=~"page|ticket"'], START, START + 7200, "active") == (
        silence["matchers"],
        silence["starts_at"],
        silence["ends_at"],
        silence["state"],
    )
    sid = silence["id"]
    future = client.post(
        "/api/v1/silences",
        json={
            "matchers": ["team=db"],
            "starts_at": START + 100,
            "ends_at": START + 200,
            "comment": "later",
        },
    ).json()
    listed = client.get("/api/v1/silences", params={"state": "pending"}).json()["items"]
    assert [future["id"]] == [s["id"] for s in listed]
    expired = client.delete(f"/api/v1/silences/{sid}")
    assert ("expired", START) == (expired.json()["state"], expired.json()["ends_at"])
    assert 409 == client.delete(f"/api/v1/silences/{sid}").status_code
    assert 404 == client.delete("/api/v1/silences/00000000-0000-0000-0000-000000000000").status_code
    assert "expired" == client.get(f"/api/v1/silences/{sid}").json()["state"]
    audit = client.get("/api/v1/audit", params={"target_kind": "silence"}).json()["items"]
    assert {"silence.create", "silence.expire"} == {a["action"] for a in audit}
    assert ["silence.created", "silence.created", "silence.expired"] == [
        e[0] for e in bench.events("silence.")
    ]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": ["oops"], "duration": "1h", "comment": "c"}, "matchers"),
        ({"matchers": ['team=""'], "duration": "1h", "comment": "c"}, "matchers"),
        ({"matchers": ["a=b"], "ends_at": START - 10, "comment": "c"}, "ends_at"),
        ({"matchers": ["a=b"], "duration": "soon", "comment": "c"}, "duration"),
        ({"matchers": ["a=b"], "comment": "c"}, "body"),
        ({"matchers": ["a=b"], "duration": "1h", "comment": "   "}, "comment"),
    ],
)
def test_bad_silences_are_422(client: TestClient, body: dict[str, Any], field: str) -> None:
    """Bad or all-empty matchers, an end in the past, bad durations, no end, no comment."""
    answer = client.post("/api/v1/silences", json=body)
    assert 422 == answer.status_code
    assert field in json.dumps(answer.json()["errors"][0]["loc"])


def test_silence_an_alert_mutes_exactly_that_alert(bench: Bench, client: TestClient) -> None:
    """ "Create from an alert": one exact matcher per label; the alert is suppressed, a
    sibling with one more label is not."""
    sibling = {**PAGE, "extra": "1"}
    bench.report(PAGE)
    bench.report(sibling)
    fp = alerts.fingerprint(PAGE)
    made = client.post(f"/api/v1/alerts/{fp}/silence", json={"duration": "1h", "comment": "known"})
    assert 201 == made.status_code, made.text
    assert sorted(f'{k}="{v}"' for k, v in PAGE.items()) == made.json()["matchers"]
    bench.tick()
    assert ("suppressed", "suppressed") == (bench.alert(PAGE).state, bench.alert(sibling).state)


def test_silencing_an_alert_exactly_leaves_different_values_alone(
    bench: Bench, client: TestClient
) -> None:
    """An alert with a different severity is not matched by the exact silence."""
    other = {**PAGE, "severity": "ticket", "sloth_id": "other"}
    bench.report(PAGE)
    bench.report(other)
    client.post(
        f"/api/v1/alerts/{alerts.fingerprint(PAGE)}/silence",
        json={"duration": "1h", "comment": "k"},
    )
    bench.tick()
    assert ("suppressed", "firing") == (bench.alert(PAGE).state, bench.alert(other).state)
    assert (
        404
        == client.post(
            "/api/v1/alerts/0123456789abcdef/silence", json={"duration": "1h", "comment": "k"}
        ).status_code
    )


ROUTING = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname"],
        "routes": [{"matchers": ['severity="page"'], "receiver": "pager", "continue": True}],
    },
    "receivers": [{"name": "default"}, {"name": "pager"}],
    "inhibit_rules": [],
    "time_intervals": [],
}


def test_routing_document_get_put_with_etags(bench: Bench, client: TestClient) -> None:
    """The default document is version 0; PUT stores version 1 (audited, evented); If-Match
    with a stale ETag is refused with 412; the same document again changes nothing."""
    first = client.get("/api/v1/alerting/config")
    assert ('"0"', True, ["default"]) == (
        first.headers["etag"],
        first.json()["default"],
        [r["name"] for r in first.json()["document"]["receivers"]],
    )
    put = client.put("/api/v1/alerting/config", json=ROUTING, headers={"If-Match": '"0"'})
    assert (200, '"1"', 1, False) == (
        put.status_code,
        put.headers["etag"],
        put.json()["version"],
        put.json()["default"],
    )
    assert (
        ROUTING["route"]["routes"][0]["receiver"]
        == client.get("/api/v1/alerting/config").json()["document"]["route"]["routes"][0][
            "receiver"
        ]
    )
    stale = client.put("/api/v1/alerting/config", json=ROUTING, headers={"If-Match": '"0"'})
    same = client.put("/api/v1/alerting/config", json=ROUTING)
    assert (412, 1) == (stale.status_code, same.json()["version"])
    assert ["alerting.config_changed"] == [e[0] for e in bench.events("alerting.")]
    audit = client.get("/api/v1/audit", params={"target_kind": "alerting_config"}).json()["items"]
    assert ["alerting.config.replace"] == [a["action"] for a in audit]
    bench.report(PAGE)
    fp = alerts.fingerprint(PAGE)
    # A matching child takes the alert from the root, even with continue.
    assert ["pager"] == client.get(f"/api/v1/alerts/{fp}").json()["receivers"]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"routes": [{"receiver": "nobody"}]}, ["body", "route", "routes", 0, "receiver"]),
        (
            {"routes": [{"matchers": ["ok=1", "=broken"]}]},
            ["body", "route", "routes", 0, "matchers", 1],
        ),
        ({"group_interval": "five minutes"}, ["body", "route", "group_interval"]),
        (
            {"routes": [{"active_time_intervals": ["nope"]}]},
            ["body", "route", "routes", 0, "active_time_intervals", 0],
        ),
    ],
)
def test_invalid_routing_documents_are_422_with_the_path(
    client: TestClient, change: dict[str, Any], loc: list[Any]
) -> None:
    """Unknown receivers, bad matchers, bad durations, unknown intervals: 422 at their path."""
    doc = {**ROUTING, "route": {**ROUTING["route"], **change}}
    answer = client.put("/api/v1/alerting/config", json=doc)
    assert (422, loc) == (answer.status_code, answer.json()["errors"][0]["loc"])
    assert 0 == client.get("/api/v1/alerting/config").json()["version"]


def test_groups_are_listed(bench: Bench, client: TestClient) -> None:
    """After a pass, the group holding an alert is listed with its next flush."""
    bench.report(PAGE)
    bench.tick()
    groups = client.get("/api/v1/alerting/groups").json()["items"]
    assert [("default", [alerts.fingerprint(PAGE)], START + 30)] == [
        (g["receiver"], g["alerts"], g["next_flush_at"]) for g in groups
    ]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("ingest", "POST", "/api/v1/alertmanager/webhook", True),
        ("ingest", "POST", "/api/v1/alerts", True),
        ("viewer", "POST", "/api/v1/alertmanager/webhook", False),
        ("ingest", "GET", "/api/v1/alerts", False),
        ("viewer", "GET", "/api/v1/alerts", True),
        ("viewer", "GET", "/api/v1/silences", True),
        ("viewer", "POST", "/api/v1/silences", False),
        ("operator", "POST", "/api/v1/silences", True),
        ("viewer", "PUT", "/api/v1/alerting/config", False),
        ("operator", "PUT", "/api/v1/alerting/config", True),
        ("ingest", "DELETE", "/api/v1/silences/00000000-0000-0000-0000-000000000000", False),
    ],
)
def test_roles(client: TestClient, role: str, method: str, path: str, allowed: bool) -> None:
    """Reads are viewers'; writes operators'; intake ingest's (and operators')."""
    headers = bearer(token_for(client, role))
    body: Any = [] if path == "/api/v1/alerts" and method == "POST" else {}
    answer = client.request(method, path, headers=headers, json=body)
    assert allowed == (answer.status_code not in (401, 403)), answer.text


def test_anonymous_callers_are_refused(anonymous: TestClient) -> None:
    """No token: 401, even for the webhook."""
    assert (401, 401) == (
        anonymous.post("/api/v1/alertmanager/webhook", content=FIRING).status_code,
        anonymous.get("/api/v1/alerts").status_code,
    )
