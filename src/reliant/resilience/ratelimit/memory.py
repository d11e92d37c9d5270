"""The in-process rate-limit backend: per-key state in bounded dicts.

Each algorithm has its own table, a plain ``dict`` kept in least-recently-used order
(a key is popped and re-inserted on every decision). A table holds at most
``max_keys`` keys. When a new key finds it full, the backend first drops keys that
have fully recovered — their state says nothing a fresh key would not — and then,
if still full, the least recently used ones. Recovered keys are swept at most once
per ``max_keys // 8`` new keys, so the cost stays amortised O(1) per decision.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from reliant._core import validate
from reliant._core.clock import MONOTONIC, Clock, MonotonicClock
from reliant.resilience.ratelimit import gcra as _gcra
from reliant.resilience.ratelimit import sliding_window as _sw
from reliant.resilience.ratelimit import token_bucket as _tb
from reliant.resilience.ratelimit.backend import Decision

#: Default bound on keys per algorithm table.
DEFAULT_MAX_KEYS = 100_000

_SWEEP_FRACTION = 8


class MemoryBackend:
    """Limiter state in this process, bounded to ``max_keys`` keys per algorithm.

    Decisions are atomic: a short lock covers the read, the decision and the write.
    Share one instance between limiters only when they have distinct names (the
    limiter prefixes its name to each key) and the same clock.

    Args:
        max_keys: keys held per algorithm table (>= 1) before idle, then least
            recently used, keys are evicted.
        clock: the time source of the decisions; the limiter sleeps on the same clock.

    Raises:
        ValueError: if ``max_keys`` is not an integer >= 1 or ``clock`` is not a clock.
    """

    __slots__ = (
        "_acquire",
        "_buckets",
        "_gcra",
        "_lock",
        "_now",
        "_ns",
        "_release",
        "_sweep_credit",
        "_windows",
        "clock",
        "max_keys",
    )

    def __init__(self, *, max_keys: int = DEFAULT_MAX_KEYS, clock: Clock | None = None) -> None:
        self.max_keys = validate.integer("MemoryBackend", "max_keys", max_keys)
        if clock is not None and not isinstance(clock, Clock):
            raise ValueError(
                f"MemoryBackend: clock must have now(), sleep() and asleep(), got {clock!r}"
            )
        self.clock: Clock = clock if clock is not None else MONOTONIC
        self._now = self.clock.now
        # The monotonic clock reads integer nanoseconds directly: cheaper, and exact.
        self._ns = time.monotonic_ns if isinstance(self.clock, MonotonicClock) else None
        self._lock = threading.Lock()
        self._acquire = self._lock.acquire
        self._release = self._lock.release
        self._gcra: dict[str, int] = {}
        self._buckets: dict[str, _tb.State] = {}
        self._windows: dict[str, _sw.State] = {}
        self._sweep_credit = 0

    def __len__(self) -> int:
        """Keys held across all tables."""
        return len(self._gcra) + len(self._buckets) + len(self._windows)

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._gcra.clear()
            self._buckets.clear()
            self._windows.clear()

    def _now_us(self) -> int:
        """The backend clock's reading in whole microseconds."""
        ns = self._ns
        return ns() // 1000 if ns is not None else round(self._now() * 1_000_000)

    def _make_room(self, table: dict[str, Any], is_idle: Callable[[Any], bool]) -> None:
        """Evict from a full ``table``: recovered keys first, then least recently used."""
        if self._sweep_credit <= 0:
            for stale in [k for k, v in table.items() if is_idle(v)]:
                del table[stale]
            self._sweep_credit = max(1, self.max_keys // _SWEEP_FRACTION)
        self._sweep_credit -= 1
        while len(table) >= self.max_keys:
            del table[next(iter(table))]

    def gcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        """Decide by GCRA (see :mod:`reliant.resilience.ratelimit.gcra`)."""
        ns = self._ns
        now = ns() // 1000 if ns is not None else round(self._now() * 1_000_000)
        table = self._gcra
        self._acquire()
        try:
            tat = table.pop(key, None)
            new_tat, decision = _gcra.decide(tat, now, emission_us, tolerance_us, cost)
            if new_tat is not None:
                if tat is None and len(table) >= self.max_keys:
                    self._make_room(table, lambda t: _gcra.idle(t, now))
                table[key] = new_tat
            elif tat is not None:
                table[key] = tat
        finally:
            self._release()
        return decision

    def token_bucket(self, key: str, emission_us: int, capacity: int, cost: int) -> Decision:
        """Decide by token bucket (see :mod:`reliant.resilience.ratelimit.token_bucket`)."""
        ns = self._ns
        now = ns() // 1000 if ns is not None else round(self._now() * 1_000_000)
        table = self._buckets
        self._acquire()
        try:
            state = table.pop(key, None)
            new_state, decision = _tb.decide(state, now, emission_us, capacity, cost)
            if new_state is not None:
                if state is None and len(table) >= self.max_keys:
                    full = capacity * emission_us
                    self._make_room(table, lambda s: _tb.idle(s, now, full))
                table[key] = new_state
            elif state is not None:
                table[key] = state
        finally:
            self._release()
        return decision

    def sliding_window(self, key: str, limit: int, window_us: int, cost: int) -> Decision:
        """Decide by sliding-window counter (see :mod:`.sliding_window`)."""
        ns = self._ns
        now = ns() // 1000 if ns is not None else round(self._now() * 1_000_000)
        table = self._windows
        self._acquire()
        try:
            state = table.pop(key, None)
            new_state, decision = _sw.decide(state, now, limit, window_us, cost)
            if new_state is not None:
                if state is None and len(table) >= self.max_keys:
                    self._make_room(table, lambda s: _sw.idle(s, now, window_us))
                table[key] = new_state
            elif state is not None:
                table[key] = state
        finally:
            self._release()
        return decision

    async def agcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        """Async :meth:`gcra`; the decision never blocks, so it runs inline."""
        return self.gcra(key, emission_us, tolerance_us, cost)

    async def atoken_bucket(self, key: str, emission_us: int, capacity: int, cost: int) -> Decision:
        """Async :meth:`token_bucket`."""
        return self.token_bucket(key, emission_us, capacity, cost)

    async def asliding_window(self, key: str, limit: int, window_us: int, cost: int) -> Decision:
        """Async :meth:`sliding_window`."""
        return self.sliding_window(key, limit, window_us, cost)

    def __repr__(self) -> str:
        return f"MemoryBackend(max_keys={self.max_keys}, keys={len(self)})"
