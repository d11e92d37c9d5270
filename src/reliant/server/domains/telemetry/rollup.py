"""Rollup math: merging latency histograms, good/total sums and quantiles. Pure, no I/O.

A histogram is a list of ``len(bounds) + 1`` non-cumulative counts: ``counts[i]`` is the
number of calls that took at most ``bounds[i]`` seconds and more than ``bounds[i - 1]``;
the last entry counts calls slower than the last bound (+Inf). ``bounds`` defaults to the
SDK link's :data:`reliant.agent.protocol.LATENCY_BOUNDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reliant.agent.protocol import LATENCY_BOUNDS

#: The outcome that counts as good for availability; every other outcome is an error.
GOOD_OUTCOMES = frozenset({"success"})


@dataclass(frozen=True, slots=True)
class Cell:
    """One stored rollup row: calls of one outcome in one bucket (of any operation)."""

    bucket_start: float
    outcome: str
    count: int
    sum: float
    histogram: Sequence[int]


def empty(bounds: Sequence[float] = LATENCY_BOUNDS) -> list[int]:
    """A histogram with no calls."""
    return [0] * (len(bounds) + 1)


def merge_histograms(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """The element-wise sum of two histograms.

    Raises:
        ValueError: they have different lengths (different bucket bounds).
    """
    if len(a) != len(b):
        raise ValueError(f"histograms of {len(a)} and {len(b)} buckets cannot be merged")
    return [x + y for x, y in zip(a, b, strict=True)]


def sum_histograms(histograms: Iterable[Sequence[int]], size: int) -> list[int]:
    """The element-wise sum of any number of histograms of ``size`` buckets."""
    total = [0] * size
    for histogram in histograms:
        if len(histogram) != size:
            raise ValueError(f"histograms of {len(histogram)} and {size} buckets cannot be merged")
        for i, n in enumerate(histogram):
            total[i] += n
    return total


def quantile(
    histogram: Sequence[int], q: float, bounds: Sequence[float] = LATENCY_BOUNDS
) -> float | None:
    """Estimate the ``q``-quantile of the durations a histogram counts, in seconds.

    As Prometheus' ``histogram_quantile``: find the bucket holding the rank ``q * total`` and
    interpolate linearly between its lower and upper bound (the first bucket starts at 0).
    A rank in the +Inf bucket answers the last finite bound: the histogram knows no more.

    Args:
        histogram: non-cumulative counts, ``len(bounds) + 1`` of them.
        q: the quantile, in [0, 1] (0.95 for p95).
        bounds: the buckets' upper bounds in seconds, increasing.

    Returns:
        the estimate, or ``None`` when the histogram counts no call.

    Raises:
        ValueError: ``q`` is outside [0, 1] or the histogram does not fit ``bounds``.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile: q must be in [0, 1], got {q!r}")
    if len(histogram) != len(bounds) + 1:
        raise ValueError(
            f"quantile: a histogram needs {len(bounds) + 1} counts, got {len(histogram)}"
        )
    total = sum(histogram)
    if total <= 0:
        return None
    rank = q * total
    below = 0
    for i, n in enumerate(histogram):
        if n > 0 and below + n >= rank:
            if i == len(bounds):
                return float(bounds[-1])
            lower = float(bounds[i - 1]) if i > 0 else 0.0
            upper = float(bounds[i])
            return lower + (upper - lower) * max(0.0, rank - below) / n
        below += n
    return float(bounds[-1])  # pragma: no cover - unreachable: the ranks end at total


def count_at_most(
    histogram: Sequence[int], threshold: float, bounds: Sequence[float] = LATENCY_BOUNDS
) -> float:
    """Estimate how many calls took at most ``threshold`` seconds (latency SLOs).

    Exact when ``threshold`` is one of the bounds; in between, the calls of the bucket
    holding it are assumed spread evenly (linear interpolation, as :func:`quantile`).
    """
    if len(histogram) != len(bounds) + 1:
        raise ValueError(
            f"count_at_most: a histogram needs {len(bounds) + 1} counts, got {len(histogram)}"
        )
    if threshold <= 0:
        return 0.0
    below = 0.0
    lower = 0.0
    for i, upper in enumerate(bounds):
        if threshold >= upper:
            below += histogram[i]
            lower = float(upper)
            continue
        return below + histogram[i] * (threshold - lower) / (float(upper) - lower)
    return below  # beyond the last bound: the +Inf bucket's calls stay uncounted


def good_total(
    cells: Iterable[Cell],
    *,
    since: float,
    until: float,
    good: frozenset[str] = GOOD_OUTCOMES,
) -> tuple[int, int]:
    """Good and total calls of the cells whose bucket starts in ``[since, until)``.

    Args:
        good: the outcomes that count as good (``{"success"}`` unless told).

    Returns:
        ``(good, total)``.
    """
    good_calls = total = 0
    for cell in cells:
        if since <= cell.bucket_start < until:
            total += cell.count
            if cell.outcome in good:
                good_calls += cell.count
    return good_calls, total


def error_ratio(good: int, total: int) -> float | None:
    """``1 - good / total``, or ``None`` when nothing was counted."""
    return None if total <= 0 else (total - good) / total


def align(t: float, step: float) -> float:
    """The start of the ``step``-second bucket holding ``t`` (epoch-aligned)."""
    return float(int(t // step) * step)
