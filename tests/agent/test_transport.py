"""The uplink against a real loopback HTTP server: body, retries, drops, bounds, close."""

from __future__ import annotations

import random

import pytest
from agent_helpers import SERVICE, TOKEN, WALL_START, closed_port_url, make_agent, plane

from reliant import CircuitBreaker, Retry
from reliant._core.events import BUS
from reliant.agent.aggregate import Aggregator, Point
from reliant.agent.buffer import EventItem, event_size
from reliant.agent.protocol import LATENCY_BOUNDS, PROTOCOL_VERSION
from reliant.agent.transport import (
    BACKOFF_INITIAL,
    BACKOFF_MAX,
    Result,
    event_json,
    wire_name,
)
from reliant.telemetry.metered import metered
from reliant.testing import VirtualClock


def boom() -> None:
    raise ConnectionError("down")


def test_a_push_is_one_gzip_json_body_in_the_protocol_shape() -> None:
    """Telemetry points and state-change events travel gzipped, with the ingest token."""
    with plane() as fake:
        agent, clock, _wall = make_agent(fake.url)
        breaker = CircuitBreaker(name="payments-db", clock=clock)
        charge = metered(Retry(attempts=1, name="charge", clock=clock))
        charge.call(lambda: 1)
        with pytest.raises(ConnectionError):
            charge.call(boom)
        breaker.force_open()
        clock.advance(10.0)
        assert 10.0 == agent.uplink.run_once()
        agent.close()
    headers = fake.push_headers[0]
    assert ("gzip", "application/json", f"Bearer {TOKEN}") == (
        headers["Content-Encoding"],
        headers["Content-Type"],
        headers["Authorization"],
    )
    zero = [0] * (len(LATENCY_BOUNDS) + 1)
    assert [
        {
            "protocol": PROTOCOL_VERSION,
            "service": SERVICE,
            "instance": "test:1:abcd",
            "sdk": "0.1.0",
            "sent_at": WALL_START,
            "dropped": 0,
            "telemetry": [
                {"operation": "charge", "outcome": o, "bucket": 1_800_000_000, "count": 1,
                 "sum": 0.0, "histogram": [1, *zero[1:]]}
                for o in ("success", "failure")
            ],
            "events": [
                {"time": WALL_START, "kind": "circuit_breaker.state_changed",
                 "name": "payments-db", "severity": "warning",
                 "attributes": {"from_state": "closed", "to_state": "forced_open"},
                 "trace_id": None},
            ],
        }
    ] == fake.batches  # fmt: skip


def test_per_call_events_are_not_forwarded() -> None:
    """Only state changes are sent as events; per-call events feed nothing."""
    with plane() as fake:
        agent, clock, _ = make_agent(fake.url)
        breaker = CircuitBreaker(name="db", clock=clock)
        breaker.call(lambda: 1)
        BUS.emit("retry.retrying", "r", 0.0, {"attempt": 1, "delay": 0.1})
        assert 0 == len(agent.buffer)
        agent.close()
    assert [] == fake.batches


def test_nothing_is_sent_when_nothing_happened() -> None:
    """An idle agent makes no request."""
    with plane() as fake:
        agent, clock, _ = make_agent(fake.url)
        clock.advance(10.0)
        assert 10.0 == agent.uplink.run_once()
        agent.close()
    assert [] == fake.batches


def test_an_event_is_pushed_after_event_delay() -> None:
    """A state change does not wait for the next flush: nudge() brings it to event_delay."""
    with plane() as fake:
        agent, clock, _ = make_agent(fake.url, event_delay=0.5)
        BUS.emit("fault.enabled", "latency", 0.0, {"rate": 0.5})
        agent.uplink.nudge()
        assert 0.5 == agent.uplink.run_once()
        clock.advance(0.5)
        assert 9.5 == agent.uplink.run_once()
        agent.close()
    assert [["fault.enabled"]] == [[e["kind"] for e in b["events"]] for b in fake.batches]


def test_5xx_and_429_are_retried_with_exponential_backoff_and_jitter() -> None:
    """The same batch is sent again after 1 s then 2 s (times 0.5-1 jitter), then accepted."""
    with plane() as fake:
        fake.statuses.extend([503, 429])
        agent, clock, _ = make_agent(fake.url)
        BUS.emit("fault.enabled", "f", 0.0, {"rate": 0.5})
        clock.advance(10.0)
        jitter = random.Random(7)
        first = agent.uplink.run_once()
        assert pytest.approx(BACKOFF_INITIAL * (0.5 + 0.5 * jitter.random())) == first
        assert "ingest answered 503: test says no" == agent.stats().last_error
        clock.advance(first / 2)
        assert pytest.approx(first / 2) == agent.uplink.run_once()  # not due yet: no request
        assert 1 == len(fake.batches)
        clock.advance(first / 2)
        second = agent.uplink.run_once()
        assert pytest.approx(2 * BACKOFF_INITIAL * (0.5 + 0.5 * jitter.random())) == second
        clock.advance(second)
        agent.uplink.run_once()
        stats = agent.stats()
        agent.close()
    assert 3 == len(fake.batches)
    assert fake.batches[0]["events"] == fake.batches[2]["events"]
    assert (1, 0, 0, True, None) == (
        stats.sent,
        stats.dropped,
        stats.buffered,
        stats.connected,
        stats.last_error,
    )


def test_a_4xx_batch_is_dropped_counted_and_reported() -> None:
    """400 drops the batch; the next body reports how many items were dropped."""
    with plane() as fake:
        fake.statuses.append(400)
        agent, clock, _ = make_agent(fake.url)
        BUS.emit("fault.enabled", "f", 0.0, {"rate": 0.5})
        BUS.emit("fault.disabled", "f", 0.0, {"rate": 0.5})
        clock.advance(10.0)
        assert 10.0 == agent.uplink.run_once()
        assert (2, 0, False) == (lambda s: (s.dropped, s.buffered, s.connected))(agent.stats())
        clock.advance(10.0)
        agent.uplink.run_once()
        agent.close()
    assert [(0, 2), (2, 0)] == [(b["dropped"], len(b["events"])) for b in fake.batches]


def test_memory_stays_bounded_while_the_control_plane_is_down() -> None:
    """Many events against a dead server: the buffer stays under its bound, losses counted."""
    agent, clock, _ = make_agent(closed_port_url(), max_buffer_bytes=64 * 1024)
    size = event_size("fault.enabled", "f", {"rate": 0.5})
    for i in range(5000):
        BUS.emit("fault.enabled", "f", float(i), {"rate": 0.5})
        if i % 1000 == 0:
            clock.advance(60.0)
            assert agent.uplink.run_once() > 0  # connection refused: retry later
    stats = agent.stats()
    assert stats.buffered <= 64 * 1024
    assert 64 * 1024 // size == stats.buffered_items
    assert 5000 == stats.dropped + stats.buffered_items
    assert not stats.connected
    assert stats.last_error is not None
    assert stats.last_error.startswith("cannot reach 127.0.0.1")
    assert not agent.close(timeout=1.0)


def test_the_caller_never_sees_an_agent_error() -> None:
    """A malformed call.completed event is counted as dropped, not raised."""
    agent, _, _ = make_agent(closed_port_url())
    BUS.emit("call.completed", "op", 0.0, {"outcome": "success"})  # no duration
    assert 1 == agent.stats().dropped
    agent.close(timeout=0.5)


def test_backlog_is_sent_batch_after_batch() -> None:
    """After an outage the buffer drains in consecutive batches of max_batch_bytes."""
    with plane() as fake:
        agent, clock, _ = make_agent(fake.url, max_batch_bytes=1024)
        for i in range(9):
            BUS.emit("fault.enabled", "f", float(i), {"rate": 0.5})
        clock.advance(10.0)
        delays = [agent.uplink.run_once() for _ in range(4)]
        agent.close()
    assert [0.0, 0.0, 10.0, 10.0] == delays
    assert [3, 3, 3] == [len(b["events"]) for b in fake.batches]


def test_close_flushes_what_is_left() -> None:
    """close() drains the aggregates and the buffer before returning True."""
    with plane() as fake:
        agent, clock, _ = make_agent(fake.url)
        charge = metered(Retry(attempts=1, name="charge", clock=clock))
        for _ in range(3):
            charge.call(lambda: 1)
        assert agent.close()
        assert agent.close()  # twice is harmless
    assert [3] == [p["count"] for b in fake.batches for p in b["telemetry"]]


def test_close_gives_up_at_once_when_the_control_plane_is_down() -> None:
    """A failing final push returns False instead of waiting out the timeout."""
    agent, clock, _ = make_agent(closed_port_url())
    BUS.emit("fault.enabled", "f", 0.0, {"rate": 0.5})
    assert not agent.close(timeout=5.0)
    assert 0.0 == clock.now()


def test_a_push_never_raises_even_on_a_bug() -> None:
    """An unexpected exception inside a push is reported as a retry, never raised."""
    agent, _clock, wall = make_agent(closed_port_url())

    class Broken(Aggregator):
        def drain(self) -> list[Point]:
            raise RuntimeError("bug")

    agent.uplink.aggregator = Broken(wall=wall.now)
    assert Result.RETRY == agent.uplink.push(1.0)
    assert "agent error: RuntimeError: bug" == agent.stats().last_error
    agent.close(timeout=0.1)


def test_wall_clock_of_the_events_is_the_agents() -> None:
    """Event times are wall time at the moment of the event, not the policy's clock."""
    with plane() as fake:
        agent, _clock, wall = make_agent(fake.url)
        wall.advance(3.25)
        breaker = CircuitBreaker(name="db", clock=VirtualClock(123.0))
        breaker.force_open()
        agent.close()
    assert [WALL_START + 3.25] == [e["time"] for b in fake.batches for e in b["events"]]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("payments-db", "payments-db"),
        ("api/v1:charge", "api/v1:charge"),
        ("payments db", "payments_db"),
        ("_private", "x_private"),
        ("é" * 300, "x" + "_" * 199),
        ("", ""),
    ],
)
def test_names_are_sent_as_the_control_plane_accepts_them(name: str, expected: str) -> None:
    """Characters outside [A-Za-z0-9._:/-] become _, so one odd name cannot sink a batch."""
    assert expected == wire_name(name)


def test_attribute_values_are_made_json_safe() -> None:
    """Enums by value, exceptions and objects as text, NUL characters and infinities removed."""
    from reliant import CircuitState

    item = EventItem(
        1.0,
        "config.rejected",
        "x",
        "warning",
        {
            "s": CircuitState.OPEN,
            "e": ValueError("bad"),
            "f": float("inf"),
            "t": "a\0b",
            "o": object,
        },
    )
    assert {
        "s": "open",
        "e": "ValueError: bad",
        "f": "inf",
        "t": "ab",
        "o": "<class 'object'>",
    } == (event_json(item)["attributes"])


def test_the_backoff_stays_capped_through_a_long_outage() -> None:
    """After thousands of failures the wait is still at most BACKOFF_MAX."""
    agent, clock, _ = make_agent(closed_port_url())
    agent.uplink._failures = 5000
    BUS.emit("fault.enabled", "f", 0.0, {"rate": 0.5})
    clock.advance(10.0)
    assert agent.uplink.run_once() <= BACKOFF_MAX
