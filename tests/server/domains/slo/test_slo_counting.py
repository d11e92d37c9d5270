"""Running window sums: a cycle that reads only what changed counts what a recount counts."""

from __future__ import annotations

import random
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from slo_helpers import OPERATION, T0, point, push, slo

from reliant.server.db import transaction
from reliant.server.domains.slo import compile_plan
from reliant.server.domains.slo.assess import Assessment
from reliant.server.domains.slo.counting import RESYNC, SETTLE
from reliant.server.domains.slo.evaluate import Counter, count
from reliant.spec.models import SLOSpec

HOUR = 3600


def _plans(*specs: tuple[str, dict[str, Any]]) -> list[Any]:
    return [compile_plan(name, SLOSpec.model_validate(body)) for name, body in specs]


PLANS = _plans(
    ("availability", slo(window={"rolling": "1h"})),
    ("fast", slo(sli={"latency": {"operation": OPERATION, "threshold": "100ms"}})),
    ("monthly", slo(window={"calendar": "month", "timezone": "Europe/Paris"})),
    (
        "sliced",
        slo(
            objective=99.0,
            window={"rolling": "1h"},
            budgeting="timeslices",
            timeslices={"duration": "1m", "target": 0.9},
            alerting={
                "windows": [{"severity": "page", "long": "10m", "short": "2m", "burn_rate": 2}]
            },
        ),
    ),
)


def _figures(found: list[Assessment]) -> dict[str, Any]:
    return {
        a.plan.name: (tuple(a.counted), {w: tuple(c) for w, c in a.windows.items()}) for a in found
    }


def _traffic(rng: random.Random, start: int, end: int) -> list[dict[str, Any]]:
    points = []
    for bucket in range(start, end, 10):
        if rng.random() < 0.7:
            points.append(
                point(bucket, "success", rng.randrange(1, 50), index=rng.choice((3, 6, 9)))
            )
        if rng.random() < 0.3:
            points.append(point(bucket, rng.choice(("failure", "timeout")), rng.randrange(1, 5)))
    return points


def test_kept_sums_equal_a_recount_at_every_cycle(client: TestClient, app: FastAPI) -> None:
    """Traffic arriving as an SDK sends it (within SETTLE), cycles at uneven times: the kept
    sums, windows and slices equal a count from scratch, across a month boundary."""
    rng = random.Random(5)
    start = 1_801_435_200  # 2027-01-31 23:40 in Paris: the month turns 20 min later
    counter = Counter()
    pushed = start - 2 * HOUR
    push(client, _traffic(rng, pushed, start))
    now = float(start)
    for _ in range(40):
        now += rng.choice((10, 25, 30, 30, 45, 90, 400))
        edge = int(now // 10 * 10) - 10  # buckets that ended by now, sent with some delay
        if edge > pushed:
            push(client, _traffic(rng, pushed, edge))
            pushed = edge
        with transaction(app.state.sessions) as session:
            kept = _figures(count(session, PLANS, now, counter))
            fresh = _figures(count(session, PLANS, now))
        assert fresh == kept
    assert 1 == counter.windows.recounts  # one recount at the first cycle, then steps only
    assert now - start < RESYNC


def test_late_points_are_counted_at_the_next_recount(client: TestClient, app: FastAPI) -> None:
    """A point for a bucket settled long ago is not seen by the steps, then the periodic
    recount takes it in."""
    counter = Counter()
    plans = _plans(("thirty-days", slo()))
    push(client, [point(T0, "success", 10)])
    with transaction(app.state.sessions) as session:
        first = count(session, plans, T0 + 600, counter)[0]
    push(client, [point(T0 + 10, "failure", 5)])  # 590 s late: past SETTLE
    assert SETTLE < 590
    with transaction(app.state.sessions) as session:
        stepped = count(session, plans, T0 + 630, counter)[0]
        recounted = count(session, plans, T0 + 600 + RESYNC, counter)[0]
    assert (10, 10) == (first.counted.good, first.counted.total)
    assert (10, 10) == (stepped.counted.good, stepped.counted.total)
    assert (10, 15) == (recounted.counted.good, recounted.counted.total)
    assert 2 == counter.windows.recounts


def test_a_new_service_is_recounted(client: TestClient, app: FastAPI) -> None:
    """An SLO of a service the sums do not cover yet makes the next cycle recount."""
    counter = Counter()
    push(client, [point(T0, "success", 10)], service="search")
    other = _plans(("search", slo(service="search", window={"rolling": "1h"})))
    with transaction(app.state.sessions) as session:
        count(session, PLANS[:1], T0 + 600, counter)
        found = count(session, [*PLANS[:1], *other], T0 + 630, counter)
    assert 2 == counter.windows.recounts
    assert (10, 10) == (found[1].counted.good, found[1].counted.total)
