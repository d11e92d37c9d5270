"""One algorithm's key table in the memory backend, and the shape of a decision function."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from reliant.resilience.ratelimit.backend import Decision

S = TypeVar("S")

#: ``(key, param_a, param_b, cost) -> Decision``: one atomic decision.
Decide = Callable[[str, int, int, int], Decision]

#: Recovered keys are swept at most once per ``max_keys // SWEEP_FRACTION`` evictions.
SWEEP_FRACTION = 8


class Table(Generic[S]):
    """Per-key state of one algorithm, bounded to ``max_keys`` keys.

    ``data`` is kept in least-recently-used order by the decision functions (they pop
    a key and re-insert it). When an insertion overflows the bound, :meth:`evict`
    drops the keys that have fully recovered — their state says nothing a fresh key
    would not — and then, if still over, the least recently used. The sweep runs at
    most once per ``max_keys // 8`` evictions, so the cost is amortised O(1).

    Args:
        lock: held around every read-decide-write (shared by a backend's tables).
        now_ns: the backend clock in integer nanoseconds.
        max_keys: the bound (>= 1).
    """

    __slots__ = ("_sweep_credit", "data", "lock", "max_keys", "now_ns")

    def __init__(self, lock: threading.Lock, now_ns: Callable[[], int], max_keys: int) -> None:
        self.data: dict[str, S] = {}
        self.lock = lock
        self.now_ns = now_ns
        self.max_keys = max_keys
        self._sweep_credit = 0

    def evict(self, is_idle: Callable[[S], bool]) -> None:
        """Shrink ``data`` back to ``max_keys``; the caller holds the lock."""
        data = self.data
        if self._sweep_credit <= 0:
            for stale in [k for k, v in data.items() if is_idle(v)]:
                del data[stale]
            self._sweep_credit = max(1, self.max_keys // SWEEP_FRACTION)
        self._sweep_credit -= 1
        while len(data) > self.max_keys:
            del data[next(iter(data))]
