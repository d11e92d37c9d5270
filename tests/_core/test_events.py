"""Tests for reliant._core.events: the EventBus, subscribe() and Subscription."""

from __future__ import annotations

import logging
import threading
from types import MappingProxyType

import pytest

from reliant._core.events import BUS, Event, EventBus, subscribe


def test_new_bus_is_inactive() -> None:
    """A bus with no subscriber reports active=False, the hot path's only test."""
    assert False is EventBus().active


def test_emit_delivers_event_with_all_fields() -> None:
    """A subscriber receives an Event carrying kind, policy, time and attributes."""
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append)
    bus.emit("retry.retrying", "payments", 12.5, {"attempt": 1, "delay": 0.5})
    assert [Event("retry.retrying", "payments", 12.5, {"attempt": 1, "delay": 0.5})] == got


def test_emit_without_attributes_gives_empty_mapping() -> None:
    """An event emitted without attributes carries an empty, read-only mapping."""
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append)
    bus.emit("timeout.exceeded", "p", 0.0)
    assert {} == dict(got[0].attributes)
    assert isinstance(got[0].attributes, MappingProxyType)


def test_event_is_frozen() -> None:
    """Events cannot be mutated by a listener."""
    event = Event("a.b", "p", 1.0)
    with pytest.raises(AttributeError):
        event.kind = "c.d"  # type: ignore[misc]


def test_subscribe_sets_active_and_close_clears_it() -> None:
    """active is True while a subscription exists and False after the last closes."""
    bus = EventBus()
    first = bus.subscribe(lambda e: None)
    second = bus.subscribe(lambda e: None)
    assert True is bus.active
    first.close()
    assert True is bus.active
    second.close()
    assert False is bus.active


def test_close_twice_is_harmless() -> None:
    """Closing a subscription twice leaves the others in place."""
    bus = EventBus()
    got: list[Event] = []
    keep = bus.subscribe(got.append)
    gone = bus.subscribe(lambda e: None)
    gone.close()
    gone.close()
    bus.emit("x.y", "p", 0.0)
    assert 1 == len(got)
    assert True is bus.active
    keep.close()


def test_subscription_as_context_manager_unsubscribes() -> None:
    """Leaving a subscription's with-block stops delivery."""
    bus = EventBus()
    got: list[Event] = []
    with bus.subscribe(got.append) as sub:
        assert got.append == sub.listener
        bus.emit("a.one", "p", 0.0)
    bus.emit("a.two", "p", 0.0)
    assert ["a.one"] == [e.kind for e in got]
    assert False is bus.active


def test_kinds_filter_by_exact_kind() -> None:
    """kinds with a dotted name delivers only that kind."""
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append, kinds=["retry.exhausted"])
    for kind in ("retry.retrying", "retry.exhausted", "timeout.exceeded"):
        bus.emit(kind, "p", 0.0)
    assert ["retry.exhausted"] == [e.kind for e in got]


def test_kinds_filter_by_family() -> None:
    """kinds with a family name delivers every kind of that family."""
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append, kinds=["circuit_breaker", "timeout.exceeded"])
    for kind in (
        "circuit_breaker.state_changed",
        "circuit_breaker.rejected",
        "retry.retrying",
        "timeout.exceeded",
        "circuit",  # a prefix of a family name is not the family
    ):
        bus.emit(kind, "p", 0.0)
    assert [
        "circuit_breaker.state_changed",
        "circuit_breaker.rejected",
        "timeout.exceeded",
    ] == [e.kind for e in got]


def test_kinds_given_as_a_single_string() -> None:
    """A single string for kinds is one kind, not a set of characters."""
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append, kinds="retry")
    bus.emit("retry.retrying", "p", 0.0)
    bus.emit("r.x", "p", 0.0)
    assert ["retry.retrying"] == [e.kind for e in got]


def test_empty_kinds_delivers_nothing() -> None:
    """An empty kinds collection matches no event (unlike omitting it)."""
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append, kinds=[])
    bus.emit("retry.retrying", "p", 0.0)
    assert [] == got


def test_policy_filter() -> None:
    """policy= delivers only events from the policy with that name."""
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append, policy="db")
    bus.emit("bulkhead.rejected", "db", 0.0)
    bus.emit("bulkhead.rejected", "cache", 0.0)
    assert ["db"] == [e.policy for e in got]


def test_policy_and_kinds_filters_combine() -> None:
    """With both filters, an event must match the policy and one of the kinds."""
    bus = EventBus()
    got: list[Event] = []
    bus.subscribe(got.append, kinds=["retry"], policy="db")
    bus.emit("retry.retrying", "db", 1.0)
    bus.emit("retry.retrying", "cache", 2.0)
    bus.emit("timeout.exceeded", "db", 3.0)
    assert [1.0] == [e.time for e in got]


def test_listener_exception_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """A failing listener is logged; emit returns and later listeners still run."""
    bus = EventBus()
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe(broken)
    bus.subscribe(got.append)
    with caplog.at_level(logging.ERROR, logger="reliant.events"):
        bus.emit("fallback.used", "p", 0.0)
    assert 1 == len(got)
    assert 1 == len(caplog.records)
    assert "fallback.used" in caplog.records[0].getMessage()
    assert caplog.records[0].exc_info is not None


def test_subscribe_rejects_non_callable() -> None:
    """subscribe() refuses a listener that cannot be called."""
    with pytest.raises(TypeError, match="listener must be callable"):
        EventBus().subscribe("not a function")  # type: ignore[arg-type]


def test_unsubscribe_during_emit_is_safe() -> None:
    """A listener closing its own subscription mid-emit does not disturb delivery."""
    bus = EventBus()
    got: list[str] = []

    def once(event: Event) -> None:
        got.append("once")
        sub.close()

    sub = bus.subscribe(once)
    bus.subscribe(lambda e: got.append("always"))
    bus.emit("a.b", "p", 0.0)
    bus.emit("a.b", "p", 0.0)
    assert ["once", "always", "always"] == got


def test_concurrent_subscribes_are_all_kept() -> None:
    """Subscriptions made from many threads at once are none of them lost."""
    bus = EventBus()
    threads_n, per_thread = 8, 200
    barrier = threading.Barrier(threads_n)
    count: list[int] = []

    def subscribe_many() -> None:
        barrier.wait()
        for _ in range(per_thread):
            bus.subscribe(lambda e: count.append(1))

    threads = [threading.Thread(target=subscribe_many) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bus.emit("a.b", "p", 0.0)
    assert threads_n * per_thread == len(count)


def test_module_subscribe_uses_the_process_bus() -> None:
    """reliant._core.events.subscribe registers on the process-wide BUS."""
    got: list[Event] = []
    with subscribe(got.append, kinds=["test_events"], policy="me"):
        assert True is BUS.active
        BUS.emit("test_events.ping", "me", 0.0)
        BUS.emit("test_events.ping", "someone-else", 0.0)
    assert 1 == len(got)
