"""Counting SLIs from the rollups: exact occurrences, latency, time slices, calendar periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from slo_helpers import (
    FAST,
    OPERATION,
    SLOW,
    T0,
    evaluate,
    point,
    push,
    put,
    slo,
    status,
    steady,
)
from sqlalchemy import select

from reliant.server.db import transaction
from reliant.server.domains.slo.jobs import EVALUATION_INTERVAL, JOB_NAME
from reliant.server.domains.slo.models import SLOStatusRow
from reliant.testing import VirtualClock

HOUR = 3600


def _utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def test_occurrences_are_counted_exactly_not_as_an_average_of_5m_ratios(
    client: TestClient, app: FastAPI
) -> None:
    """A busy 5 minutes with 10% errors and a quiet rest: 3000/30330 bad, not 10%/12."""
    put(client, "hourly", slo(window={"rolling": "1h"}))
    push(client, steady(T0, T0 + 300, good=900, bad=100))
    push(client, steady(T0 + 300, T0 + HOUR, good=1))
    evaluate(app, T0 + HOUR)
    counts = status(client, "hourly")["counts"]
    assert (30_330, 27_330) == (counts["total"], counts["good"])
    assert 3000 / 30_330 == pytest.approx(counts["error_ratio"], rel=1e-12)


def test_ratio_sli_counts_the_chosen_good_outcomes(client: TestClient, app: FastAPI) -> None:
    """good: [success, rejected] makes rejections good; timeouts stay bad."""
    put(
        client,
        "lenient",
        slo(sli={"ratio": {"operation": OPERATION, "good": ["success", "rejected"]}}),
    )
    push(client, [point(T0, "success", 70), point(T0, "rejected", 20), point(T0, "timeout", 10)])
    push(client, [point(T0, "success", 5)], service="other")  # another service: not counted
    evaluate(app, T0 + 10)
    counts = status(client, "lenient")["counts"]
    assert (90, 100) == (counts["good"], counts["total"])


def test_latency_sli_counts_calls_under_the_threshold_exactly(
    client: TestClient, app: FastAPI
) -> None:
    """threshold 100ms: calls in buckets up to the 100ms bound are good; only successes count."""
    latency = {"latency": {"operation": OPERATION, "threshold": "100ms"}}
    put(client, "fast-charges", slo(sli=latency, objective=99.0))
    push(
        client,
        [
            point(T0, "success", 90, index=FAST),  # exactly at the bound's bucket: good
            point(T0, "success", 7, index=FAST + 1),  # (100ms, 250ms]: slow
            point(T0, "success", 3, index=SLOW),  # over 10 s
            point(T0, "failure", 50, index=0),  # failures are not counted by default
        ],
    )
    evaluate(app, T0 + 10)
    body = status(client, "fast-charges")
    assert (90, 100, "latency") == (body["counts"]["good"], body["counts"]["total"], body["sli"])
    with_failures = {"latency": {**latency["latency"], "outcomes": ["success", "failure"]}}
    put(client, "fast-any", slo(sli=with_failures, objective=99.0))
    evaluate(app, T0 + 20)
    counts = status(client, "fast-any")["counts"]
    assert (140, 150) == (counts["good"], counts["total"])


def test_time_slices_judge_whole_slices_and_quiet_ones_are_good(
    client: TestClient, app: FastAPI
) -> None:
    """99% of 5 min slices over a day: one slice at 2% errors is bad, quiet slices are good,
    and the slice still in progress is not judged yet."""
    body = slo(
        objective=99.0,
        window={"rolling": "1d"},
        budgeting="timeslices",
        timeslices={"duration": "5m", "target": 0.99},
    )
    put(client, "sliced", body)
    push(client, steady(T0, T0 + 300, good=98, bad=2))  # bad slice
    push(client, steady(T0 + 300, T0 + 600, good=99, bad=1))  # exactly 99%: good
    push(client, steady(T0 + 900, T0 + 1200, good=50))  # after a quiet slice
    push(client, steady(T0 + 1200, T0 + 1230, good=0, bad=5))  # in progress at T0+1230
    evaluate(app, T0 + 1230)
    found = status(client, "sliced")
    counts = found["counts"]
    # Every whole slice of the last day is judged: 287 of them, only one bad.
    assert (286, 287, "slices") == (counts["good"], counts["total"], found["budget"]["unit"])
    allowed = 0.01 * 288
    assert allowed == pytest.approx(found["budget"]["allowed"])
    assert 1 - 1 / allowed == pytest.approx(found["budget"]["remaining"])
    assert (allowed - 1) * 5 == pytest.approx(found["budget"]["minutes_left"])
    hour = next(w for w in found["windows"] if w["window"] == "1h")
    assert (11, 12) == (hour["good"], hour["total"])  # the last 12 whole slices
    assert 1 / 12 / 0.01 == pytest.approx(hour["burn_rate"])
    history = client.get(
        "/api/v1/slos/sliced/history", params={"since": T0 + 1220, "until": T0 + 1230, "step": 10}
    ).json()
    assert found["budget"]["remaining"] == pytest.approx(history["points"][-1]["budget_remaining"])
    assert hour["burn_rate"] == pytest.approx(history["points"][-1]["burn_rates"]["1h"])


def test_calendar_month_in_a_non_utc_zone(client: TestClient, app: FastAPI) -> None:
    """Tokyo's February starts 2027-01-31 15:00 UTC: errors at 20:00 UTC on the 31st belong
    to February, those at 10:00 UTC to January."""
    window = {"calendar": "month", "timezone": "Asia/Tokyo"}
    put(client, "monthly", slo(window=window))
    january, february = _utc(2027, 1, 31, 10), _utc(2027, 1, 31, 20)
    push(client, steady(january, january + 60, good=0, bad=10))
    push(client, steady(february, february + 60, good=90, bad=10))
    evaluate(app, _utc(2027, 1, 31, 14))  # 23:00 in Tokyo: still January
    jan = status(client, "monthly")
    assert (_utc(2026, 12, 31, 15), _utc(2027, 1, 31, 15)) == (
        jan["period"]["start"],
        jan["period"]["end"],
    )
    assert (0, 60) == (jan["counts"]["good"], jan["counts"]["total"])
    evaluate(app, _utc(2027, 2, 1))  # 09:00 on 1 February in Tokyo
    feb = status(client, "monthly")
    assert ("calendar", _utc(2027, 1, 31, 15), _utc(2027, 2, 28, 15)) == (
        feb["period"]["kind"],
        feb["period"]["start"],
        feb["period"]["end"],
    )
    assert (540, 600) == (feb["counts"]["good"], feb["counts"]["total"])
    # 9 h of 28 days gone: the month may hold 0.1% of 600 events scaled to 28 days.
    allowed = 0.001 * 600 * (28 * 24) / 9
    assert allowed == pytest.approx(feb["budget"]["allowed"])
    assert 1 - 60 / allowed == pytest.approx(feb["budget"]["remaining"])
    assert "calendar month (Asia/Tokyo)" in feb["explanation"]["budget"]


def test_the_job_evaluates_every_interval(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """The app's job runner runs slo.evaluate every 30 s and stores a snapshot per SLO."""
    put(client, "checkout-availability", slo())
    runner = app.state.jobs
    assert JOB_NAME in runner.tick()
    clock.advance(EVALUATION_INTERVAL - 1)
    assert JOB_NAME not in runner.tick()
    clock.advance(1)
    assert JOB_NAME in runner.tick()
    with transaction(app.state.sessions) as session:
        found = session.scalars(select(SLOStatusRow.evaluated_at)).all()
    assert [clock.now()] == list(found)


def _stored_firing(app: FastAPI) -> list[str]:
    with transaction(app.state.sessions) as session:
        return list(session.scalars(select(SLOStatusRow.firing)))


def test_a_changed_spec_is_re_read_by_the_next_cycle(
    client: TestClient, app: FastAPI, clock: VirtualClock
) -> None:
    """The job's plan cache follows the SLO's revision: a new objective applies at once."""
    put(client, "checkout-availability", slo())
    push(client, steady(T0 - 600, T0, good=980, bad=20))
    runner = app.state.jobs
    runner.tick()
    assert ["page,ticket"] == _stored_firing(app)  # 2% errors burn a 99.9% budget at 20x
    put(client, "checkout-availability", slo(objective=95.0), status=200)
    clock.advance(EVALUATION_INTERVAL)
    runner.tick()
    assert [""] == _stored_firing(app)
