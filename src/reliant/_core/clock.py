"""Clocks: where every policy gets its time and its sleeps.

Production code uses :data:`MONOTONIC`; tests and the simulator use
:class:`reliant.testing.VirtualClock`, whose sleeps advance virtual time instantly.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic time in float seconds, and a way to wait on it."""

    def now(self) -> float:
        """Return the current time in seconds; only differences are meaningful."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        ...


class MonotonicClock:
    """The process's monotonic clock with real sleeps."""

    __slots__ = ()

    now = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` of real time."""
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "MonotonicClock()"


MONOTONIC = MonotonicClock()


class VirtualClock:
    """A clock that moves only when told to, or when something sleeps on it.

    ``sleep`` and ``asleep`` advance the clock by the requested amount at once, so
    a retry with a 30 s backoff finishes instantly in a test. :meth:`run` runs a
    coroutine on an event loop whose time *is* this clock: ``asyncio.sleep``,
    ``asyncio.timeout`` and concurrent tasks then all progress in virtual time,
    jumping straight to the next scheduled wake-up.

    Args:
        start: the initial reading of the clock, in seconds.
    """

    __slots__ = ("_loop", "_now", "sleeps")

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Every sleep requested through this clock, in order (for assertions).
        self.sleeps: list[float] = []

    def now(self) -> float:
        """Return the current virtual time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (which must not be negative).

        Raises:
            ValueError: if ``seconds`` is negative.
        """
        if not seconds >= 0:  # also rejects NaN
            raise ValueError(f"VirtualClock.advance: seconds must be >= 0, got {seconds!r}")
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance the clock by it."""
        self.sleeps.append(seconds)
        if seconds > 0:
            self._now += seconds

    async def asleep(self, seconds: float) -> None:
        """Sleep in virtual time.

        On the clock's own loop (see :meth:`run`) this is ``asyncio.sleep``, so other
        tasks run meanwhile; on any other loop the clock advances at once.
        """
        self.sleeps.append(seconds)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - asleep is only awaited inside a loop
            running = None
        if running is not None and running is self._loop:
            await asyncio.sleep(seconds)
            return
        if seconds > 0:
            self._now += seconds
        await asyncio.sleep(0)

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """Return an event loop whose ``time()`` is this clock and that never idles.

        When the loop has nothing ready and no I/O is pending, it advances the clock
        to its next timer instead of waiting.
        """
        loop = _VirtualTimeLoop(self)
        self._loop = loop
        return loop

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion on a virtual-time event loop and return its result."""
        with asyncio.Runner(loop_factory=self.new_event_loop) as runner:
            return runner.run(main)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"


class _VirtualSelector(selectors.DefaultSelector):
    """A selector that turns the loop's idle waits into clock advances."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None or timeout <= 0:
            return super().select(timeout)
        ready = super().select(0)
        if not ready:
            self._clock.advance(timeout)
        return ready


class _VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop that reads its time from a :class:`VirtualClock`."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_VirtualSelector(clock))
        self._virtual_clock = clock
        # Timers due within this much of "now" fire; virtual time is exact.
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._virtual_clock.now()
