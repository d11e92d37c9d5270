"""The deadline of the current call, carried in a context variable.

A sync :class:`~reliant.Timeout` cannot interrupt a running function; instead it
publishes a deadline here that nested reliant policies (retry sleeps, bulkhead and
limiter waits) and integrations (the httpx transport) honour.

A deadline is an absolute reading of the clock it was set on, so the time left is
always measured on that clock: readings of two different clocks cannot be compared,
while the durations they yield can.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from reliant._core.clock import MONOTONIC, Clock

#: (absolute deadline on ``clock``, clock) of the innermost active timeout.
_DEADLINE: ContextVar[tuple[float, Clock] | None] = ContextVar("reliant_deadline", default=None)

DeadlineToken = Token[tuple[float, Clock] | None]


def remaining(clock: Clock | None = None) -> float | None:
    """Return the seconds left before the current deadline, or ``None`` without one.

    The answer may be negative when the deadline has passed.

    Args:
        clock: the caller's clock. Accepted for symmetry with the policies that ask;
            the time left is always read on the clock the deadline was set on, since
            an absolute deadline on one clock means nothing on another.
    """
    current = _DEADLINE.get()
    if current is None:
        return None
    deadline, deadline_clock = current
    return deadline - deadline_clock.now()


def push(seconds: float, clock: Clock, *, now: float | None = None) -> tuple[DeadlineToken, float]:
    """Set a deadline ``seconds`` from now, keeping any sooner inherited one.

    The hot-path form of :func:`deadline_scope`, without a generator per call.

    Args:
        seconds: the budget of the new scope.
        clock: the clock the deadline is set on.
        now: ``clock``'s current reading, when the caller has just taken it.

    Returns:
        The token to hand to :func:`pop` and the absolute deadline in effect on ``clock``.
    """
    if now is None:
        now = clock.now()
    current = _DEADLINE.get()
    if current is not None:
        seconds = min(seconds, current[0] - current[1].now())
    deadline = now + seconds
    return _DEADLINE.set((deadline, clock)), deadline


def pop(token: DeadlineToken) -> None:
    """Restore the deadline that was in effect before the matching :func:`push`."""
    _DEADLINE.reset(token)


@contextmanager
def deadline_scope(seconds: float, clock: Clock = MONOTONIC) -> Iterator[float]:
    """Set a deadline ``seconds`` from now for the block, keeping any earlier one.

    Yields the absolute deadline in effect on ``clock`` (the sooner of the new and the
    inherited).
    """
    token, deadline = push(seconds, clock)
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
