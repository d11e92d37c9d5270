"""Public helpers for testing code that uses reliant.

- :class:`VirtualClock` — pass ``clock=VirtualClock()`` to any policy; its sleeps
  advance virtual time instantly, and :meth:`VirtualClock.run` runs asyncio code on
  virtual time.
- :func:`set_testing` — make every ``Retry`` in the process skip its sleeps (and
  optionally cap its attempts), like stamina's switch of the same name.
- :func:`capture_events` — collect the events policies emit inside a ``with`` block.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from reliant._core.clock import VirtualClock
from reliant._core.events import Event, subscribe
from reliant._core.testing_mode import TESTING


def set_testing(enabled: bool = True, *, attempts: int | None = None) -> None:
    """Switch testing mode on or off for the whole process.

    Args:
        enabled: when true, retries happen without sleeping.
        attempts: when given (>= 1), every Retry makes at most this many attempts.

    Raises:
        ValueError: if ``attempts`` is not a positive integer.
    """
    if attempts is not None and (
        isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
    ):
        raise ValueError(f"set_testing: attempts must be an integer >= 1, got {attempts!r}")
    TESTING.enabled = bool(enabled)
    TESTING.attempts = attempts if enabled else None


def is_testing() -> bool:
    """Tell whether testing mode is on."""
    return TESTING.enabled


@contextmanager
def capture_events(
    *, kinds: Iterable[str] | None = None, policy: str | None = None
) -> Iterator[list[Event]]:
    """Collect events emitted inside the block into the yielded list."""
    events: list[Event] = []
    with subscribe(events.append, kinds=kinds, policy=policy):
        yield events


__all__ = ["Event", "VirtualClock", "capture_events", "is_testing", "set_testing"]
