"""Clocks: where every policy gets its time and its sleeps.

Production code uses :data:`MONOTONIC`; tests and the simulator use
:class:`reliant.testing.VirtualClock`, whose sleeps advance virtual time instantly.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import asyncio

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
        # Imported here so that sync programs never load asyncio; an async caller
        # has it loaded already, and a sleep dwarfs the lookup.
        import asyncio

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
        import asyncio

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
        from reliant._core.virtual_loop import VirtualTimeLoop

        loop = VirtualTimeLoop(self)
        self._loop = loop
        return loop

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion on a virtual-time event loop and return its result."""
        import asyncio

        with asyncio.Runner(loop_factory=self.new_event_loop) as runner:
            return runner.run(main)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"
