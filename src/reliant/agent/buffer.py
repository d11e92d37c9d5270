"""The agent's bounded send buffer: events and telemetry points waiting to be pushed.

Bounded in (estimated) bytes of memory: adding past the bound evicts the oldest items,
and every item lost is counted in :attr:`Buffer.dropped`, which the agent reports to
the control plane. Adding is O(1) amortised under a short lock, so the event-bus
callback may call it on the caller's thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reliant.agent.aggregate import Point

#: Estimated memory of a buffered telemetry point, plus its operation's length.
POINT_BYTES = 320
#: Estimated memory of a buffered event, plus its strings, plus each attribute.
EVENT_BYTES = 256
ATTRIBUTE_BYTES = 64


@dataclass(frozen=True, slots=True)
class EventItem:
    """One SDK event waiting to be sent (attributes made JSON-safe when sent)."""

    time: float
    kind: str
    name: str
    severity: str
    attributes: Mapping[str, Any]


# (wall time, estimated bytes, payload)
_Entry = tuple[float, int, Any]


@dataclass(slots=True)
class Batch:
    """Items taken from the buffer for one push; settled, dropped or put back."""

    events: list[_Entry] = field(default_factory=list)
    points: list[_Entry] = field(default_factory=list)
    size: int = 0

    def __len__(self) -> int:
        return len(self.events) + len(self.points)


def event_size(kind: str, name: str, attributes: Mapping[str, Any]) -> int:
    """Estimate the memory an event holds while buffered."""
    return EVENT_BYTES + len(kind) + len(name) + ATTRIBUTE_BYTES * len(attributes)


class Buffer:
    """Events and telemetry points, oldest first, bounded to ``max_bytes``.

    Args:
        max_bytes: the bound on the estimated memory of what is held, including a
            batch being sent.
    """

    __slots__ = ("_events", "_inflight", "_lock", "_points", "dropped", "max_bytes", "size")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._events: deque[_Entry] = deque()
        self._points: deque[_Entry] = deque()
        self._inflight = 0
        #: Estimated bytes held, a batch in flight included.
        self.size = 0
        #: Items lost since the start: evicted, refused, or rejected by the server.
        self.dropped = 0

    def _make_room(self, size: int) -> bool:
        """Evict the oldest items until ``size`` more bytes fit (lock held)."""
        events, points = self._events, self._points
        while self.size + size > self.max_bytes and (events or points):
            if not points or (events and events[0][0] <= points[0][0]):
                self.size -= events.popleft()[1]
            else:
                self.size -= points.popleft()[1]
            self.dropped += 1
        if self.size + size > self.max_bytes:
            self.dropped += 1
            return False
        return True

    def add_event(self, item: EventItem, size: int) -> None:
        """Append an event, evicting the oldest items if the bound is reached."""
        with self._lock:
            if self._make_room(size):
                self._events.append((item.time, size, item))
                self.size += size

    def add_points(self, points: Iterable[Point], time: float) -> None:
        """Append telemetry points (drained at wall ``time``), evicting if needed."""
        with self._lock:
            for point in points:
                size = POINT_BYTES + len(point.operation)
                if self._make_room(size):
                    self._points.append((time, size, point))
                    self.size += size

    def take(self, max_bytes: int) -> Batch:
        """Take the oldest items, up to ``max_bytes`` (at least one), for a push."""
        batch = Batch()
        with self._lock:
            events, points = self._events, self._points
            while events or points:
                if not points or (events and events[0][0] <= points[0][0]):
                    queue, taken = events, batch.events
                else:
                    queue, taken = points, batch.points
                if batch.size and batch.size + queue[0][1] > max_bytes:
                    break
                entry = queue.popleft()
                taken.append(entry)
                batch.size += entry[1]
            self._inflight += batch.size
        return batch

    def settle(self, batch: Batch) -> None:
        """Forget a batch the server accepted."""
        with self._lock:
            self._inflight -= batch.size
            self.size -= batch.size

    def drop(self, batch: Batch) -> None:
        """Forget a batch the server refused, counting its items as dropped."""
        with self._lock:
            self._inflight -= batch.size
            self.size -= batch.size
            self.dropped += len(batch)

    def put_back(self, batch: Batch) -> None:
        """Return an unsent batch to the front, to be sent again (oldest first)."""
        with self._lock:
            self._inflight -= batch.size
            self._events.extendleft(reversed(batch.events))
            self._points.extendleft(reversed(batch.points))

    def count_dropped(self, n: int) -> None:
        """Count ``n`` items lost before they reached the buffer."""
        with self._lock:
            self.dropped += n

    def __len__(self) -> int:
        """Items waiting (a batch in flight excluded)."""
        return len(self._events) + len(self._points)
