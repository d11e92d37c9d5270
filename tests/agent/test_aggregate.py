"""Aggregator: counts, sums and latency histograms per bucket, operation and outcome."""

from __future__ import annotations

import pytest

from reliant.agent.aggregate import Aggregator, Point
from reliant.agent.protocol import BUCKET_SECONDS, LATENCY_BOUNDS
from reliant.testing import VirtualClock

START = 1_800_000_000.0
EMPTY = (0,) * (len(LATENCY_BOUNDS) + 1)


def histogram(**slots: int) -> tuple[int, ...]:
    """A histogram with the given slots (``s0=…``) set."""
    counts = list(EMPTY)
    for key, value in slots.items():
        counts[int(key[1:])] = value
    return tuple(counts)


def test_calls_add_up_per_operation_and_outcome() -> None:
    """Each (operation, outcome) of a bucket gets its count, sum and histogram."""
    wall = VirtualClock(START)
    agg = Aggregator(wall=wall.now)
    agg.record("charge", "success", 0.002)
    agg.record("charge", "success", 0.004)
    agg.record("charge", "timeout", 3.0)
    agg.record("refund", "rejected", 0.0)
    assert [
        Point("charge", "success", 1_800_000_000, 2, pytest.approx(0.006), histogram(s1=1, s2=1)),
        Point("charge", "timeout", 1_800_000_000, 1, 3.0, histogram(s11=1)),
        Point("refund", "rejected", 1_800_000_000, 1, 0.0, histogram(s0=1)),
    ] == agg.drain()


@pytest.mark.parametrize(
    ("duration", "slot"),
    [(0.001, 0), (0.0010001, 1), (0.0025, 1), (10.0, 12), (10.5, 13), (1e9, 13)],
)
def test_a_duration_on_a_bound_counts_in_that_bound(duration: float, slot: int) -> None:
    """Slot i holds durations <= LATENCY_BOUNDS[i] and > the previous bound; the last is +Inf."""
    agg = Aggregator(wall=VirtualClock(START).now)
    agg.record("op", "success", duration)
    assert histogram(**{f"s{slot}": 1}) == agg.drain()[0].histogram


def test_buckets_are_aligned_wall_time_windows() -> None:
    """Calls 10 s apart land in consecutive buckets, drained oldest first."""
    wall = VirtualClock(START + 9.9)
    agg = Aggregator(wall=wall.now)
    agg.record("op", "success", 0.01)
    wall.advance(0.1)
    agg.record("op", "success", 0.01)
    agg.record("op", "success", 0.01)
    assert [(1_800_000_000, 1), (1_800_000_000 + BUCKET_SECONDS, 2)] == [
        (p.bucket, p.count) for p in agg.drain()
    ]


def test_a_clock_stepping_back_reopens_the_older_bucket() -> None:
    """A wall clock set back by NTP adds to the bucket it points at again."""
    wall = VirtualClock(START + 12)
    agg = Aggregator(wall=wall.now)
    agg.record("op", "success", 0.01)
    wall._now = START + 5  # NTP steps the wall clock back
    agg.record("op", "success", 0.01)
    assert [1_800_000_000, 1_800_000_010] == [p.bucket for p in agg.drain()]


def test_an_unknown_outcome_counts_as_failure() -> None:
    """Only the four protocol outcomes exist on the wire."""
    agg = Aggregator(wall=VirtualClock(START).now)
    agg.record("op", "exploded", 0.01)
    assert ["failure"] == [p.outcome for p in agg.drain()]


def test_negative_durations_add_nothing_to_the_sum() -> None:
    """A clock read backwards cannot make a sum negative."""
    agg = Aggregator(wall=VirtualClock(START).now)
    agg.record("op", "success", -0.5)
    assert (1, 0.0, histogram(s0=1)) == (lambda p: (p.count, p.sum, p.histogram))(agg.drain()[0])


def test_drain_starts_afresh() -> None:
    """What was drained is not drained again; later calls form new points."""
    agg = Aggregator(wall=VirtualClock(START).now)
    agg.record("op", "success", 0.01)
    agg.drain()
    assert [] == agg.drain()
    agg.record("op", "success", 0.01)
    assert [1] == [p.count for p in agg.drain()]
    assert 0 == len(agg)


def test_series_beyond_the_bound_are_dropped_and_counted() -> None:
    """A call that would open series max_series + 1 is counted in dropped, not held."""
    agg = Aggregator(wall=VirtualClock(START).now, max_series=2)
    agg.record("a", "success", 0.01)
    agg.record("a", "failure", 0.01)
    agg.record("b", "success", 0.01)
    agg.record("a", "success", 0.01)
    assert (2, 1) == (len(agg), agg.dropped)
    assert [("a", "success", 2), ("a", "failure", 1)] == [
        (p.operation, p.outcome, p.count) for p in agg.drain()
    ]


def test_a_point_has_the_push_body_shape() -> None:
    """to_json() gives the protocol's telemetry item."""
    point = Point("charge", "success", 1_800_000_000, 3, 0.5, histogram(s3=3))
    assert {
        "operation": "charge",
        "outcome": "success",
        "bucket": 1_800_000_000,
        "count": 3,
        "sum": 0.5,
        "histogram": [0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    } == point.to_json()


def test_max_series_is_validated() -> None:
    """max_series must be an integer >= 1."""
    with pytest.raises(ValueError, match="Aggregator: max_series must be an integer >= 1"):
        Aggregator(wall=VirtualClock().now, max_series=0)
