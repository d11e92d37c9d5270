"""SharedBreakerState(aggregate=True): breakers of one name judge the window of every process."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

import pytest
from redis.client import Redis
from redis_engine import RedisServer

from reliant.exceptions import CircuitOpenError
from reliant.redis import SharedBreakerState
from reliant.resilience.circuit_breaker import CircuitBreaker
from reliant.resilience.windows import CountWindow, TimeWindow
from reliant.testing import VirtualClock

INTERVAL = 0.5
#: Each process alone stays below min_calls; together they reach it.
MIN_CALLS = 20


class Boom(Exception):
    """The dependency failed."""


def breaker(url: str, clock: VirtualClock) -> CircuitBreaker:
    """A breaker opening at a 50% failure rate over 20 calls in 10 s, aggregating in Redis."""
    return CircuitBreaker(
        name="svc",
        failure_rate=0.5,
        window=TimeWindow(10),
        min_calls=MIN_CALLS,
        open_for=10.0,
        clock=clock,
        shared=SharedBreakerState(url=url, sync_interval=INTERVAL, aggregate=True),
    )


def run(cb: CircuitBreaker, clock: VirtualClock, mode: str, fail: bool = False) -> str:
    """One call through the sync or asyncio driver; "ok", "failed" or "rejected"."""

    def fn() -> str:
        if fail:
            raise Boom
        return "ok"

    async def afn() -> str:
        return fn()

    try:
        if mode == "sync":
            return cb.call(fn)
        return clock.run(cb.acall(afn))
    except Boom:
        return "failed"
    except CircuitOpenError:
        return "rejected"


def calls(cb: CircuitBreaker, clock: VirtualClock, mode: str, ok: int, failed: int) -> None:
    """Run ``ok`` successful then ``failed`` failing calls, none rejected."""
    outcomes = [run(cb, clock, mode) for _ in range(ok)]
    outcomes += [run(cb, clock, mode, fail=True) for _ in range(failed)]
    assert ["ok"] * ok + ["failed"] * failed == outcomes


def shared_calls(client: Redis) -> int:
    """The calls counted in the shared window buckets of "svc"."""
    return sum(int(client.hget(k, "calls") or 0) for k in client.keys("reliant:cb:svc:w:*"))


def test_global_rate_over_threshold_opens_every_process(
    server: RedisServer, client: Redis, mode: str
) -> None:
    """5 of 10 failing in each process: locally too few calls, globally 50% of 20: all open."""
    clock = VirtualClock()
    a, b = breaker(server.url, clock), breaker(server.url, clock)
    calls(a, clock, mode, ok=5, failed=5)
    calls(b, clock, mode, ok=5, failed=5)
    clock.advance(INTERVAL)
    assert "closed" == a.state.value  # A's poll: 10 calls in the window, too few
    assert "open" == b.state.value  # B's poll: 20 calls, 10 failed: trips
    assert b"open" == client.hget("reliant:cb:svc", "state")
    assert 20 == shared_calls(client)
    assert "ok" == run(a, clock, mode)  # before A's next poll
    clock.advance(INTERVAL)
    assert ("rejected", "rejected") == (run(a, clock, mode), run(b, clock, mode))


def test_global_rate_below_threshold_stays_closed(
    server: RedisServer, client: Redis, mode: str
) -> None:
    """4 of 10 failing in each process: 40% of 20 globally, below 50%: both stay closed."""
    clock = VirtualClock()
    a, b = breaker(server.url, clock), breaker(server.url, clock)
    calls(a, clock, mode, ok=6, failed=4)
    calls(b, clock, mode, ok=6, failed=4)
    for _ in range(2):
        clock.advance(INTERVAL)
        assert ("closed", "closed") == (a.state.value, b.state.value)
    assert 20 == shared_calls(client)
    assert b"open" != client.hget("reliant:cb:svc", "state")


def test_closing_starts_fresh_shared_metrics(server: RedisServer, client: Redis, mode: str) -> None:
    """reset() after a global trip deletes the shared buckets: no process trips again."""
    clock = VirtualClock()
    a, b = breaker(server.url, clock), breaker(server.url, clock)
    calls(a, clock, mode, ok=5, failed=5)
    calls(b, clock, mode, ok=5, failed=5)
    clock.advance(INTERVAL)
    assert ("closed", "open") == (a.state.value, b.state.value)
    b.reset()
    assert 0 == shared_calls(client)
    for _ in range(2):
        clock.advance(INTERVAL)
        assert ("closed", "closed") == (a.state.value, b.state.value)
    assert ("ok", "ok") == (run(a, clock, mode), run(b, clock, mode))


def test_redis_down_each_decides_on_its_own_window(own_server: RedisServer, mode: str) -> None:
    """Redis dead: no exception, nothing trips on the (unknown) global rate; a local trip works."""
    clock = VirtualClock()
    a, b = breaker(own_server.url, clock), breaker(own_server.url, clock)
    own_server.kill()
    calls(a, clock, mode, ok=5, failed=5)
    calls(b, clock, mode, ok=5, failed=5)
    clock.advance(INTERVAL)
    assert ("closed", "closed") == (a.state.value, b.state.value)
    calls(a, clock, mode, ok=0, failed=10)  # 20 calls, 15 failed in A's own window
    assert ("open", "closed") == (a.state.value, b.state.value)


def test_aggregate_needs_a_time_window(server: RedisServer) -> None:
    """aggregate=True with a CountWindow breaker, or a non-bool aggregate, is refused."""
    shared = SharedBreakerState(url=server.url, aggregate=True)
    with pytest.raises(ValueError, match="SharedBreakerState: aggregate=True needs a breaker"):
        CircuitBreaker(name="x", window=CountWindow(10), shared=shared)
    with pytest.raises(ValueError, match="SharedBreakerState: aggregate must be"):
        SharedBreakerState(url=server.url, aggregate=1)  # type: ignore[arg-type]
    assert shared.options.aggregate is True


def test_global_slow_rate_opens_every_process(server: RedisServer, client: Redis) -> None:
    """Slow calls count too: 5 slow of 10 in each process reach slow_rate 0.5 globally."""
    clock = VirtualClock()
    a, b = (
        CircuitBreaker(
            name="svc",
            slow_rate=0.5,
            slow_call=1.0,
            window=TimeWindow(10),
            min_calls=MIN_CALLS,
            clock=clock,
            shared=SharedBreakerState(url=server.url, sync_interval=INTERVAL, aggregate=True),
        )
        for _ in range(2)
    )
    for cb in (a, b):
        for duration in [0.1] * 5 + [2.0] * 5:
            assert cb.try_acquire() is True
            cb.on_success(duration)
    clock.advance(INTERVAL)
    assert ("closed", "open") == (a.state.value, b.state.value)
    clock.advance(INTERVAL)
    assert "open" == a.state.value
    assert b"open" == client.hget("reliant:cb:svc", "state")


# -- two real processes ---------------------------------------------------------------

#: The sync interval of the two-process test (real time).
MP_INTERVAL = 0.25
#: Two intervals are needed (each process pushes its tally at its next poll; the one that
#: pushes second trips, the other adopts OPEN at its next poll); the rest is headroom for a
#: loaded machine.
MP_MAX_INTERVALS = 6
#: Real-time bound on every wait of the two-process test.
MP_TIMEOUT = 30.0


def _aggregating_worker(url: str, use_async: bool, ready: Any, recorded: Any, out: Any) -> None:
    """One spawned process: 5 ok then 5 failed calls, then poll its state until OPEN.

    Puts ``(first state, calls in its own window, outcomes, final state, seconds to
    OPEN)`` on ``out``, the seconds counted from the barrier both processes pass once
    their calls are done.
    """
    cb = CircuitBreaker(
        name="mp-agg",
        failure_rate=0.5,
        window=TimeWindow(60),  # far longer than the test: no outcome ages out
        min_calls=MIN_CALLS,
        open_for=60.0,
        # Generous timeouts: a reply lost to a loaded machine would lose a tally.
        shared=SharedBreakerState(
            url=url,
            sync_interval=MP_INTERVAL,
            aggregate=True,
            connect_timeout=2.0,
            read_timeout=2.0,
        ),
    )
    initial = cb.state.value  # first sync: connect, load scripts, start the tally
    ready.wait(timeout=MP_TIMEOUT)

    def fn(fail: bool) -> str:
        if fail:
            raise Boom
        return "ok"

    async def afn(fail: bool) -> str:
        return fn(fail)

    outcomes = []
    for fail in [False] * 5 + [True] * 5:
        try:
            outcomes.append(asyncio.run(cb.acall(afn, fail)) if use_async else cb.call(fn, fail))
        except Boom:
            outcomes.append("failed")
        except CircuitOpenError:
            outcomes.append("rejected")
    own_calls = cb.metrics.calls  # no sync: this process's window alone
    recorded.wait(timeout=MP_TIMEOUT)
    start = time.monotonic()
    deadline = start + MP_TIMEOUT
    while cb.state.value != "open" and time.monotonic() < deadline:
        time.sleep(0.005)  # the condition under test, polled until a deadline
    state = cb.state.value
    out.put((initial, own_calls, outcomes, state, time.monotonic() - start))


def test_two_processes_below_min_calls_each_open_together(
    server: RedisServer, client: Redis
) -> None:
    """Two spawned processes, 10 calls each (min_calls 20), 50% failing: both open."""
    ctx = multiprocessing.get_context("spawn")
    ready, recorded, out = ctx.Barrier(2), ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_aggregating_worker, args=(server.url, use_async, ready, recorded, out))
        for use_async in (False, True)  # one sync driver, one asyncio driver
    ]
    for p in procs:
        p.start()
    try:
        reports = [out.get(timeout=MP_TIMEOUT * 2) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert [0, 0] == [p.exitcode for p in procs]
    outcomes = ["ok"] * 5 + ["failed"] * 5
    assert [("closed", 10, outcomes, "open")] * 2 == [report[:4] for report in reports]
    assert all(report[4] <= MP_MAX_INTERVALS * MP_INTERVAL for report in reports), reports
    assert b"open" == client.hget("reliant:cb:mp-agg", "state")
