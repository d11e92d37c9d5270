"""Telemetry aggregation: calls per operation and outcome, in 10-second wall-time buckets.

Pure bookkeeping, no I/O. :meth:`Aggregator.record` runs on the caller's thread for every
``call.completed`` event, so it allocates nothing once a series exists: one wall-clock read,
one short lock, a dict lookup and three additions. :meth:`Aggregator.drain` (the agent's
thread) swaps the tables out and turns them into wire points.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from reliant._core import validate
from reliant.agent.protocol import BUCKET_SECONDS, LATENCY_BOUNDS, OUTCOMES

#: Default bound on (bucket, operation, outcome) series held between two drains.
DEFAULT_MAX_SERIES = 2_000

_SLOTS = len(LATENCY_BOUNDS) + 1
_OUTCOME_INDEX = {outcome: i for i, outcome in enumerate(OUTCOMES)}

#: ``[count, sum, histogram slot 0, …, slot N]`` of one series.
Cell = list[float]
#: Per operation, the cell of each outcome seen.
Row = dict[str, Cell]


@dataclass(frozen=True, slots=True)
class Point:
    """One telemetry point of the push body: a series' totals over one bucket.

    Attributes:
        operation: the ``policy`` name of the ``call.completed`` events.
        outcome: one of :data:`~reliant.agent.protocol.OUTCOMES`.
        bucket: the bucket's start, epoch seconds, a multiple of ``BUCKET_SECONDS``.
        count: calls in the bucket.
        sum: their total duration, seconds.
        histogram: calls per latency slot (``len(LATENCY_BOUNDS) + 1``, not cumulative).
    """

    operation: str
    outcome: str
    bucket: int
    count: int
    sum: float
    histogram: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        """Return the point in the shape of the push body."""
        return {
            "operation": self.operation,
            "outcome": self.outcome,
            "bucket": self.bucket,
            "count": self.count,
            "sum": self.sum,
            "histogram": list(self.histogram),
        }


class Aggregator:
    """Counts, duration sums and latency histograms per bucket, operation and outcome.

    Args:
        wall: the wall clock, epoch seconds (``time.time``; a ``VirtualClock.now`` in tests).
        max_series: series held between two drains (>= 1); a call that would open one
            more is dropped and counted in :attr:`dropped`.

    Raises:
        ValueError: if ``max_series`` is not an integer >= 1.
    """

    __slots__ = (
        "_buckets",
        "_end",
        "_lock",
        "_row",
        "_series",
        "_start",
        "_wall",
        "dropped",
        "max_series",
    )

    def __init__(self, *, wall: Callable[[], float], max_series: int = DEFAULT_MAX_SERIES) -> None:
        self.max_series = validate.integer("Aggregator", "max_series", max_series)
        self._wall = wall
        self._lock = threading.Lock()
        #: bucket start -> operation -> row.
        self._buckets: dict[int, dict[str, Row]] = {}
        # The current bucket, [start, end) in wall time, and its rows.
        self._start = self._end = 0.0
        self._row: dict[str, Row] = {}
        self._series = 0
        #: Calls not aggregated because ``max_series`` was reached (cumulative).
        self.dropped = 0

    def record(self, operation: str, outcome: str, duration: float) -> None:
        """Add one call to its series of the current bucket.

        Args:
            operation: the operation (a metered policy's name).
            outcome: ``success``, ``failure``, ``rejected`` or ``timeout`` (anything
                else counts as ``failure``).
            duration: seconds (negative readings count as 0).
        """
        now = self._wall()
        slot = 2 + bisect_left(LATENCY_BOUNDS, duration)
        with self._lock:
            if not self._start <= now < self._end:
                self._open(now)
            row = self._row.get(operation)
            cell = None if row is None else row.get(outcome)
            if cell is None:
                cell = self._new_cell(operation, outcome)
                if cell is None:
                    return
            cell[0] += 1
            if duration > 0:
                cell[1] += duration
            cell[slot] += 1

    def _open(self, now: float) -> None:
        """Make the bucket holding ``now`` current (lock held)."""
        bucket = int(now) // BUCKET_SECONDS * BUCKET_SECONDS
        self._row = self._buckets.setdefault(bucket, {})
        self._start, self._end = bucket, bucket + BUCKET_SECONDS

    def _new_cell(self, operation: str, outcome: str) -> Cell | None:
        """Open the series of a new (operation, outcome), or count the call dropped (lock held)."""
        if outcome not in _OUTCOME_INDEX:
            outcome = "failure"
            row = self._row.get(operation)
            if row is not None and outcome in row:
                return row[outcome]
        if self._series >= self.max_series:
            self.dropped += 1
            return None
        self._series += 1
        cell: Cell = [0] * (_SLOTS + 2)
        self._row.setdefault(operation, {})[outcome] = cell
        return cell

    def drain(self) -> list[Point]:
        """Take everything recorded so far, oldest bucket first, and start afresh.

        The same series may appear again in a later drain (the bucket was still
        open); the control plane adds them up.
        """
        with self._lock:
            buckets = self._buckets
            self._buckets = {}
            self._start = self._end = 0.0
            self._row = {}
            self._series = 0
        points: list[Point] = []
        for bucket in sorted(buckets):
            for operation, row in buckets[bucket].items():
                for outcome in OUTCOMES:
                    cell = row.get(outcome)
                    if cell is not None:
                        histogram = tuple(int(c) for c in cell[2:])
                        points.append(
                            Point(
                                operation, outcome, bucket, int(cell[0]), float(cell[1]), histogram
                            )
                        )
        return points

    def __len__(self) -> int:
        """Series held right now."""
        return self._series
