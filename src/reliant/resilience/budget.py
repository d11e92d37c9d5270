"""Retry budgets: cap retries at a ratio of requests, shared by many Retry policies.

Finagle's ``RetryBudget`` and the SRE book's advice (reference/resilience.md §4):
over a trailing window, retries may not exceed ``ratio`` × requests plus a floor of
``min_per_second`` × window, so a fleet of retrying clients cannot multiply the load on
a struggling dependency by more than ``1 + ratio``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from reliant._core import validate
from reliant._core.clock import MONOTONIC, Clock

DEFAULT_RATIO = 0.2
DEFAULT_MIN_PER_SECOND = 10.0
DEFAULT_WINDOW = 10.0
#: The window is kept as this many buckets, so expiry is smooth and memory fixed.
BUCKETS = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryBudgetOptions:
    """Validated options of a :class:`RetryBudget`."""

    ratio: float = DEFAULT_RATIO
    min_per_second: float = DEFAULT_MIN_PER_SECOND
    window: float = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        validate.non_negative("RetryBudget", "ratio", self.ratio)
        validate.non_negative("RetryBudget", "min_per_second", self.min_per_second)
        validate.positive("RetryBudget", "window", self.window)


class RetryBudget:
    """A token budget of retries, refilled by requests; share one across Retry policies.

    Args:
        ratio: retries allowed per request over the window (0.2 = 20 % extra load).
        min_per_second: retries always allowed per second, so low-traffic clients can retry.
        window: seconds over which requests and retries are counted.
        clock: the time source.
    """

    __slots__ = ("_bucket_len", "_cursor", "_lock", "_now", "_requests", "_retries", "options")

    def __init__(
        self,
        *,
        ratio: float = DEFAULT_RATIO,
        min_per_second: float = DEFAULT_MIN_PER_SECOND,
        window: float = DEFAULT_WINDOW,
        clock: Clock | None = None,
    ) -> None:
        self.options = RetryBudgetOptions(ratio=ratio, min_per_second=min_per_second, window=window)
        self._now = (clock or MONOTONIC).now
        self._bucket_len = window / BUCKETS
        self._requests = [0] * BUCKETS
        self._retries = [0] * BUCKETS
        self._cursor = math.floor(self._now() / self._bucket_len)
        self._lock = threading.Lock()

    def _roll(self) -> int:
        """Advance to the current bucket, zeroing the ones that expired; return its index."""
        index = math.floor(self._now() / self._bucket_len)
        if index != self._cursor:
            stale = min(index - self._cursor, BUCKETS)
            for i in range(1, stale + 1):
                slot = (self._cursor + i) % BUCKETS
                self._requests[slot] = 0
                self._retries[slot] = 0
            self._cursor = index
        return index % BUCKETS

    def record_request(self) -> None:
        """Count one request (a first attempt)."""
        with self._lock:
            self._requests[self._roll()] += 1

    def try_withdraw(self) -> bool:
        """Take one retry from the budget; ``False`` when it is spent."""
        with self._lock:
            slot = self._roll()
            if self._retries_left() < 1:
                return False
            self._retries[slot] += 1
            return True

    def _retries_left(self) -> float:
        o = self.options
        allowed = o.min_per_second * o.window + o.ratio * sum(self._requests)
        return allowed - sum(self._retries)

    @property
    def available(self) -> int:
        """Retries the budget would grant right now."""
        with self._lock:
            self._roll()
            return max(0, math.floor(self._retries_left()))

    def __repr__(self) -> str:
        o = self.options
        return (
            f"RetryBudget(ratio={o.ratio!r}, min_per_second={o.min_per_second!r}, "
            f"window={o.window!r})"
        )
