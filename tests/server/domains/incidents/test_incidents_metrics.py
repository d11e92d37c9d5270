"""Response metrics with hand-computed figures, each test stating its figures.

The set, over the period [S, S + 10h) where S = 2027-01-15 08:00 UTC:

====  =================  ========  ==========  ==========  ==========
#     services           severity  declared    acked       resolved
====  =================  ========  ==========  ==========  ==========
I1    payments           SEV2      S + 1h      S + 1h05m   S + 2h
I2    payments, ledger   SEV1      S + 3h      S + 3h15m   S + 5h
I3    ledger             SEV2      S + 4h      never       S + 4h30m
I4    payments           SEV3      S + 8h      never       never
====  =================  ========  ==========  ==========  ==========

Teams (catalog owners): payments → team-pay, ledger → team-core.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from incidents_helpers import declare, move
from server_helpers import START

from reliant.server.domains.incidents import metrics
from reliant.testing import VirtualClock

H = 3600.0
UNTIL = START + 10 * H
FACTS = [
    metrics.Facts(
        id=1,
        created_at=START + H,
        acknowledged_at=START + H + 300,
        resolved_at=START + 2 * H,
        groups=("payments",),
    ),
    metrics.Facts(
        id=2,
        created_at=START + 3 * H,
        acknowledged_at=START + 3 * H + 900,
        resolved_at=START + 5 * H,
        groups=("payments", "ledger"),
    ),
    metrics.Facts(
        id=3,
        created_at=START + 4 * H,
        acknowledged_at=None,
        resolved_at=START + 4.5 * H,
        groups=("ledger",),
    ),
    metrics.Facts(
        id=4,
        created_at=START + 8 * H,
        acknowledged_at=None,
        resolved_at=None,
        groups=("payments",),
    ),
]


@pytest.fixture
def recorded(client: TestClient, clock: VirtualClock) -> None:
    """The set, recorded through the API on the virtual clock; the clock ends at S + 10h."""
    client.put("/api/v1/services/payments", json={"owner": "team-pay"})
    client.put("/api/v1/services/ledger", json={"owner": "team-core"})

    def at(offset: float) -> None:
        clock.advance(START + offset - clock.now())

    at(H)
    i1 = declare(client, severity="SEV2", services=["payments"])["id"]
    at(H + 300)
    move(client, i1, "acknowledged")
    at(2 * H)
    move(client, i1, "resolved")
    at(3 * H)
    i2 = declare(client, severity="SEV1", services=["payments", "ledger"])["id"]
    at(3 * H + 900)
    move(client, i2, "acknowledged")
    at(4 * H)
    i3 = declare(client, severity="SEV2", services=["ledger"])["id"]
    at(4.5 * H)
    move(client, i3, "resolved")
    at(5 * H)
    move(client, i2, "resolved")
    at(8 * H)
    declare(client, severity="SEV3", services=["payments"])
    at(10 * H)


def get_metrics(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/incidents/metrics", params={"since": START, **params})
    assert 200 == response.status_code, response.text
    return dict(response.json())


def groups(answer: dict[str, Any], metric: str, *fields: str) -> dict[Any, tuple[Any, ...]]:
    return {i["group"]: tuple(i[metric][f] for f in fields) for i in answer["items"]}


def test_mtta_excludes_the_never_acknowledged(client: TestClient, recorded: None) -> None:
    """MTTA (PagerDuty): acknowledged incidents only. All: (300 + 900) / 2 = 600 s, I3 and
    I4 excluded. payments: I1, I2 → 600 s (I4 excluded); ledger: I2 → 900 s (I3 excluded);
    by severity SEV1 900 s, SEV2 300 s (I3 excluded), SEV3 none (I4 excluded)."""
    assert {None: (600.0, 2, 2)} == groups(
        get_metrics(client), "mtta", "seconds", "count", "excluded"
    )
    assert {"ledger": (900.0, 1), "payments": (600.0, 1)} == groups(
        get_metrics(client, group_by="service"), "mtta", "seconds", "excluded"
    )
    assert {"SEV1": (900.0,), "SEV2": (300.0,), "SEV3": (None,)} == groups(
        get_metrics(client, group_by="severity"), "mtta", "seconds"
    )
    answer = get_metrics(client)
    assert metrics.MTTA == answer["items"][0]["mtta"]["definition"]
    assert (True, True) == ("excluded" in metrics.MTTA, "PagerDuty" in metrics.MTTA)


def test_mttr_runs_from_creation_to_resolution(client: TestClient, recorded: None) -> None:
    """MTTR (PagerDuty, created → resolved): I1 3600 s, I2 7200 s, I3 1800 s; I4 is
    unresolved and excluded. All: 12600 / 3 = 4200 s. payments: (3600 + 7200) / 2 = 5400 s;
    ledger: (7200 + 1800) / 2 = 4500 s; by team the same as its service."""
    assert {None: (4200.0, 3, 1)} == groups(
        get_metrics(client), "mttr", "seconds", "count", "excluded"
    )
    assert {"ledger": (4500.0,), "payments": (5400.0,)} == groups(
        get_metrics(client, group_by="service"), "mttr", "seconds"
    )
    assert {"team-core": (4500.0,), "team-pay": (5400.0,)} == groups(
        get_metrics(client, group_by="team"), "mttr", "seconds"
    )


def test_mtbf_is_uptime_over_failures(client: TestClient, recorded: None) -> None:
    """MTBF (Atlassian) over 10 h = 36000 s. All: downtime I1 3600 + I2 7200 (I3 inside
    it) + I4 from S + 8h to the end 7200 = 18000, uptime 18000 over 4 failures = 4500 s.
    payments: downtime 3600 + 7200 + 7200 = 18000, uptime 18000 / 3 = 6000 s; ledger:
    downtime 7200 (I3 inside I2), uptime 28800 / 2 = 14400 s. SEV2: downtime 3600 + 1800,
    uptime 30600 / 2 = 15300 s."""
    assert {None: (4500.0, 4, 18000.0)} == groups(
        get_metrics(client), "mtbf", "seconds", "failures", "uptime"
    )
    assert {"ledger": (14400.0, 28800.0), "payments": (6000.0, 18000.0)} == groups(
        get_metrics(client, group_by="service"), "mtbf", "seconds", "uptime"
    )
    assert 15300.0 == groups(get_metrics(client, group_by="severity"), "mtbf", "seconds")["SEV2"][0]


def test_pure_figures_match_the_api() -> None:
    """The pure computation gives the same figures on the same facts, groups by name."""
    found = {g.group: g for g in metrics.compute(FACTS, since=START, until=UNTIL)}
    assert (600.0, 5400.0, 6000.0) == (
        found["payments"].mtta.seconds,
        found["payments"].mttr.seconds,
        found["payments"].mtbf.seconds,
    )
    assert (900.0, 4500.0, 14400.0) == (
        found["ledger"].mtta.seconds,
        found["ledger"].mttr.seconds,
        found["ledger"].mtbf.seconds,
    )


def test_trend_by_day(client: TestClient, recorded: None) -> None:
    """Day buckets from 2027-01-15 00:00 (S - 8h) to 01-17 00:00 (S + 40h). Day 1 holds
    all four: downtime 3600 + 7200 + I4 from 16:00 to midnight 28800 = 39600, uptime
    46800 / 4 = 11700 s. Day 2 has no failure (MTBF null), I4 down all day (uptime 0)."""
    answer = get_metrics(client, since=START - 8 * H, until=START + 40 * H, bucket="day")
    trend = [
        (b["start"], b["items"][0]["mtbf"]["seconds"], b["items"][0]["mtbf"]["uptime"])
        for b in answer["trend"]
    ]
    assert [(START - 8 * H, 11700.0, 46800.0), (START + 16 * H, None, 0.0)] == trend


def test_weeks_start_on_monday() -> None:
    """Week buckets are ISO weeks (Monday 00:00 UTC), cut to the period: S is a Friday."""
    monday = START + 16 * H + 2 * 86400
    assert [(START, monday), (monday, START + 7 * 86400)] == metrics.buckets(
        START, START + 7 * 86400, "week"
    )


def test_covered_counts_overlaps_once() -> None:
    """Overlapping and nested intervals are counted once, clipped to the period."""
    assert 6.0 == metrics.covered([(0, 3), (2, 5), (3, 4), (9, 20)], since=0, until=10)


def test_bad_periods_are_422(client: TestClient) -> None:
    """since after until, an unreadable time, and too many buckets are refused."""
    for params in (
        {"since": START + 10, "until": START},
        {"since": "yesterday"},
        {"since": 0, "until": START, "bucket": "day"},
    ):
        response = client.get("/api/v1/incidents/metrics", params=params)
        assert 422 == response.status_code, (params, response.text)


def test_merged_duplicates_are_left_out(client: TestClient, clock: VirtualClock) -> None:
    """A merged duplicate is not a failure of its own."""
    primary = declare(client)["id"]
    duplicate = declare(client)["id"]
    client.post(f"/api/v1/incidents/{duplicate}/merge", json={"into": primary})
    clock.advance(60)
    assert [1] == [i["incidents"] for i in get_metrics(client)["items"]]
