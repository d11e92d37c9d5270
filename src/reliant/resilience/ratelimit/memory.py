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
from typing import Any, TypeVar

from reliant._core import validate
from reliant._core.clock import MONOTONIC, Clock, MonotonicClock
from reliant.resilience.ratelimit import gcra as _gcra
from reliant.resilience.ratelimit import sliding_window as _sw
from reliant.resilience.ratelimit import token_bucket as _tb
from reliant.resilience.ratelimit.backend import Decision
from reliant.resilience.ratelimit.table import Decide, Table

S = TypeVar("S")

#: Default bound on keys per algorithm table.
DEFAULT_MAX_KEYS = 100_000
#: Keys rescaled per hold of the lock by :meth:`MemoryBackend.rescale`.
RESCALE_CHUNK = 1024


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

    __slots__ = (
        "_gcra",
        "_lock",
        "_now_ns",
        "_sliding_window",
        "_token_bucket",
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
        # The monotonic clock reads integer nanoseconds directly: cheaper, and exact.
        self._now_ns: Callable[[], int] = (
            time.monotonic_ns
            if isinstance(self.clock, MonotonicClock)
            else _nanoseconds(self.clock.now)
        )
        self._lock = threading.Lock()
        # An algorithm's table and decision function are built on first use: a limiter
        # uses one, and each costs about a kilobyte.
        self._gcra: tuple[Table[int], Decide, _gcra.Step] | None = None
        self._token_bucket: tuple[Table[_tb.State], Decide] | None = None
        self._sliding_window: tuple[Table[_sw.State], Decide] | None = None

    def _build(self, make: Callable[[Table[S]], Decide]) -> tuple[Table[S], Decide]:
        table: Table[S] = Table(self._lock, self._now_ns, self.max_keys)
        return table, make(table)

    @property
    def gcra(self) -> Decide:
        """``gcra(key, emission_us, tolerance_us, cost) -> Decision``."""
        return self._gcra_pair()[1]

    def gcra_step(self) -> _gcra.Step:
        """GCRA's bare step, ``(key, emission_us, tolerance_us, cost, False) -> new_ttl_us``.

        The request was admitted exactly when ``new_ttl_us <= tolerance_us``. Cheaper
        than :attr:`gcra` when the caller needs only the yes or no (a limiter guarding
        a call); it shares :attr:`gcra`'s table and lock.
        """
        return self._gcra_pair()[2]

    def _gcra_pair(self) -> tuple[Table[int], Decide, _gcra.Step]:
        if self._gcra is None:
            with self._lock:
                if self._gcra is None:
                    table: Table[int] = Table(self._lock, self._now_ns, self.max_keys)
                    decide = _gcra.decider(table)
                    self._gcra = (table, decide, _gcra.stepper(decide))
        return self._gcra

    @property
    def token_bucket(self) -> Decide:
        """``token_bucket(key, emission_us, capacity, cost) -> Decision``."""
        if self._token_bucket is None:
            with self._lock:
                if self._token_bucket is None:
                    self._token_bucket = self._build(_tb.decider)
        return self._token_bucket[1]

    @property
    def sliding_window(self) -> Decide:
        """``sliding_window(key, limit, window_us, cost) -> Decision``."""
        if self._sliding_window is None:
            with self._lock:
                if self._sliding_window is None:
                    self._sliding_window = self._build(_sw.decider)
        return self._sliding_window[1]

    def rescale(
        self, algorithm: str, prefix: str, old: tuple[int, int], new: tuple[int, int]
    ) -> int:
        """Carry the state of keys starting with ``prefix`` over to new parameters.

        Called by :meth:`RateLimiter.reconfigure`. Each key keeps the requests it has
        in use (up to the new burst or limit); they drain at the new rate (see each
        algorithm's ``rescale``). O(keys), 0.3 to 1 µs a key, taking the backend's lock
        for :data:`RESCALE_CHUNK` keys at a time.

        Args:
            algorithm: ``"gcra"``, ``"token_bucket"`` or ``"sliding_window"``.
            prefix: the limiter's key prefix (``""``: every key of that algorithm).
            old: the two integer parameters the keys were decided with.
            new: the two integer parameters to carry them over to.

        Returns:
            The number of keys carried over.
        """
        if old == new:
            return 0
        if algorithm == "gcra":
            return self._rescale(self._gcra and self._gcra[0], _gcra.rescale, prefix, old, new)
        if algorithm == "token_bucket":
            pair = self._token_bucket
            return self._rescale(pair and pair[0], _tb.rescale, prefix, old, new)
        pair_sw = self._sliding_window
        return self._rescale(pair_sw and pair_sw[0], _sw.rescale, prefix, old, new)

    def _rescale(
        self,
        table: Table[S] | None,
        step: Callable[[S, int, tuple[int, int], tuple[int, int]], S],
        prefix: str,
        old: tuple[int, int],
        new: tuple[int, int],
    ) -> int:
        if table is None:
            return 0
        data = table.data
        with self._lock:
            keys = [k for k in data if k.startswith(prefix)]
        # In chunks, so that decisions on other keys wait at most a chunk's worth.
        for i in range(0, len(keys), RESCALE_CHUNK):
            with self._lock:
                now = self._now_ns() // 1000
                for key in keys[i : i + RESCALE_CHUNK]:
                    state = data.get(key)
                    if state is not None:  # not evicted meanwhile; rewriting keeps LRU order
                        data[key] = step(state, now, old, new)
        return len(keys)

    def _tables(self) -> list[Table[Any]]:
        built = (self._gcra, self._token_bucket, self._sliding_window)
        return [pair[0] for pair in built if pair is not None]

    def __len__(self) -> int:
        """Keys held across all algorithms."""
        return sum(len(t.data) for t in self._tables())

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            for t in self._tables():
                t.data.clear()

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
