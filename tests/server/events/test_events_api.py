"""The event log's API: ingest (one or a batch, all or nothing), query, get, and who may."""

from __future__ import annotations

import json

import pytest
from events_helpers import ingest, kinds
from fastapi.testclient import TestClient
from server_helpers import START, bearer, token_for

from reliant.server.events.schemas import MAX_ATTRIBUTES_BYTES
from reliant.testing import VirtualClock


def test_one_event_is_appended_with_defaults(client: TestClient) -> None:
    """A single event gets the server's time, severity info, and the token name as source."""
    response = client.post("/api/v1/events", json={"kind": "deploy.finished"})
    assert 202 == response.status_code
    (event_id,) = response.json()["ids"]
    event = client.get(f"/api/v1/events/{event_id}").json()
    assert {
        "id": event_id,
        "time": START,
        "kind": "deploy.finished",
        "service": None,
        "severity": "info",
        "source": "bootstrap-admin",
        "attributes": {},
        "trace_id": None,
        "received_at": START,
    } == event


def test_batch_keeps_order_and_fields(client: TestClient) -> None:
    """A batch is appended in order with its times, services, severities and trace ids."""
    ids = ingest(
        client,
        {"kind": "a.one", "time": START - 5, "service": "payments", "severity": "warning"},
        {"kind": "a.two", "time": "2027-01-15T08:00:00Z", "attributes": {"n": 1}},
        {"kind": "a.three", "trace_id": "ABCDEF0123456789ABCDEF0123456789"},
    )
    assert ids == sorted(ids)
    one, two, three = (client.get(f"/api/v1/events/{i}").json() for i in ids)
    assert ("payments", "warning", START - 5) == (one["service"], one["severity"], one["time"])
    assert (1800000000.0, {"n": 1}) == (two["time"], two["attributes"])
    assert "abcdef0123456789abcdef0123456789" == three["trace_id"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"kind": "Breaker.Opened"}, "kind"),
        ({"kind": "nodot"}, "kind"),
        ({"kind": "a." + "b" * 100}, "kind"),
        ({"kind": "a.b", "severity": "fatal"}, "severity"),
        ({"kind": "a.b", "service": "Not A Name"}, "service"),
        ({"kind": "a.b", "trace_id": "xyz"}, "trace_id"),
        ({"kind": "a.b", "time": "yesterday"}, "time"),
        ({"kind": "a.b", "time": "2027-01-15T08:00:00"}, "time"),
        ({"kind": "a.b", "attributes": [1, 2]}, "attributes"),
        ({"kind": "a.b", "attributes": {"blob": "x" * MAX_ATTRIBUTES_BYTES}}, "attributes"),
        ({"kind": "a.b", "attributes": {"nul": "a\u0000b"}}, "attributes"),
        ({"kind": "a.b", "atributes": {}}, "atributes"),
        ({}, "kind"),
    ],
)
def test_bad_event_in_a_batch_is_422_and_nothing_is_stored(
    client: TestClient, event: dict[str, object], field: str
) -> None:
    """The first bad event is named by index and field; the good ones are not stored."""
    body = {"events": [{"kind": "good.one"}, {"kind": "good.two"}, event, {"kind": "good.four"}]}
    response = client.post("/api/v1/events", json=body)
    assert 422 == response.status_code
    problem = response.json()
    assert "application/problem+json" == response.headers["content-type"]
    assert (2, field) == (problem["index"], problem["field"].split(".")[0])
    assert problem["detail"].startswith(f"events[2].{field}")
    assert [] == kinds(client)


def test_not_a_number_in_attributes_is_refused(client: TestClient) -> None:
    """NaN and Infinity (which Python's JSON reader accepts) never reach the store."""
    body = '{"kind": "a.b", "attributes": {"rate": NaN}}'
    response = client.post(
        "/api/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert (422, "attributes") == (response.status_code, response.json()["field"])


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    "body",
    [
        {"events": []},
        {"events": [{"kind": "a.b"}] * 1001},
        {"events": {"kind": "a.b"}},
        {"events": [{"kind": "a.b"}], "extra": 1},
        {"events": ["a.b"]},
        [{"kind": "a.b"}],
        "a.b",
    ],
)
def test_malformed_batch_is_422(client: TestClient, body: object) -> None:
    """Empty, oversized and misshapen batches are refused with a problem saying what to send."""
    response = client.post("/api/v1/events", json=body)
    assert 422 == response.status_code
    assert response.json()["detail"]
    assert [] == kinds(client)


def test_single_bad_event_names_its_field(client: TestClient) -> None:
    """A lone bad event is named as the body."""
    response = client.post("/api/v1/events", json={"kind": "x"})
    assert (422, "body.kind") == (response.status_code, response.json()["detail"][:9])


def test_list_is_newest_first_with_cursor_pages(client: TestClient) -> None:
    """Pages of `limit` events, newest first, linked by `next` until it is null."""
    ingest(client, *({"kind": f"page.e{i}"} for i in range(7)))
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/events", params=params).json()
        seen += [e["kind"] for e in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert [f"page.e{i}" for i in reversed(range(7))] == seen


def test_filters(client: TestClient, clock: VirtualClock) -> None:
    """service (repeatable), kind (exact or prefix glob), minimum severity and time range."""
    ingest(
        client,
        {"kind": "breaker.opened", "service": "payments", "severity": "warning"},
        {"kind": "breaker.closed", "service": "search"},
        {"kind": "circuit_breaker.state_changed", "service": "ledger", "severity": "error"},
        {"kind": "deploy.finished", "service": "payments", "time": START - 7200},
        {"kind": "breakers.x", "severity": "critical"},
    )
    assert ["deploy.finished", "breaker.closed", "breaker.opened"] == kinds(
        client, service=["payments", "search"]
    )
    assert ["breaker.closed", "breaker.opened"] == kinds(client, kind="breaker.*")
    assert ["circuit_breaker.state_changed"] == kinds(client, kind="circuit_breaker.*")
    assert ["breakers.x", "breaker.opened"] == kinds(client, kind=["breakers.x", "breaker.opened"])
    assert ["breakers.x", "circuit_breaker.state_changed", "breaker.opened"] == kinds(
        client, severity="warning"
    )
    assert ["deploy.finished"] == kinds(client, until="1h")
    assert ["deploy.finished"] == kinds(client, since=str(START - 7200), until=str(START - 7199))
    assert 4 == len(kinds(client, since="2027-01-15T08:00:00+00:00"))
    clock.advance(60)
    assert [] == kinds(client, since="30s")


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"kind": "Breaker"}, 422),
        ({"kind": "breaker*"}, 422),
        ({"severity": "loud"}, 422),
        ({"since": "yesterday"}, 422),
        ({"since": "2027-01-15T08:00:00"}, 422),
        ({"until": "nan"}, 422),
        ({"limit": 501}, 422),
        ({"limit": 0}, 422),
        ({"cursor": "not-a-cursor"}, 400),
        ({"cursor": "eyJiZWZvcmUiOiAieCJ9"}, 400),
        ({"cursor": "eyJiZWZvcmUiOjk5OTk5OTk5OTk5OTk5OTk5OTk5OX0="}, 400),
        ({"service": [f"s{i}" for i in range(51)]}, 422),
    ],
)
def test_bad_query_is_a_problem(client: TestClient, params: dict[str, object], status: int) -> None:
    """Bad filters and cursors are 4xx problems naming what is wrong, never 500."""
    response = client.get("/api/v1/events", params=params)
    assert status == response.status_code, response.text
    assert "application/problem+json" == response.headers["content-type"]


def test_get_unknown_or_huge_id_is_4xx(client: TestClient) -> None:
    """A missing event is 404; an id beyond 64 bits is 422, not a store error."""
    assert 404 == client.get("/api/v1/events/12345").status_code
    assert 422 == client.get(f"/api/v1/events/{2**64}").status_code
    assert 422 == client.get("/api/v1/events/0").status_code


def test_roles(client: TestClient, anonymous: TestClient) -> None:
    """Viewers read but cannot ingest; ingest tokens ingest but cannot read; nobody anonymous."""
    viewer = bearer(token_for(client, "viewer"))
    ingester = bearer(token_for(client, "ingest"))
    operator = bearer(token_for(client, "operator"))
    assert 403 == anonymous.post("/api/v1/events", json={"kind": "a.b"}, headers=viewer).status_code
    assert (
        202 == anonymous.post("/api/v1/events", json={"kind": "a.b"}, headers=ingester).status_code
    )
    assert (
        202 == anonymous.post("/api/v1/events", json={"kind": "a.c"}, headers=operator).status_code
    )
    assert 200 == anonymous.get("/api/v1/events", headers=viewer).status_code
    assert 403 == anonymous.get("/api/v1/events", headers=ingester).status_code
    assert 403 == anonymous.get("/api/v1/events/1", headers=ingester).status_code
    assert 403 == anonymous.get("/api/v1/events/stream", headers=ingester).status_code
    assert 401 == anonymous.get("/api/v1/events").status_code
    assert 401 == anonymous.post("/api/v1/events", json={"kind": "a.b"}).status_code
    sources = {e["kind"]: e["source"] for e in client.get("/api/v1/events").json()["items"]}
    assert {"a.b": "t-ingest", "a.c": "t-operator"} == sources


def test_bound_ingest_token_writes_only_its_service(client: TestClient) -> None:
    """Events without a service get the token's; another service's events are refused."""
    token = bearer(token_for(client, "ingest", name="payments-sdk", service="payments"))
    ok = client.post(
        "/api/v1/events",
        json={"events": [{"kind": "a.b"}, {"kind": "a.c", "service": "payments"}]},
        headers=token,
    )
    assert 202 == ok.status_code
    bad = client.post(
        "/api/v1/events",
        json={"events": [{"kind": "a.d"}, {"kind": "a.e", "service": "ledger"}]},
        headers=token,
    )
    assert (403, 1) == (bad.status_code, bad.json()["index"])
    listed = client.get("/api/v1/events").json()["items"]
    assert [("a.c", "payments"), ("a.b", "payments")] == [(e["kind"], e["service"]) for e in listed]


def test_ingest_body_is_in_the_openapi_document(client: TestClient) -> None:
    """The ingest body's schema (one event or a batch) is published for clients and fuzzers."""
    doc = client.get("/api/v1/openapi.json").json()
    schema = doc["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    single, batch = schema["schema"]["anyOf"]
    assert ["kind"] == single["required"]
    assert 1000 == batch["properties"]["events"]["maxItems"]
    assert "$ref" not in json.dumps(schema)
