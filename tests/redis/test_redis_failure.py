"""Redis failing is a decided case: the fail mode answers, nothing leaks, recovery is automatic."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Coroutine
from typing import Any

import pytest
from redis.client import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis_engine import RedisServer, free_port

from reliant.redis import RedisBackend
from reliant.redis.backend import UNEXPECTED_LOG_INTERVAL
from reliant.resilience.breaker_state import CircuitState
from reliant.resilience.ratelimit import Decision
from reliant.testing import VirtualClock

#: One request per minute, burst 2.
REQUEST = ("k", 60_000_000, 120_000_000, 1)
OPEN = Decision(True, 0, 0.0, 0.0)


def _once(backend: RedisBackend, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run one async call on a fresh loop, closing the loop-bound client after it."""

    async def main() -> Any:
        try:
            return await coro
        finally:
            await backend.aclose()

    return asyncio.run(main())


def decide(backend: RedisBackend, mode: str) -> Decision:
    """One GCRA decision for REQUEST through the sync or the asyncio method."""
    if mode == "sync":
        return backend.gcra(*REQUEST)
    return _once(backend, backend.agcra(*REQUEST))  # type: ignore[no-any-return]


def decide_many(backend: RedisBackend, mode: str) -> list[Decision]:
    """A batch of two REQUESTs through the sync or the asyncio method."""
    if mode == "sync":
        return backend.gcra_many([REQUEST, REQUEST])
    return _once(backend, backend.agcra_many([REQUEST, REQUEST]))  # type: ignore[no-any-return]


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" (")[0] for r in caplog.records if r.name == "reliant.redis"]


@pytest.mark.parametrize("fail_mode", ["open", "closed", "local"])
def test_killing_redis_gives_the_fail_mode_then_recovers(
    own_server: RedisServer, mode: str, fail_mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed mid-run: fail-mode decisions, no exception, one log line; back when Redis is."""
    caplog.set_level(logging.WARNING, logger="reliant.redis")
    clock = VirtualClock()
    backend = RedisBackend.from_url(
        own_server.url,
        fail_mode=fail_mode,
        clock=clock,
        retry_interval=5.0,  # type: ignore[arg-type]
    )
    assert [True, True, False] == [decide(backend, mode).allowed for _ in range(3)]
    own_server.kill()
    during = [decide(backend, mode) for _ in range(6)] + decide_many(backend, mode)
    if fail_mode == "open":
        assert [OPEN] * 8 == during
    elif fail_mode == "closed":
        assert [False] * 8 == [d.allowed for d in during]
        assert all(0 < d.retry_after <= 5.0 for d in during)
    else:  # a fresh in-process limiter: its own burst of 2, then denials
        assert [True, True] + [False] * 6 == [d.allowed for d in during]
    assert CircuitState.OPEN == backend.breaker.state
    assert not backend.healthy

    own_server.start()  # same port, empty (no persistence)
    clock.advance(5.1)  # the breaker lets one trial call through
    assert Decision(True, 1, 0.0, 60.0) == decide(backend, mode)
    assert backend.healthy
    assert [True, False] == [d.allowed for d in decide_many(backend, mode)]
    assert [
        "reliant.redis: Redis unavailable",
        "reliant.redis: Redis answers again; deciding in Redis",
    ] == _messages(caplog)


def test_an_unreachable_redis_never_raises(mode: str) -> None:
    """With nothing listening, every call is answered by the fail mode, quickly."""
    backend = RedisBackend.from_url(f"redis://127.0.0.1:{free_port()}/0", fail_mode="open")
    assert [OPEN] * 5 == [decide(backend, mode) for _ in range(5)]
    assert [OPEN, OPEN] == decide_many(backend, mode)
    assert CircuitState.OPEN == backend.breaker.state


def test_fail_closed_denies_with_the_breaker_wait(mode: str) -> None:
    """Fail-closed denies; once the breaker is open retry_after is its remaining open time."""
    clock = VirtualClock()
    url = f"redis://127.0.0.1:{free_port()}/0"
    backend = RedisBackend.from_url(url, fail_mode="closed", retry_interval=2.0, clock=clock)
    for _ in range(3):
        decide(backend, mode)
    clock.advance(0.5)
    assert Decision(False, 0, 1.5, 1.5) == decide(backend, mode)


# -- interrupted calls, unexpected errors, event loops, URLs -------------------------------


class Interrupted(BaseException):
    """Something that is not an Exception stopped the call (as KeyboardInterrupt would)."""


#: What the fakes answer in "ok" mode: allowed, 5 left.
FROM_REDIS = Decision(True, 5, 0.0, 0.0)


class FakeRedis:
    """A sync client: fails, raises ``error``, or answers [1, 5, 0, 0]."""

    def __init__(self) -> None:
        self.mode = "fail"
        self.error: BaseException = RuntimeError("Event loop is closed")

    def execute_command(self, *args: Any) -> list[int]:
        if self.mode == "fail":
            raise RedisConnectionError("down")
        if self.mode == "raise":
            raise self.error
        return [1, 5, 0, 0]

    def script_load(self, script: str) -> None:
        """Nothing to load."""

    def pipeline(self, transaction: bool = False) -> FakePipeline:
        return FakePipeline(self)


class FakePipeline:
    """A pipeline of a fake client: runs the queued commands one by one."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.queued: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any) -> None:
        self.queued.append(args)

    def execute(self, raise_on_error: bool = False) -> list[Any]:
        return [self.owner.execute_command(*args) for args in self.queued]


class FakeAsyncRedis:
    """An asyncio client: fails, raises ``error``, hangs until cancelled, or answers."""

    def __init__(self) -> None:
        self.mode = "fail"
        self.error: BaseException = RuntimeError("Event loop is closed")
        self.started: asyncio.Event | None = None

    async def execute_command(self, *args: Any) -> list[int]:
        if self.started is not None:
            self.started.set()
        if self.mode == "fail":
            raise RedisConnectionError("down")
        if self.mode == "raise":
            raise self.error
        if self.mode == "hang":
            await asyncio.Event().wait()
        return [1, 5, 0, 0]

    async def script_load(self, script: str) -> None:
        """Nothing to load."""

    def pipeline(self, transaction: bool = False) -> FakeAsyncPipeline:
        return FakeAsyncPipeline(self)


class FakeAsyncPipeline(FakePipeline):
    """The asyncio pipeline of a fake client."""

    async def execute(self, raise_on_error: bool = False) -> list[Any]:  # type: ignore[override]
        return [await self.owner.execute_command(*args) for args in self.queued]


def fake_backend(mode: str, clock: VirtualClock) -> tuple[RedisBackend, Any]:
    """A fail-closed backend over a fake client (sync or asyncio), and that client."""
    if mode == "sync":
        fake: Any = FakeRedis()
        return RedisBackend(fake, fail_mode="closed", clock=clock), fake
    fake = FakeAsyncRedis()
    backend = RedisBackend(aclient=fake, autopipeline=False, fail_mode="closed", clock=clock)
    return backend, fake


def call(backend: RedisBackend, mode: str, batch: bool) -> list[Decision]:
    """One decision (or a batch of one) through the sync or the asyncio method."""
    if mode == "sync":
        return backend.gcra_many([REQUEST]) if batch else [backend.gcra(*REQUEST)]

    async def main() -> list[Decision]:
        return await backend.agcra_many([REQUEST]) if batch else [await backend.agcra(*REQUEST)]

    return asyncio.run(main())


def interrupt_trial(backend: RedisBackend, fake: Any, mode: str, batch: bool) -> None:
    """Start the breaker's trial call and stop it midway: Interrupted, or cancelled."""
    if mode == "sync":
        fake.mode, fake.error = "raise", Interrupted()
        with pytest.raises(Interrupted):
            call(backend, mode, batch)
        return
    fake.mode = "hang"

    async def main() -> None:
        fake.started = asyncio.Event()
        work = backend.agcra_many([REQUEST]) if batch else backend.agcra(*REQUEST)
        task = asyncio.ensure_future(work)
        await fake.started.wait()  # the trial reached Redis
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_an_interrupted_trial_call_does_not_keep_the_breaker_half_open(
    mode: str, batch: bool
) -> None:
    """A trial call cancelled while Redis recovers frees its permit: Redis is used again."""
    clock = VirtualClock()
    backend, fake = fake_backend(mode, clock)
    for _ in range(3):
        call(backend, mode, batch)
    assert CircuitState.OPEN == backend.breaker.state
    clock.advance(1.5)  # past retry_interval: the next call is the trial
    interrupt_trial(backend, fake, mode, batch)
    fake.mode = "ok"
    assert [[FROM_REDIS], CircuitState.CLOSED, True] == [
        call(backend, mode, batch),
        backend.breaker.state,
        backend.healthy,
    ]


def test_an_unexpected_client_error_is_a_redis_failure(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A RuntimeError from the client gives the fail mode, opens the breaker, logs rarely."""
    caplog.set_level(logging.WARNING, logger="reliant.redis")
    clock = VirtualClock()
    backend, fake = fake_backend(mode, clock)
    fake.mode = "raise"
    during = [call(backend, mode, batch) for batch in (False, True, False, True)]
    assert [[False]] * 4 == [[d.allowed for d in ds] for ds in during]
    assert CircuitState.OPEN == backend.breaker.state
    clock.advance(UNEXPECTED_LOG_INTERVAL)  # the breaker's trial fails the same way
    assert [False] == [d.allowed for d in call(backend, mode, False)]
    unexpected = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert [2, RuntimeError] == [len(unexpected), type(unexpected[0].exc_info[1])]  # type: ignore[index]


@pytest.mark.parametrize("autopipeline", [False, True])
def test_a_backend_reused_across_event_loops_keeps_using_redis(
    server: RedisServer, client: Redis, autopipeline: bool
) -> None:
    """Successive asyncio.run calls get a client of their own loop: both decide in Redis."""
    backend = RedisBackend.from_url(
        server.url,
        fail_mode="closed",
        autopipeline=autopipeline,
        connect_timeout=2.0,  # not the subject here: a GC pause must not fail it
        read_timeout=2.0,
    )

    async def one(close: bool) -> Decision:
        decision = await backend.agcra(*REQUEST)
        if close:
            await backend.aclose()
        return decision

    with warnings.catch_warnings():
        # The first loop's connections end unclosed with their loop (no aclose there).
        warnings.simplefilter("ignore", ResourceWarning)
        decisions = [asyncio.run(one(False)), asyncio.run(one(True))]
        gc.collect()
    assert [[True, 1], [True, 0], True] == [
        *([d.allowed, d.remaining] for d in decisions),
        backend.healthy,
    ]


@pytest.mark.parametrize("url", ["redis//127.0.0.1:6379", "redis://h:port/0", "http://h/", 42])
def test_a_bad_url_is_refused_at_construction(url: Any) -> None:
    """A URL redis-py cannot parse is a ValueError naming the option, before any call."""
    with pytest.raises(ValueError, match="RedisBackend: url must"):
        RedisBackend.from_url(url)
