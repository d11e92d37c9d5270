"""What a rate-limiter decision returns, and what a state store must offer.

A backend owns the per-key state and the time source: the in-memory backend reads
its clock, a shared backend (Redis) reads its server's time so that processes with
different clocks agree. Each method takes the algorithm's parameters in integer
units (microseconds, requests) and makes one atomic decision.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable


class Decision(NamedTuple):
    """The outcome of one rate-limit check.

    Attributes:
        allowed: whether the request was admitted (and its cost taken).
        remaining: requests of cost 1 that would be admitted right after this one.
        retry_after: seconds until this request would be admitted; 0.0 when allowed,
            ``math.inf`` when it never can be (its cost exceeds the burst).
        reset_after: seconds until the key is back to its full, idle allowance.
    """

    allowed: bool
    remaining: int
    retry_after: float
    reset_after: float


@runtime_checkable
class RateLimitBackend(Protocol):
    """Per-key limiter state with one atomic decision per call.

    ``key`` is the storage key (the limiter prefixes its ``name`` when the backend
    may be shared). ``cost`` is an integer >= 0; a cost of 0 only peeks and stores
    nothing. Async variants make the same decision without blocking the loop.
    """

    def gcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        """Decide by GCRA: one request per ``emission_us``, ``tolerance_us`` of burst.

        ``tolerance_us`` is ``emission_us * burst`` (redis-cell's ``max_burst + 1``).
        """
        ...

    def token_bucket(self, key: str, emission_us: int, capacity: int, cost: int) -> Decision:
        """Decide by a bucket of ``capacity`` tokens, one refilled per ``emission_us``."""
        ...

    def sliding_window(self, key: str, limit: int, window_us: int, cost: int) -> Decision:
        """Decide by the sliding-window counter: ``limit`` requests per ``window_us``."""
        ...

    async def agcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        """Async :meth:`gcra`."""
        ...

    async def atoken_bucket(self, key: str, emission_us: int, capacity: int, cost: int) -> Decision:
        """Async :meth:`token_bucket`."""
        ...

    async def asliding_window(self, key: str, limit: int, window_us: int, cost: int) -> Decision:
        """Async :meth:`sliding_window`."""
        ...
