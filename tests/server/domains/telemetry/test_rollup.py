"""Rollup math: histogram merging, quantiles by interpolation, good/total sums."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliant.agent.protocol import LATENCY_BOUNDS
from reliant.server.domains.telemetry.rollup import (
    Cell,
    align,
    count_at_most,
    empty,
    error_ratio,
    good_total,
    merge_histograms,
    quantile,
    sum_histograms,
)

#: The protocol's example: 3 calls in (1, 2.5] ms, 10 in (2.5, 5], 20 in (5, 10], 9 in (10, 25].
EXAMPLE = [0, 3, 10, 20, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def test_merge_adds_bucket_by_bucket() -> None:
    """Merging two histograms adds their counts element-wise."""
    assert [1, 5, 10, 20, 9, 0, 0, 0, 0, 0, 0, 0, 0, 2] == merge_histograms(
        EXAMPLE, [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    )


def test_merge_refuses_different_sizes() -> None:
    """Histograms of different bucket layouts cannot be merged."""
    with pytest.raises(ValueError, match="14 and 3 buckets"):
        merge_histograms(EXAMPLE, [1, 2, 3])
    with pytest.raises(ValueError, match="3 and 14 buckets"):
        sum_histograms([[1, 2, 3]], 14)


def test_sum_of_many_histograms() -> None:
    """Summing several histograms (or none) gives their total per bucket."""
    assert empty() == sum_histograms([], len(LATENCY_BOUNDS) + 1)
    assert [2 * n for n in EXAMPLE] == sum_histograms([EXAMPLE, EXAMPLE], 14)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.005 + 0.005 * 8 / 20),  # rank 21: 8th of 20 calls in (5, 10] ms
        (0.95, 0.01 + 0.015 * 6.9 / 9),  # rank 39.9: 6.9th of 9 calls in (10, 25] ms
        (0.99, 0.01 + 0.015 * 8.58 / 9),  # rank 41.58
        (0.0, 0.001),  # the lower edge of the first bucket holding calls
        (1.0, 0.025),  # the upper edge of the last bucket holding calls
    ],
)
def test_quantile_interpolates_within_the_bucket(q: float, expected: float) -> None:
    """Quantiles interpolate linearly between the bounds of the bucket holding the rank."""
    actual = quantile(EXAMPLE, q)
    assert actual is not None
    assert math.isclose(expected, actual, rel_tol=1e-12)


def test_quantile_in_first_bucket_starts_at_zero() -> None:
    """The first bucket spans 0 to the first bound."""
    assert math.isclose(0.0005, quantile([4] + [0] * 13, 0.5) or 0.0)


def test_quantile_in_the_infinite_bucket_is_the_last_bound() -> None:
    """A rank among calls slower than every bound answers the last finite bound."""
    assert 10.0 == quantile([0] * 13 + [5], 0.5)
    assert 10.0 == quantile([1] + [0] * 12 + [9], 0.99)


def test_quantile_of_nothing_is_none() -> None:
    """An empty histogram has no quantiles."""
    assert quantile(empty(), 0.5) is None


def test_quantile_validates_its_arguments() -> None:
    """q outside [0, 1] and histograms not fitting the bounds are refused."""
    with pytest.raises(ValueError, match=r"q must be in \[0, 1\]"):
        quantile(EXAMPLE, 1.5)
    with pytest.raises(ValueError, match="needs 14 counts, got 2"):
        quantile([1, 2], 0.5)


@given(
    st.lists(st.integers(0, 1000), min_size=14, max_size=14),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_quantile_is_monotonic_and_bounded(histogram: list[int], a: float, b: float) -> None:
    """A higher q never gives a lower estimate, and estimates stay within [0, last bound]."""
    low, high = sorted((a, b))
    q_low, q_high = quantile(histogram, low), quantile(histogram, high)
    if sum(histogram) == 0:
        assert (None, None) == (q_low, q_high)
        return
    assert q_low is not None
    assert q_high is not None
    assert 0.0 <= q_low <= q_high <= LATENCY_BOUNDS[-1]


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.0, 0.0), (0.005, 13.0), (0.0075, 23.0), (0.01, 33.0), (1.0, 42.0), (100.0, 42.0)],
)
def test_count_at_most_interpolates(threshold: float, expected: float) -> None:
    """Calls at most a threshold: exact at a bound, linear within a bucket."""
    assert math.isclose(expected, count_at_most(EXAMPLE, threshold), abs_tol=1e-9)


def test_count_at_most_leaves_out_the_infinite_bucket() -> None:
    """Calls slower than the last bound are never counted as fast enough."""
    assert 1.0 == count_at_most([1] + [0] * 12 + [9], 1000.0)


def test_good_total_sums_the_range() -> None:
    """good/total count the cells starting in [since, until); only success is good."""
    cells = [
        Cell(100, "success", 7, 0.7, empty()),
        Cell(110, "failure", 2, 0.2, empty()),
        Cell(110, "success", 5, 0.5, empty()),
        Cell(120, "rejected", 4, 0.0, empty()),
        Cell(90, "success", 100, 1.0, empty()),
    ]
    assert (12, 18) == good_total(cells, since=100, until=130)
    assert (12, 14) == good_total(cells, since=100, until=120)
    both = frozenset({"success", "rejected"})
    assert (16, 18) == good_total(cells, since=100, until=130, good=both)


def test_error_ratio() -> None:
    """The error ratio is 1 - good/total, and None without calls."""
    assert (0.25, None) == (error_ratio(3, 4), error_ratio(0, 0))


def test_align_to_the_step() -> None:
    """Times align down to the start of their step."""
    assert (60.0, 60.0, 0.0) == (align(119.9, 60), align(60, 60), align(59, 60))
