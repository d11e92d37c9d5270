"""One timer for many async timeouts of the same length.

Arming an event-loop timer per call (``loop.call_at`` and its cancel) is most of what
``asyncio.timeout`` costs. Calls through one :class:`~reliant.Timeout` all get the same
budget, so their deadlines come in the order the calls start: a FIFO queue with a
single armed timer serves them all. A finished call only marks its entry done; the
timer, when it fires, drops finished entries from the head, cancels the tasks whose
deadline has come, and re-arms itself for the next live entry.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


class Expiry:
    """One call's place in the queue: its task, deadline, and whether it fired."""

    __slots__ = ("deadline", "done", "fired", "task")

    def __init__(self, task: asyncio.Task[Any], deadline: float) -> None:
        self.task = task
        self.deadline = deadline
        self.done = False
        self.fired = False


class TimerQueue:
    """The pending deadlines of one Timeout on one event loop, oldest first.

    Used only from its loop's thread, so it needs no lock.
    """

    __slots__ = ("_armed", "entries", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.entries: deque[Expiry] = deque()
        self._armed = False

    def add(self, task: asyncio.Task[Any], deadline: float) -> Expiry:
        """Queue ``task`` to be cancelled at ``deadline`` unless finished first."""
        entry = Expiry(task, deadline)
        self.entries.append(entry)
        if not self._armed:
            self._armed = True
            self.loop.call_at(deadline, self._fire)
        return entry

    def finish(self, entry: Expiry) -> None:
        """Mark ``entry`` done and drop finished entries from the head."""
        entry.done = True
        entries = self.entries
        while entries and entries[0].done:
            entries.popleft()

    def _fire(self) -> None:
        entries = self.entries
        now = self.loop.time()
        while entries:
            head = entries[0]
            if head.done:
                entries.popleft()
            elif head.deadline <= now:
                entries.popleft()
                head.fired = True
                head.task.cancel()
            else:
                self.loop.call_at(head.deadline, self._fire)
                return
        self._armed = False
