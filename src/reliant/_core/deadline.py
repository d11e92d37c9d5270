"""The deadline of the current call, carried in a context variable.

A sync :class:`~reliant.Timeout` cannot interrupt a running function; instead it
publishes a deadline here that nested reliant policies (retry sleeps, bulkhead and
limiter waits) and integrations (the httpx transport) honour.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from reliant._core.clock import MONOTONIC, Clock

#: (absolute deadline on ``clock``, clock) of the innermost active timeout.
_DEADLINE: ContextVar[tuple[float, Clock] | None] = ContextVar("reliant_deadline", default=None)


def remaining(clock: Clock | None = None) -> float | None:
    """Return the seconds left before the current deadline, or ``None`` without one.

    The answer may be negative when the deadline has passed.

    Args:
        clock: the clock to read; defaults to the clock the deadline was set on.
    """
    current = _DEADLINE.get()
    if current is None:
        return None
    deadline, deadline_clock = current
    return deadline - (clock or deadline_clock).now()


@contextmanager
def deadline_scope(seconds: float, clock: Clock = MONOTONIC) -> Iterator[float]:
    """Set a deadline ``seconds`` from now for the block, keeping any earlier one.

    Yields the absolute deadline in effect (the sooner of the new and the inherited).
    """
    current = _DEADLINE.get()
    if current is not None:
        seconds = min(seconds, current[0] - current[1].now())
    deadline = clock.now() + seconds
    token = _DEADLINE.set((deadline, clock))
    try:
        yield deadline
    finally:
        _DEADLINE.reset(token)


def bounded_wait(wait: float, clock: Clock) -> float:
    """Return ``wait`` shortened to the time left before the current deadline (≥ 0)."""
    left = remaining(clock)
    if left is None or left >= wait:
        return wait
    return max(0.0, left)
