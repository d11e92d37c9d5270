"""Sliding windows: a count ring and one-second time buckets with O(1) totals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliant.resilience.windows import (
    FAILED,
    OK,
    SLOW,
    SLOW_FAILED,
    CountRing,
    CountWindow,
    TimeBuckets,
    TimeWindow,
)

CODES = [OK, FAILED, SLOW, SLOW_FAILED]


def totals(window: CountRing | TimeBuckets) -> tuple[int, int, int]:
    return (window.calls, window.failed, window.slow)


def expected(codes: list[int]) -> tuple[int, int, int]:
    """Totals recomputed from scratch: calls, failures, slow calls."""
    return (
        len(codes),
        sum(c in (FAILED, SLOW_FAILED) for c in codes),
        sum(c in (SLOW, SLOW_FAILED) for c in codes),
    )


# -- options -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -1, 2.0, True, "10"])
def test_count_window_size_must_be_a_positive_integer(size: object) -> None:
    """CountWindow rejects anything but an integer >= 1, naming the option."""
    with pytest.raises(ValueError, match=r"CountWindow: size must be an integer >= 1"):
        CountWindow(size)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [0, 1.5, None])
def test_time_window_seconds_must_be_a_positive_integer(seconds: object) -> None:
    """TimeWindow rejects anything but an integer >= 1, naming the option."""
    with pytest.raises(ValueError, match=r"TimeWindow: seconds must be an integer >= 1"):
        TimeWindow(seconds)  # type: ignore[arg-type]


def test_window_options_are_frozen_values() -> None:
    """Window options compare by value and cannot be changed."""
    assert CountWindow(5) == CountWindow(5)
    with pytest.raises(AttributeError):
        CountWindow(5).size = 6  # type: ignore[misc]


def test_create_builds_empty_storage() -> None:
    """Each option builds empty storage of its shape."""
    ring, buckets = CountWindow(3).create(0.0), TimeWindow(3).create(7.5)
    assert ((0, 0, 0), (0, 0, 0)) == (totals(ring), totals(buckets))
    assert (CountRing, TimeBuckets) == (type(ring), type(buckets))


def test_storage_repr_shows_totals() -> None:
    """Window storage describes its shape and totals."""
    ring, buckets = CountRing(3), TimeBuckets(2, 0.0)
    ring.record(FAILED, 0.0)
    assert (
        "CountRing(size=3, calls=1, failed=1)",
        "TimeBuckets(seconds=2, calls=0, failed=0)",
    ) == (
        repr(ring),
        repr(buckets),
    )


# -- count ring --------------------------------------------------------------------------


def test_count_ring_holds_one_byte_per_call() -> None:
    """The ring's storage is a bytearray of the window size."""
    ring = CountRing(100)
    assert 100 == len(ring._ring)
    assert isinstance(ring._ring, bytearray)


def test_count_ring_evicts_the_oldest() -> None:
    """Past its size, each new outcome replaces the oldest one in the totals."""
    ring = CountRing(3)
    for code in (SLOW_FAILED, FAILED, OK):
        ring.record(code, 0.0)
    assert (3, 2, 1) == totals(ring)
    ring.record(OK, 0.0)
    assert (3, 1, 0) == totals(ring)
    ring.record(SLOW, 0.0)
    assert (3, 0, 1) == totals(ring)


@given(st.integers(1, 12), st.lists(st.sampled_from(CODES), max_size=60))
def test_count_ring_totals_match_the_last_n(size: int, codes: list[int]) -> None:
    """After any sequence, the totals equal those of the last ``size`` outcomes."""
    ring = CountRing(size)
    for code in codes:
        ring.record(code, 0.0)
    assert expected(codes[-size:] if codes else []) == totals(ring)


@given(
    st.integers(1, 12),
    st.lists(st.one_of(st.sampled_from(CODES), st.integers(1, 30).map(lambda n: -n)), max_size=40),
)
def test_add_successes_equals_that_many_records(size: int, steps: list[int]) -> None:
    """add_successes(n) leaves the ring exactly as n records of OK would."""
    batched, one_by_one = CountRing(size), CountRing(size)
    codes: list[int] = []
    for step in steps:
        if step > 0:
            batched.record(step, 0.0)
            one_by_one.record(step, 0.0)
            codes.append(step)
        else:
            batched.add_successes(-step)
            for _ in range(-step):
                one_by_one.record(OK, 0.0)
            codes += [OK] * -step
    assert expected(codes[-size:] if codes else []) == totals(batched) == totals(one_by_one)
    assert (batched._ring, batched._head) == (one_by_one._ring, one_by_one._head)


# -- time buckets ------------------------------------------------------------------------


def test_time_buckets_keep_the_last_n_seconds() -> None:
    """Outcomes stay until their second leaves the window of N one-second buckets."""
    window = TimeBuckets(3, 0.0)
    window.record(FAILED, 0.2)
    window.record(OK, 1.9)
    window.record(SLOW, 2.999)
    assert (3, 1, 1) == totals(window)
    window.refresh(3.0)  # buckets 1..3: second 0 is gone
    assert (2, 0, 1) == totals(window)
    window.record(OK, 4.5)  # buckets 2..4
    assert (2, 0, 1) == totals(window)


def test_time_buckets_clear_after_a_long_gap() -> None:
    """A jump longer than the window empties it, however long the jump."""
    window = TimeBuckets(5, 100.0)
    for t in (100.0, 101.0, 102.0, 103.0, 104.0):
        window.record(SLOW_FAILED, t)
    window.record(OK, 1e9)
    assert (1, 0, 0) == totals(window)


def test_time_buckets_use_floor_of_the_clock() -> None:
    """Buckets are whole seconds of the clock, including negative readings."""
    window = TimeBuckets(2, -1.5)
    window.record(FAILED, -1.5)  # second -2
    window.record(FAILED, -0.5)  # second -1
    window.refresh(0.0)  # seconds -1..0
    assert (1, 1, 0) == totals(window)


def test_time_buckets_tolerate_a_clock_going_backwards() -> None:
    """A reading before the current bucket starts a new bucket instead of failing."""
    window = TimeBuckets(3, 10.0)
    window.record(FAILED, 10.0)
    window.record(OK, 9.0)
    assert (2, 1, 0) == totals(window)


def test_time_buckets_add_successes_to_the_newest_bucket() -> None:
    """add_successes counts n plain successes in the current bucket, evicting nothing."""
    window = TimeBuckets(2, 0.0)
    window.record(FAILED, 0.5)
    window.add_successes(4)
    window.record(OK, 1.5)
    window.add_successes(3)
    assert (9, 1, 0) == totals(window)
    window.refresh(2.0)
    assert (4, 0, 0) == totals(window)


@given(
    st.integers(1, 6),
    st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]), st.sampled_from(CODES))),
)
def test_time_bucket_totals_match_a_recount(seconds: int, steps: list[tuple[float, int]]) -> None:
    """Totals always equal a recount of outcomes whose second is in the window."""
    window = TimeBuckets(seconds, 0.0)
    now = 0.0
    log: list[tuple[int, int]] = []
    for advance, code in steps:
        now += advance
        window.record(code, now)
        log.append((math.floor(now), code))
    window.refresh(now)
    current = math.floor(now)
    assert expected([c for s, c in log if s > current - seconds]) == totals(window)
