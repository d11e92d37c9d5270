"""Sliding windows of call outcomes, by count or by time, for the circuit breaker.

The option objects (:class:`CountWindow`, :class:`TimeWindow`) are what users pass;
each builds its storage (:class:`CountRing`, :class:`TimeBuckets`) with ``create``.
Both keep running totals, so reading ``calls``, ``failed`` and ``slow`` is O(1), and
both evict by subtracting what leaves, as resilience4j's ``FixedSizeSlidingWindowMetrics``
and ``SlidingTimeWindowMetrics`` do (reference/resilience.md §2.1).

An outcome is one small int code: :data:`OK`, :data:`FAILED`, :data:`SLOW` or
:data:`SLOW_FAILED`. Storage is not thread-safe; the breaker records under its lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from reliant._core import validate

#: Outcome codes. Bit 0 marks a recorded call (0 is an empty ring slot), bit 1 a
#: failure, bit 2 a slow call; a failed slow call counts as both.
OK = 1
FAILED = 3
SLOW = 5
SLOW_FAILED = 7
_OKS = bytes((OK,))
_SLICE_FROM = 8  # batches this long are written with slices, shorter ones slot by slot


class SlidingWindow(Protocol):
    """Running totals over the outcomes currently inside a window."""

    calls: int
    failed: int
    slow: int

    def record(self, code: int, now: float) -> None:
        """Add one outcome (an outcome code) that finished at ``now``."""
        ...

    def add_successes(self, n: int) -> None:
        """Add ``n`` fast successes (code :data:`OK`) as the newest outcomes.

        A time window counts them in its current bucket, without evicting first.
        """
        ...

    def refresh(self, now: float) -> None:
        """Evict what has left the window by ``now`` (before reading the totals)."""
        ...


@dataclass(frozen=True, slots=True)
class CountWindow:
    """A window over the last ``size`` calls (resilience4j ``COUNT_BASED``).

    Args:
        size: how many of the most recent outcomes count (an integer >= 1).

    Raises:
        ValueError: if ``size`` is not an integer >= 1.
    """

    size: int

    def __post_init__(self) -> None:
        validate.integer("CountWindow", "size", self.size, minimum=1)

    def create(self, now: float) -> CountRing:
        """Return an empty window of this shape (``now`` is unused)."""
        return CountRing(self.size)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A window over the last ``seconds`` seconds (resilience4j ``TIME_BASED``).

    Outcomes are counted in one-second buckets of the breaker's clock (the bucket of
    an outcome is ``floor(now)``); the window holds the current bucket and the
    ``seconds - 1`` before it.

    Args:
        seconds: the window's length in whole seconds (an integer >= 1).

    Raises:
        ValueError: if ``seconds`` is not an integer >= 1.
    """

    seconds: int

    def __post_init__(self) -> None:
        validate.integer("TimeWindow", "seconds", self.seconds, minimum=1)

    def create(self, now: float) -> TimeBuckets:
        """Return an empty window of this shape whose current bucket holds ``now``."""
        return TimeBuckets(self.seconds, now)


class CountRing:
    """The last ``size`` outcome codes in a ``bytearray`` ring (one byte per call)."""

    __slots__ = ("_head", "_ring", "_size", "calls", "failed", "slow")

    def __init__(self, size: int) -> None:
        self._ring = bytearray(size)
        self._size = size
        self._head = -1
        self.calls = 0
        self.failed = 0
        self.slow = 0

    def record(self, code: int, now: float) -> None:
        """Overwrite the oldest slot with ``code``, adjusting the totals."""
        head = self._head + 1
        if head == self._size:
            head = 0
        self._head = head
        ring = self._ring
        old = ring[head]
        ring[head] = code
        if not old:
            self.calls += 1
        elif old != OK:
            self.failed -= (old >> 1) & 1
            self.slow -= old >> 2
        if code != OK:
            self.failed += (code >> 1) & 1
            self.slow += code >> 2

    def add_successes(self, n: int) -> None:
        """Write ``n`` :data:`OK` codes after the head, as ``n`` records would."""
        if n < _SLICE_FROM:
            for _ in range(n):
                self.record(OK, 0.0)
            return
        size = self._size
        start = (self._head + 1) % size
        self._head = (self._head + n) % size
        if n >= size:
            self._ring[:] = _OKS * size
            self.calls = size
            self.failed = self.slow = 0
        elif start + n <= size:
            self._overwrite(start, start + n)
        else:
            self._overwrite(start, size)
            self._overwrite(0, start + n - size)

    def _overwrite(self, start: int, end: int) -> None:
        ring = self._ring
        if self.calls < self._size:
            self.calls += ring.count(0, start, end)
        if self.failed or self.slow:
            slow_failed = ring.count(SLOW_FAILED, start, end)
            self.failed -= ring.count(FAILED, start, end) + slow_failed
            self.slow -= ring.count(SLOW, start, end) + slow_failed
        ring[start:end] = _OKS * (end - start)

    def refresh(self, now: float) -> None:
        """Do nothing: a count window does not age."""

    def __repr__(self) -> str:
        return f"CountRing(size={self._size}, calls={self.calls}, failed={self.failed})"


class TimeBuckets:
    """Per-second totals for the last ``seconds`` seconds, in a ring of buckets."""

    __slots__ = (
        "_bucket_calls",
        "_bucket_failed",
        "_bucket_slow",
        "_head",
        "_latest",
        "_seconds",
        "calls",
        "failed",
        "slow",
    )

    def __init__(self, seconds: int, now: float) -> None:
        self._seconds = seconds
        self._bucket_calls = [0] * seconds
        self._bucket_failed = [0] * seconds
        self._bucket_slow = [0] * seconds
        self._head = 0
        #: The epoch second of the bucket at ``_head``; the one before it is one less.
        self._latest = math.floor(now)
        self.calls = 0
        self.failed = 0
        self.slow = 0

    def record(self, code: int, now: float) -> None:
        """Count ``code`` in the bucket of ``now``, first evicting expired buckets."""
        second = math.floor(now)
        if second != self._latest:
            self._move_to(second)
        head = self._head
        self._bucket_calls[head] += 1
        self.calls += 1
        if code != OK:
            failed = (code >> 1) & 1
            slow = code >> 2
            self._bucket_failed[head] += failed
            self._bucket_slow[head] += slow
            self.failed += failed
            self.slow += slow

    def add_successes(self, n: int) -> None:
        """Count ``n`` :data:`OK` outcomes in the current (newest) bucket."""
        self._bucket_calls[self._head] += n
        self.calls += n

    def refresh(self, now: float) -> None:
        """Evict every bucket older than the window ending at ``now``."""
        second = math.floor(now)
        if second != self._latest:
            self._move_to(second)

    def _move_to(self, second: int) -> None:
        # Like resilience4j, a clock that went backwards just starts a new bucket.
        steps = min(max(second - self._latest, 1), self._seconds)
        calls, failed, slow = self._bucket_calls, self._bucket_failed, self._bucket_slow
        head = self._head
        for _ in range(steps):
            head = (head + 1) % self._seconds
            self.calls -= calls[head]
            self.failed -= failed[head]
            self.slow -= slow[head]
            calls[head] = failed[head] = slow[head] = 0
        self._head = head
        self._latest = second

    def __repr__(self) -> str:
        return f"TimeBuckets(seconds={self._seconds}, calls={self.calls}, failed={self.failed})"
