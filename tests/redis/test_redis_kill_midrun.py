"""Redis killed while threads and tasks hammer it: the fail mode answers, then Redis again."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import pytest
from redis_engine import RedisServer

from reliant.redis import RedisBackend
from reliant.resilience.breaker_state import CircuitState
from reliant.resilience.ratelimit import Decision, MemoryBackend

#: Seconds the breaker around Redis stays open before one trial call.
RETRY = 0.1
#: Decisions served before the kill, and fail-mode decisions seen before the restart.
BEFORE_KILL = 200
DURING_OUTAGE = 200
#: Hard bound of one run, should recovery never come.
DEADLINE = 10.0
THREADS = 4
TASKS = 32
#: One request per minute; a burst too big to run out of (open, closed) or of 3 (local).
EMISSION_US = 60_000_000
BURST = {"open": 1_000_000, "closed": 1_000_000, "local": 3}
OPEN = Decision(True, 0, 0.0, 0.0)


class LocalDecision(Decision):
    """A Decision made by the in-process fallback (so a test can tell it from Redis')."""

    __slots__ = ()


class TaggingMemoryBackend(MemoryBackend):
    """A MemoryBackend whose GCRA decisions are tagged as LocalDecision."""

    __slots__ = ()

    def gcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        """MemoryBackend.gcra, tagged."""
        return LocalDecision(*super().gcra(key, emission_us, tolerance_us, cost))


def from_redis(fail_mode: str, d: Decision) -> bool:
    """Whether ``d`` was decided in Redis (not by the fail mode)."""
    if fail_mode == "open":
        return d != OPEN  # Redis admits with reset_after > 0
    if fail_mode == "closed":
        return d.allowed  # Redis never runs out of the huge burst
    return type(d) is Decision


@dataclass
class Run:
    """Shared state of one hammering run: phase, tallies, coordination events."""

    fail_mode: str
    phase: str = "up"  # up -> down (killed) -> restarting -> back (answering PING)
    served: int = 0
    outage: int = 0
    local_allowed: int = 0
    errors: list[BaseException] = field(default_factory=list)
    wrong: list[tuple[str, Decision]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    warm: threading.Event = field(default_factory=threading.Event)
    failing: threading.Event = field(default_factory=threading.Event)
    recovered: threading.Event = field(default_factory=threading.Event)

    def record(self, started: str, d: Decision) -> None:
        """Tally one decision asked in phase ``started`` and check it against the mode."""
        ended = self.phase
        redis = from_redis(self.fail_mode, d)
        with self.lock:
            self.served += 1
            if self.served >= BEFORE_KILL:
                self.warm.set()
            if type(d) is LocalDecision and d.allowed:
                self.local_allowed += 1
            if started == ended == "down":  # Redis was dead for the whole call
                self.outage += 1
                if redis or not self._follows_mode(d):
                    self.wrong.append((started, d))
                if self.outage >= DURING_OUTAGE:
                    self.failing.set()
            elif started == "back" and redis:
                self.recovered.set()

    def _follows_mode(self, d: Decision) -> bool:
        if self.fail_mode == "open":
            return d == OPEN
        if self.fail_mode == "closed":
            return not d.allowed and 0.0 <= d.retry_after <= RETRY
        return type(d) is LocalDecision


def make_backend(server: RedisServer, fail_mode: str) -> RedisBackend:
    """A backend on ``server`` with a short breaker wait and a tagging local fallback."""
    backend = RedisBackend.from_url(server.url, fail_mode=fail_mode, retry_interval=RETRY)
    backend.local = TaggingMemoryBackend()
    return backend


def check(run: Run, backend: RedisBackend) -> None:
    """The assertions every variant shares, after the run stopped."""
    assert [] == run.errors
    assert [] == run.wrong[:5]
    assert run.failing.is_set(), "too few fail-mode decisions seen while Redis was dead"
    assert run.recovered.is_set(), "Redis never decided again after its restart"
    if run.fail_mode == "local":
        assert BURST["local"] == run.local_allowed  # one in-process limiter: its burst
    assert CircuitState.CLOSED == backend.breaker.state
    assert backend.healthy


def orchestrate(server: RedisServer, run: Run, wait: float) -> None:
    """Kill Redis after the first decisions, restart it once the fail mode answered."""
    assert run.warm.wait(wait)
    server.kill()  # SIGKILL, reaped: from here on nothing answers on the port
    run.phase = "down"
    assert run.failing.wait(wait)
    run.phase = "restarting"
    server.start()  # same port, empty; returns once it answers PING
    run.phase = "back"
    assert run.recovered.wait(wait)


@pytest.mark.parametrize("fail_mode", ["open", "closed", "local"])
def test_threads_ride_through_a_kill(own_server: RedisServer, fail_mode: str) -> None:
    """4 threads hammering gcra across a SIGKILL: fail mode, no exception, then Redis."""
    backend = make_backend(own_server, fail_mode)
    run = Run(fail_mode)
    request = ("hot", EMISSION_US, BURST[fail_mode] * EMISSION_US, 1)
    stop_at = time.monotonic() + DEADLINE

    def worker() -> None:
        try:
            while not run.stop.is_set() and time.monotonic() < stop_at:
                started = run.phase
                run.record(started, backend.gcra(*request))
        except BaseException as exc:  # the test asserts none escaped
            run.errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    try:
        orchestrate(own_server, run, DEADLINE)
    finally:
        run.stop.set()
        for t in threads:
            t.join(timeout=DEADLINE)
    after = [backend.gcra(*request) for _ in range(5)]
    backend.close()
    check(run, backend)
    assert all(from_redis(fail_mode, d) for d in after)


@pytest.mark.parametrize("fail_mode", ["open", "closed", "local"])
def test_tasks_ride_through_a_kill(own_server: RedisServer, fail_mode: str) -> None:
    """Many autopipelined agcra tasks across a SIGKILL: fail mode, no exception, then Redis."""
    backend = make_backend(own_server, fail_mode)
    run = Run(fail_mode)
    request = ("hot", EMISSION_US, BURST[fail_mode] * EMISSION_US, 1)

    async def main() -> list[Decision]:
        stop_at = time.monotonic() + DEADLINE

        async def task() -> None:
            try:
                while not run.stop.is_set() and time.monotonic() < stop_at:
                    started = run.phase
                    run.record(started, await backend.agcra(*request))
            except BaseException as exc:  # the test asserts none escaped
                run.errors.append(exc)

        tasks = [asyncio.create_task(task()) for _ in range(TASKS)]
        try:
            await asyncio.to_thread(orchestrate, own_server, run, DEADLINE)
        finally:
            run.stop.set()
            await asyncio.gather(*tasks)
        after = [await backend.agcra(*request) for _ in range(5)]
        await backend.aclose()
        return after

    after = asyncio.run(main())
    check(run, backend)
    assert all(from_redis(fail_mode, d) for d in after)
