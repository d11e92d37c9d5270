"""Grouped reads over many operations: range and slice sums equal brute-force sums of cells."""

from __future__ import annotations

import random

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ingest_helpers import batch, point, post
from server_helpers import START

from reliant.server.db import transaction
from reliant.server.domains import telemetry

B0 = int(START)
SERVICES = ("payments", "search")
OPERATIONS = ("charge", "refund")
OUTCOMES = ("success", "failure", "timeout")
#: Histogram bound indices asked for: calls at most 1 ms, 100 ms and 10 s.
BOUNDS = (0, 6, 12)

Brute = dict[tuple[str, str], list[int]]


def _seed(client: TestClient, rng: random.Random) -> None:
    for service in SERVICES:
        points = [
            point(
                operation=rng.choice(OPERATIONS),
                outcome=rng.choice(OUTCOMES),
                bucket=B0 + 10 * rng.randrange(0, 720),
                histogram=[rng.randrange(0, 4) for _ in range(14)],
            )
            for _ in range(300)
        ]
        assert 202 == post(client, batch(service=service, telemetry=points)).status_code


def _brute(app: FastAPI, since: float, until: float, bounds: tuple[int, ...] = BOUNDS) -> Brute:
    """Each operation's sums (telemetry.layout), from the cells one by one."""
    cells = telemetry.layout(bounds)
    out: Brute = {}
    with transaction(app.state.sessions) as session:
        for service in SERVICES:
            for operation, cell in telemetry.cells(session, service, since=since, until=until):
                sums = out.setdefault((service, operation), [0] * len(cells))
                for i, (outcome, bound) in enumerate(cells):
                    if outcome == cell.outcome:
                        sums[i] += cell.count if bound is None else sum(cell.histogram[: bound + 1])
    return out


def test_range_sums_equal_the_cells_of_each_range(client: TestClient, app: FastAPI) -> None:
    """Nested, overlapping, disjoint and empty ranges read in one statement sum exactly
    what the cells hold."""
    _seed(client, random.Random(7))
    ranges = [
        (B0 + 6900, B0 + 7200),
        (B0, B0 + 7200),
        (B0 + 3600, B0 + 5400),
        (B0 + 5000, B0 + 6000),  # overlaps the one before
        (B0 + 100, B0 + 100),  # empty
        (B0 + 3600, B0 + 5400),  # the same twice
    ]
    with transaction(app.state.sessions) as session:
        found = telemetry.range_sums(session, ranges=ranges, bounds=BOUNDS)
        only = telemetry.range_sums(session, ranges=ranges[:1], services={"search"})
    assert len(ranges) == len(found)
    for (since, until), sums in zip(ranges, found, strict=True):
        assert _brute(app, since, until) == sums
    assert {
        k: v for k, v in _brute(app, *ranges[0], bounds=()).items() if k[0] == "search"
    } == only[0]
    assert ["success", "failure", "rejected", "timeout"] == [o for o, _ in telemetry.layout(())]


def test_slice_sums_equal_the_cells_of_each_slice(client: TestClient, app: FastAPI) -> None:
    """Slices of 300 s from an origin before the range sum exactly each slice's cells."""
    _seed(client, random.Random(11))
    origin, step = B0 - 600, 300
    with transaction(app.state.sessions) as session:
        found = telemetry.slice_sums(
            session, since=B0, until=B0 + 3600, origin=origin, step=step, bounds=BOUNDS
        )
    for i in range(2, 14):
        start = origin + i * step
        assert _brute(app, start, start + step) == {k: v[i] for k, v in found.items() if i in v}


def test_bad_requests_are_refused(app: FastAPI) -> None:
    """A step must be positive, the origin at or before the range, bounds in the histogram."""
    with transaction(app.state.sessions) as session:
        with pytest.raises(ValueError, match="step"):
            telemetry.slice_sums(session, since=B0, until=B0 + 10, origin=B0, step=0)
        with pytest.raises(ValueError, match="origin"):
            telemetry.slice_sums(session, since=B0, until=B0 + 10, origin=B0 + 5, step=10)
        with pytest.raises(ValueError, match="bound"):
            telemetry.range_sums(session, ranges=[(B0, B0 + 10)], bounds=[14])


def test_empty_requests_read_nothing(app: FastAPI) -> None:
    """No ranges, only empty ranges, or no services, answer empty."""
    with transaction(app.state.sessions) as session:
        assert [] == telemetry.range_sums(session, ranges=[])
        assert [{}] == telemetry.range_sums(session, ranges=[(B0, B0)])
        assert [{}] == telemetry.range_sums(session, ranges=[(B0, B0 + 10)], services=())
        assert {} == telemetry.slice_sums(
            session, since=B0, until=B0, origin=B0, step=10, services=[]
        )
