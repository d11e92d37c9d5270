"""Buffer: bounded in bytes, oldest evicted first, every loss counted."""

from __future__ import annotations

from reliant.agent.aggregate import Point
from reliant.agent.buffer import POINT_BYTES, Buffer, EventItem, event_size

HIST = (0,) * 14


def event(time: float, kind: str = "fault.enabled") -> EventItem:
    return EventItem(time, kind, "f", "info", {"rate": 0.1})


def point(operation: str = "op") -> Point:
    return Point(operation, "success", 1_800_000_000, 1, 0.1, HIST)


def add(buffer: Buffer, item: EventItem) -> None:
    buffer.add_event(item, event_size(item.kind, item.name, item.attributes))


def test_the_size_never_exceeds_the_bound() -> None:
    """Past the bound the oldest items go, and each one is counted as dropped."""
    size = event_size("fault.enabled", "f", {"rate": 0.1})
    buffer = Buffer(max_bytes=10 * size)
    for i in range(1000):
        add(buffer, event(float(i)))
        assert buffer.size <= buffer.max_bytes
    assert (10, 990) == (len(buffer), buffer.dropped)
    events = buffer.take(10**9).events
    assert [990.0, 999.0] == [events[0][0], events[-1][0]]


def test_the_oldest_item_goes_first_whatever_its_kind() -> None:
    """Events and points are evicted by age across both queues."""
    buffer = Buffer(max_bytes=POINT_BYTES + 2 + event_size("fault.enabled", "f", {"rate": 0.1}))
    buffer.add_points([point()], time=1.0)
    add(buffer, event(2.0))
    buffer.add_points([point()], time=3.0)
    batch = buffer.take(10**9)
    assert ([2.0], [3.0], 1) == (
        [e[0] for e in batch.events],
        [p[0] for p in batch.points],
        buffer.dropped,
    )


def test_an_item_larger_than_the_bound_is_refused() -> None:
    """Nothing fits, so the item itself is dropped and counted."""
    buffer = Buffer(max_bytes=100)
    add(buffer, event(1.0))
    assert (0, 0, 1) == (len(buffer), buffer.size, buffer.dropped)


def test_take_stops_at_the_batch_size_but_takes_at_least_one() -> None:
    """A batch holds about max_bytes, oldest first; its bytes stay counted while in flight."""
    buffer = Buffer(max_bytes=10**6)
    for i in range(10):
        add(buffer, event(float(i)))
    one = event_size("fault.enabled", "f", {"rate": 0.1})
    batch = buffer.take(3 * one)
    assert (3, 7, 10 * one) == (len(batch), len(buffer), buffer.size)
    assert 1 == len(buffer.take(1))


def test_a_batch_put_back_is_sent_again_first() -> None:
    """put_back() returns the batch to the front, in order."""
    buffer = Buffer(max_bytes=10**6)
    for i in range(4):
        add(buffer, event(float(i)))
    batch = buffer.take(1)
    buffer.put_back(batch)
    assert [0.0, 1.0, 2.0, 3.0] == [e[0] for e in buffer.take(10**9).events]


def test_settle_and_drop_release_the_bytes() -> None:
    """An accepted batch is forgotten; a refused one is forgotten and counted."""
    buffer = Buffer(max_bytes=10**6)
    for i in range(4):
        add(buffer, event(float(i)))
    buffer.settle(buffer.take(1))
    buffer.drop(buffer.take(10**9))
    assert (0, 0, 3) == (len(buffer), buffer.size, buffer.dropped)


def test_items_arriving_during_a_send_evict_only_what_is_not_in_flight() -> None:
    """With the buffer full of a batch in flight, a new item is refused, not the batch."""
    one = event_size("fault.enabled", "f", {"rate": 0.1})
    buffer = Buffer(max_bytes=2 * one)
    add(buffer, event(1.0))
    add(buffer, event(2.0))
    batch = buffer.take(10**9)
    add(buffer, event(3.0))
    assert (2, 1) == (len(batch), buffer.dropped)
    buffer.put_back(batch)
    assert [1.0, 2.0] == [e[0] for e in buffer.take(10**9).events]
