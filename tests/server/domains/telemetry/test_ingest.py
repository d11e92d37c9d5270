"""POST /api/v1/ingest: batches merged into rollups, events logged, bad bodies refused whole."""

from __future__ import annotations

import functools
import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ingest_helpers import BUCKET, HISTOGRAM, batch, event, point, post
from server_helpers import START, bearer, token_for
from sqlalchemy import func, select

from reliant.agent.protocol import INGEST_PATH, MAX_BATCH_BYTES
from reliant.server.db import transaction
from reliant.server.domains import telemetry
from reliant.server.domains.telemetry import service as use_cases
from reliant.server.domains.telemetry.models import ROLLUPS, InstanceRow
from reliant.server.domains.telemetry.reader import Batch, read
from reliant.server.domains.telemetry.schemas import MAX_BUCKET
from reliant.server.events import EventRow


def _rollups(
    app: FastAPI, service: str = "payments"
) -> list[tuple[str, str, int, int, float, list[int]]]:
    """The service's stored cells: operation, outcome, bucket, count, sum, histogram."""
    with transaction(app.state.sessions) as session:
        found = telemetry.cells(session, service, since=0, until=MAX_BUCKET)
    return sorted(
        (op, c.outcome, int(c.bucket_start), c.count, round(c.sum, 9), list(c.histogram))
        for op, c in found
    )


def _stored(app: FastAPI) -> tuple[int, int, int]:
    """Rollup rows, instances and SDK events stored."""
    with transaction(app.state.sessions) as session:
        return (
            session.scalar(select(func.count()).select_from(ROLLUPS)) or 0,
            session.scalar(select(func.count()).select_from(InstanceRow)) or 0,
            session.scalar(
                select(func.count()).select_from(EventRow).where(EventRow.source == "sdk")
            )
            or 0,
        )


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "identity"])
def test_batch_is_accepted(client: TestClient, app: FastAPI, compress: bool) -> None:
    """A gzip or identity batch answers 202 with what it stored, and lands in the rollups."""
    response = post(client, batch(events=[event()]), compress=compress)
    assert 202 == response.status_code, response.text
    assert {"accepted": {"telemetry": 1, "events": 1}} == response.json()
    assert [("charge", "success", BUCKET, 42, 1.234, HISTOGRAM)] == _rollups(app)


def test_same_bucket_from_two_batches_and_two_instances_adds_up(
    client: TestClient, app: FastAPI
) -> None:
    """Counts, sums and histograms of one bucket add across batches and instances."""
    other = [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    post(client, batch(instance="a", telemetry=[point(), point(outcome="failure")]))
    post(client, batch(instance="a", telemetry=[point(histogram=other, total=30.5)]))
    post(client, batch(instance="b", telemetry=[point(), point(operation="refund")]))
    merged = [n * 2 + m for n, m in zip(HISTOGRAM, other, strict=True)]
    assert [
        ("charge", "failure", BUCKET, 42, 1.234, HISTOGRAM),
        ("charge", "success", BUCKET, 87, round(1.234 * 2 + 30.5, 9), merged),
        ("refund", "success", BUCKET, 42, 1.234, HISTOGRAM),
    ] == _rollups(app)


def test_repeated_key_within_one_batch_adds_up(client: TestClient, app: FastAPI) -> None:
    """A batch holding the same key twice is merged before it is stored."""
    assert 202 == post(client, batch(telemetry=[point(), point()])).status_code
    doubled = [n * 2 for n in HISTOGRAM]
    assert [("charge", "success", BUCKET, 84, 2.468, doubled)] == _rollups(app)


def test_instances_record_last_seen_and_dropped(client: TestClient, clock: Any) -> None:
    """Each instance shows its SDK, when it was last seen and its latest drop count."""
    post(client, batch(instance="a", dropped=3))
    clock.advance(20)
    post(client, batch(instance="b"))
    post(client, batch(instance="a", dropped=7))
    post(client, batch(instance="a", dropped=5))  # a late retry of an older batch
    items = client.get("/api/v1/services/payments/instances").json()["items"]
    assert [
        {
            "instance": "a",
            "sdk": "0.1.0",
            "first_seen": START,
            "last_seen": START + 20,
            "dropped": 7,
        },
        {
            "instance": "b",
            "sdk": "0.1.0",
            "first_seen": START + 20,
            "last_seen": START + 20,
            "dropped": 0,
        },
    ] == items


def test_instances_paginate(client: TestClient, clock: Any) -> None:
    """The instance list pages with a cursor, most recently seen first."""
    for name in ("a", "b", "c"):
        post(client, batch(instance=name))
        clock.advance(1)
    first = client.get("/api/v1/services/payments/instances", params={"limit": 2}).json()
    second = client.get(
        "/api/v1/services/payments/instances", params={"limit": 2, "cursor": first["next"]}
    ).json()
    assert (["c", "b"], ["a"], None) == (
        [i["instance"] for i in first["items"]],
        [i["instance"] for i in second["items"]],
        second["next"],
    )


def test_events_are_logged_as_sdk_events(client: TestClient, app: FastAPI) -> None:
    """SDK events go to the event log: source sdk, the batch's service, name and instance."""
    events = [
        event(trace_id="4bf92f3577b34da6a3ce929d0e0e4736"),
        event("retry.exhausted", name="", severity=None, attributes={"attempts": 3}),
    ]
    assert 202 == post(client, batch(telemetry=[], events=events)).status_code
    with transaction(app.state.sessions) as session:
        rows = session.scalars(select(EventRow).order_by(EventRow.id)).all()
        stored = [
            (
                r.kind,
                r.service,
                r.severity,
                r.source,
                r.time,
                r.received_at,
                r.trace_id,
                r.attributes,
            )
            for r in rows
        ]
    assert [
        (
            "circuit_breaker.state_changed",
            "payments",
            "warning",
            "sdk",
            START + 1.2,
            START,
            "4bf92f3577b34da6a3ce929d0e0e4736",
            {
                "from_state": "closed",
                "to_state": "open",
                "name": "payments-db",
                "instance": "host:1:abcd",
            },
        ),
        (
            "retry.exhausted",
            "payments",
            "info",
            "sdk",
            START + 1.2,
            START,
            None,
            {"attempts": 3, "name": "", "instance": "host:1:abcd"},
        ),
    ] == stored


def _valid_then(bad: dict[str, Any]) -> dict[str, Any]:
    return batch(telemetry=[point(), bad], events=[event()])


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("body", "path"),
    [
        (_valid_then({**point(), "histogram": [1, 2, 3]}), "telemetry[1].histogram"),
        (_valid_then({**point(), "bucket": BUCKET + 5}), "telemetry[1].bucket"),
        (_valid_then({**point(), "outcome": "meh"}), "telemetry[1].outcome"),
        (_valid_then({**point(), "count": -1}), "telemetry[1].count"),
        (_valid_then({**point(), "histogram": [0] * 13 + [-1]}), "telemetry[1].histogram"),
        (_valid_then({**point(), "operation": "bad name!"}), "telemetry[1].operation"),
        ({**batch(), "protocol": 2}, "protocol"),
        ({**batch(), "service": "Not A Name"}, "service"),
        ({**batch(), "dropped": -3}, "dropped"),
        ({**batch(events=[event(), event(kind="NoDots")])}, "events[1].kind"),
        ({**batch(events=[event(severity="loud")])}, "events[0].severity"),
        ({k: v for k, v in batch().items() if k != "instance"}, "instance"),
    ],
)
def test_bad_shape_is_400_naming_the_field(
    client: TestClient, app: FastAPI, body: dict[str, Any], path: str
) -> None:
    """A batch with one bad member is refused whole, with the path of that member."""
    response = post(client, body)
    assert (400, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert response.json()["detail"].startswith(f"{path}: "), response.json()
    assert path == response.json()["errors"][0]["path"]
    assert (0, 0, 0) == _stored(app)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "(body)"),
        (json.dumps(batch()).replace("1.234", "NaN").encode(), "not JSON"),
        (json.dumps(batch(events=[event(attributes={"x": "a\x00b"})])).encode(), "NUL"),
        (json.dumps(batch(events=[event(attributes={"\ud800": 1})])).encode(), "surrogates"),
        (json.dumps(batch(instance="a\udfffb")).encode(), "surrogates"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_json_is_400(client: TestClient, app: FastAPI, raw: bytes, detail: str) -> None:
    """Bodies that are not JSON (or JSON no store can keep) are refused, nothing stored."""
    response = post(client, raw)
    assert 400 == response.status_code
    assert detail in response.json()["detail"]
    assert (0, 0, 0) == _stored(app)


def test_corrupt_gzip_is_400(client: TestClient, app: FastAPI) -> None:
    """A body that claims gzip but is not is a malformed body."""
    response = client.post(
        INGEST_PATH,
        content=gzip.compress(json.dumps(batch()).encode())[:-10],
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert (400, "the gzip stream is truncated") == (
        response.status_code,
        response.json()["detail"],
    )
    assert (0, 0, 0) == _stored(app)


def _oversized() -> bytes:
    """A valid-looking batch just over the limit (padding in an event attribute)."""
    body = batch(events=[event(attributes={"pad": ""})])
    size = len(json.dumps(body).encode())
    body["events"][0]["attributes"]["pad"] = "x" * (MAX_BATCH_BYTES - size + 1)
    raw = json.dumps(body).encode()
    assert MAX_BATCH_BYTES + 1 == len(raw)
    return raw


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "identity"])
def test_oversized_batch_is_413(client: TestClient, app: FastAPI, compress: bool) -> None:
    """One byte over MAX_BATCH_BYTES once decompressed is 413, nothing stored."""
    response = post(client, _oversized(), compress=compress)
    assert (413, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )
    assert (0, 0, 0) == _stored(app)


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(bytes(256 * 1024 * 1024), compresslevel=9)


def test_zip_bomb_is_413(client: TestClient, app: FastAPI) -> None:
    """A 256 KiB gzip body inflating to 256 MiB is refused at the limit, not inflated whole."""
    bomb = _bomb()
    assert len(bomb) < 300 * 1024
    response = post(client, bomb, compress=False, headers={"Content-Encoding": "gzip"})
    assert 413 == response.status_code
    assert (0, 0, 0) == _stored(app)


def test_declared_length_over_the_limit_is_413_unread(client: TestClient) -> None:
    """A Content-Length above any acceptable body is refused before reading it."""
    response = post(
        client, b"{}", compress=False, headers={"Content-Length": str(MAX_BATCH_BYTES + 1)}
    )
    assert 413 == response.status_code


@pytest.mark.parametrize(
    "headers",
    [{"Content-Encoding": "br"}, {"Content-Type": "text/plain"}],
)
def test_unsupported_media_is_415(client: TestClient, headers: dict[str, str]) -> None:
    """Encodings other than gzip/identity and non-JSON bodies are 415."""
    assert 415 == post(client, batch(), compress=False, headers=headers).status_code


def test_bound_ingest_token_pushes_only_for_its_service(client: TestClient, app: FastAPI) -> None:
    """An ingest token bound to payments pushes for payments and gets 403 for another."""
    token = bearer(token_for(client, "ingest", service="payments"))
    assert 202 == post(client, batch(), headers=token).status_code
    refused = post(client, batch(service="orders", events=[event()]), headers=token)
    assert 403 == refused.status_code
    assert "bound to service 'payments'" in refused.json()["detail"]
    assert (1, 1, 0) == _stored(app)


def test_unbound_ingest_and_operator_tokens_push_any_service(client: TestClient) -> None:
    """Unbound ingest tokens and operators may push for any service."""
    for role in ("ingest", "operator"):
        token = bearer(token_for(client, role))
        assert 202 == post(client, batch(service=f"svc-{role}"), headers=token).status_code


def test_who_may_ingest(client: TestClient, anonymous: TestClient) -> None:
    """No token is 401; a viewer token is 403."""
    assert 401 == post(anonymous, batch()).status_code
    viewer = bearer(token_for(client, "viewer"))
    assert 403 == post(client, batch(), headers=viewer).status_code


def test_ingest_token_cannot_read(client: TestClient) -> None:
    """An ingest token pushes but does not read telemetry or instances."""
    token = bearer(token_for(client, "ingest", service="payments"))
    for path in ("telemetry", "instances"):
        assert 403 == client.get(f"/api/v1/services/payments/{path}", headers=token).status_code


def test_ingest_is_documented(client: TestClient) -> None:
    """The OpenAPI document describes the batch body."""
    operation = client.get("/api/v1/openapi.json").json()["paths"][INGEST_PATH]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"protocol", "service", "instance", "sdk", "sent_at"} <= set(schema["required"])
    assert "$ref" not in json.dumps(schema)


def test_concurrent_batches_on_one_bucket_add_up(app: FastAPI) -> None:
    """Batches for one bucket committed at the same time all count (no lost update)."""
    sessions = app.state.sessions
    batches = [
        read(json.dumps(batch(instance=f"i{n % 3}", telemetry=[point(), point("other")])).encode())
        for n in range(12)
    ]

    def push(one: Batch | None) -> None:
        assert one is not None
        with transaction(sessions) as session:
            use_cases.ingest(session, one, now=START)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(push, batches))
    assert [
        ("charge", "success", BUCKET, 12 * 42, round(12 * 1.234, 9), [12 * n for n in HISTOGRAM]),
        ("other", "success", BUCKET, 12 * 42, round(12 * 1.234, 9), [12 * n for n in HISTOGRAM]),
    ] == _rollups(app)


def test_outcomes_of_one_bucket_share_a_row_and_zero_is_not_absent(
    client: TestClient, app: FastAPI
) -> None:
    """Every outcome of an operation and bucket lands in one stored row; an outcome reported
    with no calls reads back as a zero cell, one never reported reads back as nothing."""
    zero = [0] * 14
    points = [point(), point(outcome="timeout"), point(outcome="rejected", histogram=zero)]
    assert 202 == post(client, batch(telemetry=points)).status_code
    assert (1, 1, 0) == _stored(app)
    assert [
        ("charge", "rejected", BUCKET, 0, 1.234, zero),
        ("charge", "success", BUCKET, 42, 1.234, HISTOGRAM),
        ("charge", "timeout", BUCKET, 42, 1.234, HISTOGRAM),
    ] == _rollups(app)
