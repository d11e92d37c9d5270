"""The in-process rate-limit backend: per-key state in bounded tables.

Each algorithm keeps its keys in its own :class:`~.table.Table`, bounded to
``max_keys`` keys: recovered keys go first, then the least recently used. The
decision functions come from the algorithm modules and are bound once, at
construction, so a decision costs one Python call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from reliant._core import validate
from reliant._core.clock import MONOTONIC, Clock, MonotonicClock
from reliant.resilience.ratelimit import gcra as _gcra
from reliant.resilience.ratelimit import sliding_window as _sw
from reliant.resilience.ratelimit import token_bucket as _tb
from reliant.resilience.ratelimit.backend import Decision
from reliant.resilience.ratelimit.table import Decide, Table

#: Default bound on keys per algorithm table.
DEFAULT_MAX_KEYS = 100_000


def _nanoseconds(now: Callable[[], float]) -> Callable[[], int]:
    """Read a float-seconds clock as integer nanoseconds (absorbing float noise)."""
    return lambda: round(now() * 1_000_000_000)


class MemoryBackend:
    """Limiter state in this process, bounded to ``max_keys`` keys per algorithm.

    Implements :class:`~.backend.RateLimitBackend`: ``gcra(key, emission_us,
    tolerance_us, cost)``, ``token_bucket(key, emission_us, capacity, cost)`` and
    ``sliding_window(key, limit, window_us, cost)``, each one atomic decision under a
    short lock, plus async variants that run the same decision inline.

    Share one instance between limiters only when they have distinct names (the
    limiter then prefixes its name to each key) and the same clock.

    Args:
        max_keys: keys held per algorithm (>= 1) before recovered, then least
            recently used, keys are evicted.
        clock: the time source of the decisions; the limiter sleeps on the same clock.

    Raises:
        ValueError: if ``max_keys`` is not an integer >= 1 or ``clock`` is not a clock.
    """

    __slots__ = ("_tables", "clock", "gcra", "max_keys", "sliding_window", "token_bucket")

    gcra: Decide
    token_bucket: Decide
    sliding_window: Decide

    def __init__(self, *, max_keys: int = DEFAULT_MAX_KEYS, clock: Clock | None = None) -> None:
        self.max_keys = validate.integer("MemoryBackend", "max_keys", max_keys)
        if clock is not None and not isinstance(clock, Clock):
            raise ValueError(
                f"MemoryBackend: clock must have now(), sleep() and asleep(), got {clock!r}"
            )
        self.clock: Clock = clock if clock is not None else MONOTONIC
        # The monotonic clock reads integer nanoseconds directly: cheaper, and exact.
        if isinstance(self.clock, MonotonicClock):
            now_ns = time.monotonic_ns
        else:
            now_ns = _nanoseconds(self.clock.now)
        lock = threading.Lock()
        gcra_table: Table[int] = Table(lock, now_ns, max_keys)
        bucket_table: Table[_tb.State] = Table(lock, now_ns, max_keys)
        window_table: Table[_sw.State] = Table(lock, now_ns, max_keys)
        self._tables = (gcra_table, bucket_table, window_table)
        self.gcra = _gcra.decider(gcra_table)
        self.token_bucket = _tb.decider(bucket_table)
        self.sliding_window = _sw.decider(window_table)

    def __len__(self) -> int:
        """Keys held across all algorithms."""
        return sum(len(t.data) for t in self._tables)

    def clear(self) -> None:
        """Forget every key."""
        for t in self._tables:
            t.acquire()
            try:
                t.data.clear()
            finally:
                t.release()

    async def agcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        """Async ``gcra``; the decision never blocks, so it runs inline."""
        return self.gcra(key, emission_us, tolerance_us, cost)

    async def atoken_bucket(self, key: str, emission_us: int, capacity: int, cost: int) -> Decision:
        """Async ``token_bucket``."""
        return self.token_bucket(key, emission_us, capacity, cost)

    async def asliding_window(self, key: str, limit: int, window_us: int, cost: int) -> Decision:
        """Async ``sliding_window``."""
        return self.sliding_window(key, limit, window_us, cost)

    def __repr__(self) -> str:
        return f"MemoryBackend(max_keys={self.max_keys}, keys={len(self)})"
