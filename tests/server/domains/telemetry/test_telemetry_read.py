"""Reading telemetry: series per operation and outcome, the summary facade, retention."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ingest_helpers import batch, point, post
from server_helpers import START
from sqlalchemy import func, select

from reliant.server.app import collect_jobs
from reliant.server.db import transaction
from reliant.server.domains import telemetry
from reliant.server.domains.telemetry.jobs import INSTANCE_RETENTION, ROLLUP_RETENTION, prune
from reliant.server.domains.telemetry.models import ROLLUPS, InstanceRow
from reliant.server.settings import Settings

B0 = int(START)
FAILURES = [0] * 9 + [8] + [0] * 4  # 8 calls in (0.5, 1] s
SLOW = [0] * 13 + [2]  # 2 calls slower than 10 s
FAST = [5] + [0] * 13  # 5 calls under 1 ms


def _seed(client: TestClient) -> None:
    points = [
        point(),  # charge success at B0: the protocol's 42 calls
        point(outcome="failure", bucket=B0 + 10, histogram=FAILURES, total=6.0),
        point(bucket=B0 + 60, histogram=SLOW, total=30.0),
        point(operation="refund", histogram=FAST, total=0.002),
    ]
    assert 202 == post(client, batch(telemetry=points)).status_code


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _read(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/services/payments/telemetry", params=params)
    assert 200 == response.status_code, response.text
    return dict(_rounded(response.json()))


def _latency(count: int, p50: float | None, p95: float | None, p99: float | None) -> dict[str, Any]:
    return _rounded({"count": count, "p50": p50, "p95": p95, "p99": p99})


def test_series_figures(client: TestClient) -> None:
    """Points per step add the 10 s buckets; quantiles are interpolated in the histogram."""
    _seed(client)
    body = _read(client, since=B0, until=B0 + 120, step=60)
    assert (B0, B0 + 120, 60) == (body["since"], body["until"], body["step"])
    charge, refund = body["operations"]
    assert ("charge", "refund") == (charge["operation"], refund["operation"])
    assert [
        {
            "time": B0,
            "errors": 8,
            "error_ratio": 0.16,
            **_latency(50, 0.005 + 0.005 * 12 / 20, 0.5 + 0.5 * 5.5 / 8, 0.5 + 0.5 * 7.5 / 8),
        },
        {"time": B0 + 60, "errors": 0, "error_ratio": 0.0, **_latency(2, 10.0, 10.0, 10.0)},
    ] == charge["points"]
    assert {
        "errors": 8,
        "error_ratio": _rounded(8 / 52),
        **_latency(52, 0.005 + 0.005 * 13 / 20, 0.5 + 0.5 * 7.4 / 8, 10.0),
    } == charge["totals"]
    assert [
        {
            "outcome": "failure",
            "points": [
                {"time": B0, "sum": 6.0, **_latency(8, 0.75, 0.975, 0.5 + 0.5 * 7.92 / 8)},
                {"time": B0 + 60, "sum": 0.0, **_latency(0, None, None, None)},
            ],
        },
        {
            "outcome": "success",
            "points": [
                {"time": B0, "sum": 1.234, **_latency(42, 0.007, 0.0215, 0.01 + 0.015 * 8.58 / 9)},
                {"time": B0 + 60, "sum": 30.0, **_latency(2, 10.0, 10.0, 10.0)},
            ],
        },
    ] == charge["outcomes"]
    assert {"errors": 0, "error_ratio": 0.0, **_latency(5, 0.0005, 0.00095, 0.00099)} == refund[
        "totals"
    ]


def test_operation_filter(client: TestClient) -> None:
    """operation= keeps one operation."""
    _seed(client)
    body = _read(client, since=B0, until=B0 + 120, step=60, operation="refund")
    assert ["refund"] == [op["operation"] for op in body["operations"]]


def test_since_aligns_to_the_step(client: TestClient) -> None:
    """since is aligned down to the step, so every point covers a whole step."""
    _seed(client)
    body = _read(client, since=B0 + 30, until=B0 + 120, step=60)
    assert (B0, [50, 2]) == (body["since"], [p["count"] for p in body["operations"][0]["points"]])


def test_defaults_are_the_last_hour_in_10s_steps(client: TestClient, clock: Any) -> None:
    """Without parameters: the hour before now, 360 points of 10 s."""
    _seed(client)
    clock.advance(120)
    body = _read(client)
    charge = body["operations"][0]
    assert (10, 360, 52) == (body["step"], len(charge["points"]), charge["totals"]["count"])


def test_unknown_service_has_no_operations(client: TestClient) -> None:
    """A service that never pushed answers empty series, not 404."""
    assert [] == _read(client, since=B0, until=B0 + 60)["operations"]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"since": B0, "until": B0 + 60, "step": 15}, "multiple of 10"),
        ({"since": B0, "until": B0}, "until must be after since"),
        ({"since": B0 - 30 * 86400, "until": B0, "step": 10}, "at most 1440"),
        ({"since": 0, "until": 1e11, "step": 10}, "at least 69444450 seconds"),
    ],
)
def test_bad_ranges_are_400(client: TestClient, params: dict[str, Any], detail: str) -> None:
    """A step off the bucket grid, an empty range or too many points are explained."""
    response = client.get("/api/v1/services/payments/telemetry", params=params)
    assert 400 == response.status_code
    assert detail in response.json()["detail"]


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    "params",
    [
        {"since": 1e300},
        {"until": "inf"},
        {"since": "nan"},
        {"since": -5},
        {"step": 0},
        {"operation": "bad name!"},
    ],
)
def test_out_of_range_parameters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    """Times outside [0, 1e11], non-finite numbers, bad steps and names are refused."""
    response = client.get("/api/v1/services/payments/telemetry", params=params)
    assert 422 == response.status_code


def test_summary_facade(client: TestClient, app: FastAPI) -> None:
    """summary() gives requests, errors, error ratio and p95 of a service over a range."""
    _seed(client)
    with transaction(app.state.sessions) as session:
        found = telemetry.summary(session, "payments", B0, B0 + 120)
        nothing = telemetry.summary(session, "payments", B0 + 120, B0 + 600)
        first_bucket = telemetry.summary(session, "payments", B0, B0 + 10)
    assert (57, 8) == (found.requests, found.errors)
    assert 8 / 57 == pytest.approx(found.error_ratio)
    assert 0.5 + 0.5 * (0.95 * 57 - 47) / 8 == pytest.approx(found.p95)
    assert (0, None, None) == (nothing.requests, nothing.error_ratio, nothing.p95)
    assert (47, 0) == (first_bucket.requests, first_bucket.errors)


def test_retention_prunes_old_rollups_and_instances(client: TestClient, app: FastAPI) -> None:
    """The retention job deletes rollups and silent instances past their retention."""
    _seed(client)
    post(client, batch(instance="later", telemetry=[point(bucket=B0 + 86400)]))
    with transaction(app.state.sessions) as session:
        prune(session, B0 + ROLLUP_RETENTION + 30)
    with transaction(app.state.sessions) as session:
        left = session.scalars(select(ROLLUPS.c.bucket_start).order_by(ROLLUPS.c.bucket_start))
        assert [B0 + 60, B0 + 86400] == list(left)
        prune(session, START + INSTANCE_RETENTION + 1)
        assert 0 == session.scalar(select(func.count()).select_from(InstanceRow))


def test_retention_job_is_registered(settings: Settings) -> None:
    """The app's job runner knows the telemetry retention job."""
    assert "telemetry.retention" in [job.name for job in collect_jobs(settings)]
