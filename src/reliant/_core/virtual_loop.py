"""The event loop behind :meth:`VirtualClock.run`: its time is a virtual clock.

Kept apart from clock.py so that importing a clock does not import asyncio.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reliant._core.clock import VirtualClock


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


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop that reads its time from a :class:`VirtualClock`."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_VirtualSelector(clock))
        self._virtual_clock = clock
        # Timers due within this much of "now" fire; virtual time is exact.
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._virtual_clock.now()
