"""Tests for reliant.resilience.bulkhead: one slot counter for threads and tasks."""

from __future__ import annotations

import asyncio
import math
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from reliant._core.deadline import deadline_scope
from reliant._core.events import Event, subscribe
from reliant.exceptions import BulkheadFullError, RejectedError
from reliant.resilience.bulkhead import (
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_WAIT,
    Bulkhead,
    BulkheadOptions,
)
from reliant.testing import VirtualClock, capture_events

JOIN = 30.0  # a bound on waits for threads, never reached when the code is right


class ReadSignal(VirtualClock):
    """A VirtualClock that reports its first read once armed.

    A thread waiting inside ``deadline_scope(..., ReadSignal())`` reads this clock
    while the bulkhead holds its lock to enqueue it, so the signal tells another
    thread, without sleeping, that the waiter is (about to be) in the queue.
    """

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.read = threading.Event()
        self.on_read: Callable[[], None] | None = None

    def now(self) -> float:
        if self.armed and not self.read.is_set():
            self.read.set()
            if self.on_read is not None:
                self.on_read()
        return super().now()


# -- drivers: the same behaviour exercised with threads and with tasks ------------------


class SyncDriver:
    """Holds slots with threads blocked on Events; attempts run on the test's thread."""

    mode = "sync"

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.bulkhead = Bulkhead()
        self.holders: list[tuple[threading.Thread, threading.Event]] = []

    def make(self, max_concurrent: int = 1, max_wait: float = 0.0, name: str = "") -> Bulkhead:
        self.bulkhead = Bulkhead(
            max_concurrent=max_concurrent, max_wait=max_wait, name=name, clock=self.clock
        )
        return self.bulkhead

    def hold(self, n: int = 1) -> None:
        """Occupy ``n`` slots until released."""
        for _ in range(n):
            entered, release = threading.Event(), threading.Event()

            def block(
                entered: threading.Event = entered, release: threading.Event = release
            ) -> None:
                entered.set()
                release.wait(JOIN)

            thread = threading.Thread(target=self.bulkhead.call, args=(block,), daemon=True)
            thread.start()
            assert entered.wait(JOIN)
            self.holders.append((thread, release))

    def release(self) -> None:
        """Let the oldest holder finish."""
        thread, release = self.holders.pop(0)
        release.set()
        thread.join(JOIN)

    def attempt(
        self,
        result: Any = "ok",
        *,
        error: BaseException | None = None,
        release_while_waiting: bool = False,
        deadline: float | None = None,
        inside: Callable[[], None] | None = None,
    ) -> Any:
        """Make one call now; optionally free a held slot once this call is queued."""

        def work() -> Any:
            if inside is not None:
                inside()
            if error is not None:
                raise error
            return result

        if not release_while_waiting:
            if deadline is None:
                return self.bulkhead.call(work)
            with deadline_scope(deadline, self.clock):
                return self.bulkhead.call(work)
        signal = ReadSignal()
        _, release = self.holders[0]
        signal.on_read = release.set
        with deadline_scope(3600.0, signal):
            signal.armed = True
            try:
                return self.bulkhead.call(work)
            finally:
                self.holders.pop(0)[0].join(JOIN)

    def close(self) -> None:
        while self.holders:
            self.release()


class AsyncDriver:
    """Holds slots with tasks on a virtual-time loop; attempts run to completion on it."""

    mode = "async"

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.loop = self.clock.new_event_loop()
        self.bulkhead = Bulkhead()
        self.holders: list[tuple[asyncio.Task[Any], asyncio.Event]] = []

    def make(self, max_concurrent: int = 1, max_wait: float = 0.0, name: str = "") -> Bulkhead:
        self.bulkhead = Bulkhead(
            max_concurrent=max_concurrent, max_wait=max_wait, name=name, clock=self.clock
        )
        return self.bulkhead

    def settle(self) -> None:
        """Run every ready callback without letting virtual time pass."""

        async def spin() -> None:
            for _ in range(10):
                await asyncio.sleep(0)

        self.loop.run_until_complete(spin())

    def hold(self, n: int = 1) -> None:
        for _ in range(n):
            entered, release = asyncio.Event(), asyncio.Event()

            async def block(
                entered: asyncio.Event = entered, release: asyncio.Event = release
            ) -> None:
                entered.set()
                await release.wait()

            task = self.loop.create_task(self.bulkhead.acall(block))
            self.loop.run_until_complete(entered.wait())
            self.holders.append((task, release))

    def release(self) -> None:
        task, release = self.holders.pop(0)
        release.set()
        self.loop.run_until_complete(task)

    def attempt(
        self,
        result: Any = "ok",
        *,
        error: BaseException | None = None,
        release_while_waiting: bool = False,
        deadline: float | None = None,
        inside: Callable[[], None] | None = None,
    ) -> Any:
        async def work() -> Any:
            if inside is not None:
                inside()
            if error is not None:
                raise error
            return result

        async def main() -> Any:
            if release_while_waiting:
                task, release = self.holders.pop(0)
                self.loop.call_later(0.5, release.set)
                try:
                    return await self.bulkhead.acall(work)
                finally:
                    await task
            if deadline is None:
                return await self.bulkhead.acall(work)
            with deadline_scope(deadline, self.clock):
                return await self.bulkhead.acall(work)

        return self.loop.run_until_complete(main())

    def close(self) -> None:
        while self.holders:
            self.release()
        self.loop.close()


Driver = SyncDriver | AsyncDriver


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    """A bulkhead driver for threads (sync) or tasks on a virtual loop (async)."""
    d: Driver = SyncDriver() if request.param == "sync" else AsyncDriver()
    yield d
    d.close()
    assert 0 == d.bulkhead.inflight


# -- behaviour shared by both drivers ---------------------------------------------------


def test_call_under_capacity_runs_and_returns(driver: Driver) -> None:
    """With a free slot the call runs at once and its result is returned."""
    b = driver.make(max_concurrent=2)
    seen: list[int] = []
    assert "ok" == driver.attempt(inside=lambda: seen.append(b.inflight))
    assert [1] == seen
    assert (0, 2) == (b.inflight, b.available)


def test_full_with_no_wait_rejects_at_once(driver: Driver) -> None:
    """With every slot busy and max_wait=0, a call is rejected without running."""
    b = driver.make(max_concurrent=2, max_wait=0.0, name="db")
    driver.hold(2)
    ran: list[bool] = []
    with capture_events(kinds=["bulkhead"]) as events, pytest.raises(BulkheadFullError) as info:
        driver.attempt(inside=lambda: ran.append(True))
    assert [] == ran
    assert isinstance(info.value, RejectedError)
    assert ("db", None) == (info.value.policy, info.value.retry_after)
    assert [("bulkhead.rejected", "db", {"max_concurrent": 2, "waited": 0.0})] == [
        (e.kind, e.policy, dict(e.attributes)) for e in events
    ]
    assert (2, 0) == (b.inflight, b.available)
    assert 0.0 == driver.clock.now()


def test_waiting_caller_admitted_when_a_slot_frees(driver: Driver) -> None:
    """A caller that waits is admitted as soon as a held slot is released."""
    b = driver.make(max_concurrent=1, max_wait=30.0)
    driver.hold(1)
    seen: list[int] = []
    assert "in" == driver.attempt(
        "in", release_while_waiting=True, inside=lambda: seen.append(b.inflight)
    )
    assert [1] == seen
    assert 0 == b.inflight


def test_wait_that_runs_out_rejects(driver: Driver) -> None:
    """A caller still without a slot when max_wait runs out gets BulkheadFullError."""
    b = driver.make(max_concurrent=1, max_wait=0.05, name="w")
    driver.hold(1)
    with capture_events(kinds=["bulkhead.rejected"]) as events, pytest.raises(BulkheadFullError):
        driver.attempt()
    assert [0.05] == [e.attributes["waited"] for e in events]
    assert 1 == b.inflight
    driver.release()
    assert "ok" == driver.attempt()  # the timed-out waiter left nothing behind


def test_passed_deadline_rejects_at_once_despite_max_wait(driver: Driver) -> None:
    """A deadline that has already passed shortens max_wait to nothing."""
    driver.make(max_concurrent=1, max_wait=30.0)
    driver.hold(1)
    with capture_events(kinds=["bulkhead.rejected"]) as events, pytest.raises(BulkheadFullError):
        driver.attempt(deadline=0.0)
    assert [0.0] == [e.attributes["waited"] for e in events]


def test_error_in_call_frees_the_slot(driver: Driver) -> None:
    """A call that raises passes its error on and gives its slot back."""
    b = driver.make(max_concurrent=1)
    error = OSError("disk")
    with pytest.raises(OSError) as info:
        driver.attempt(error=error)
    assert error is info.value
    assert (0, 1) == (b.inflight, b.available)


def test_slot_freed_after_holders_finish(driver: Driver) -> None:
    """Released holders give their slots back; a later call is admitted."""
    b = driver.make(max_concurrent=3)
    driver.hold(3)
    assert (3, 0) == (b.inflight, b.available)
    driver.release()
    assert (2, 1) == (b.inflight, b.available)
    assert "ok" == driver.attempt()
    driver.close()
    assert (0, 3) == (b.inflight, b.available)


# -- asyncio specifics (virtual time) ---------------------------------------------------


def test_async_wait_times_out_in_virtual_time() -> None:
    """A task waiting with max_wait=5 is rejected at virtual t=5."""
    clock = VirtualClock()
    b = Bulkhead(max_concurrent=1, max_wait=5.0, clock=clock)

    async def main() -> float:
        gate = asyncio.Event()
        holder = asyncio.create_task(b.acall(gate.wait))
        await asyncio.sleep(0)
        try:
            await b.acall(asyncio.sleep, 0)
        except BulkheadFullError:
            return clock.now()
        finally:
            gate.set()
            await holder
        return -1.0

    assert 5.0 == clock.run(main())
    assert 0 == b.inflight


def test_async_deadline_shortens_the_wait() -> None:
    """Inside a Timeout-style deadline of 1 s, max_wait=5 becomes a 1 s wait."""
    clock = VirtualClock()
    b = Bulkhead(max_concurrent=1, max_wait=5.0, clock=clock)

    async def main() -> float:
        gate = asyncio.Event()
        holder = asyncio.create_task(b.acall(gate.wait))
        await asyncio.sleep(0)
        try:
            with deadline_scope(1.0, clock):
                await b.acall(asyncio.sleep, 0)
        except BulkheadFullError:
            return clock.now()
        finally:
            gate.set()
            await holder
        return -1.0

    assert 1.0 == clock.run(main())


def test_async_slots_handed_over_in_arrival_order() -> None:
    """Waiting tasks get freed slots first-in first-out, each when one frees."""
    clock = VirtualClock()
    b = Bulkhead(max_concurrent=1, max_wait=100.0, clock=clock)
    admitted: list[tuple[str, float]] = []

    async def job(tag: str, duration: float) -> None:
        admitted.append((tag, clock.now()))
        await asyncio.sleep(duration)

    async def main() -> None:
        tasks = [asyncio.create_task(b.acall(job, "holder", 2.0))]
        for tag in ("a", "b", "c"):
            await asyncio.sleep(0.1)
            tasks.append(asyncio.create_task(b.acall(job, tag, 1.0)))
        await asyncio.gather(*tasks)

    clock.run(main())
    assert [("holder", 0.0), ("a", 2.0), ("b", 3.0), ("c", 4.0)] == admitted
    assert 0 == b.inflight


def test_async_handed_over_slot_cannot_be_taken_by_a_newcomer() -> None:
    """While a slot is handed to a waiter, a newcomer finds the bulkhead still full."""
    clock = VirtualClock()
    b = Bulkhead(max_concurrent=1, max_wait=10.0, clock=clock)
    order: list[str] = []

    async def mark(tag: str) -> None:
        order.append(tag)

    async def holder_then_newcomer(gate: asyncio.Event) -> int:
        await b.acall(gate.wait)
        # Released a moment ago; the waiter has not resumed yet.
        inflight_at_release = b.inflight
        await b.acall(mark, "newcomer")
        return inflight_at_release

    async def main() -> int:
        gate = asyncio.Event()
        holder = asyncio.create_task(holder_then_newcomer(gate))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(b.acall(mark, "waiter"))
        await asyncio.sleep(0)
        gate.set()
        inflight_at_release, _ = await asyncio.gather(holder, waiter)
        return inflight_at_release

    assert 1 == clock.run(main())
    assert ["waiter", "newcomer"] == order
    assert 0 == b.inflight


def test_async_cancelled_waiter_does_not_leak_a_slot() -> None:
    """Cancelling a waiting task removes it; the freed slot goes to the next waiter."""
    clock = VirtualClock()
    b = Bulkhead(max_concurrent=1, max_wait=10.0, clock=clock)
    ran: list[str] = []

    async def mark(tag: str) -> None:
        ran.append(tag)

    async def main() -> tuple[int, int]:
        gate = asyncio.Event()
        holder = asyncio.create_task(b.acall(gate.wait))
        await asyncio.sleep(0)
        doomed = asyncio.create_task(b.acall(mark, "doomed"))
        survivor = asyncio.create_task(b.acall(mark, "survivor"))
        await asyncio.sleep(0)
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        gate.set()
        await asyncio.gather(holder, survivor)
        return b.inflight, b.available

    assert (0, 1) == clock.run(main())
    assert ["survivor"] == ran


def test_async_cancelled_after_grant_passes_the_slot_on() -> None:
    """A waiter cancelled just after its slot arrived hands the slot on, not away."""
    clock = VirtualClock()
    b = Bulkhead(max_concurrent=1, max_wait=10.0, clock=clock)
    ran: list[str] = []

    async def mark(tag: str) -> None:
        ran.append(tag)

    async def holder_then_cancel(gate: asyncio.Event, victim: list[asyncio.Task[None]]) -> bool:
        await b.acall(gate.wait)
        # The slot has just been handed to the victim, which has not resumed yet.
        return victim[0].cancel()

    async def main() -> int:
        gate = asyncio.Event()
        victim: list[asyncio.Task[None]] = []
        holder = asyncio.create_task(holder_then_cancel(gate, victim))
        await asyncio.sleep(0)
        victim.append(asyncio.create_task(b.acall(mark, "first")))
        second = asyncio.create_task(b.acall(mark, "second"))
        await asyncio.sleep(0)
        gate.set()
        assert await holder
        with pytest.raises(asyncio.CancelledError):
            await victim[0]
        await second
        return b.inflight

    assert 0 == clock.run(main())
    assert ["second"] == ran


@pytest.mark.parametrize("spins", range(8))
def test_async_cancellation_racing_the_grant_is_honoured(spins: int) -> None:
    """However a cancel interleaves with the hand-over, an accepted cancel wins."""
    clock = VirtualClock()
    b = Bulkhead(max_concurrent=1, max_wait=10.0, clock=clock)
    ran: list[str] = []

    async def mark(tag: str) -> None:
        ran.append(tag)

    async def main() -> tuple[bool, bool]:
        gate = asyncio.Event()
        holder = asyncio.create_task(b.acall(gate.wait))
        await asyncio.sleep(0)
        victim = asyncio.create_task(b.acall(mark, "victim"))
        second = asyncio.create_task(b.acall(mark, "second"))
        await asyncio.sleep(0)
        gate.set()
        for _ in range(spins):
            await asyncio.sleep(0)
        accepted = victim.cancel()
        await asyncio.gather(holder, victim, second, return_exceptions=True)
        return accepted, victim.cancelled()

    accepted, cancelled = clock.run(main())
    assert accepted == cancelled
    assert ("victim" in ran) == (not accepted)
    assert "second" == ran[-1]
    assert 0 == b.inflight


def test_async_cancelled_during_call_frees_the_slot() -> None:
    """Cancelling a task that holds a slot gives the slot back."""
    clock = VirtualClock()
    b = Bulkhead(max_concurrent=1, clock=clock)

    async def main() -> int:
        task = asyncio.create_task(b.acall(asyncio.sleep, 100))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return b.inflight

    assert 0 == clock.run(main())


# -- threads specifics ------------------------------------------------------------------


def test_threads_served_in_arrival_order() -> None:
    """Waiting threads are admitted first-in first-out when slots free."""
    b = Bulkhead(max_concurrent=1, max_wait=JOIN)
    holder = SyncDriver()
    holder.bulkhead = b
    holder.hold(1)
    order: list[str] = []
    threads: list[threading.Thread] = []
    for tag in ("a", "b", "c"):
        clock = ReadSignal()

        def wait_in_line(tag: str = tag, clock: ReadSignal = clock) -> None:
            with deadline_scope(3600.0, clock):
                clock.armed = True
                b.call(order.append, tag)

        thread = threading.Thread(target=wait_in_line)
        thread.start()
        assert clock.read.wait(JOIN)  # queued before the next one starts
        threads.append(thread)
    holder.release()
    for thread in threads:
        thread.join(JOIN)
    assert ["a", "b", "c"] == order
    assert 0 == b.inflight


def test_threads_many_callers_never_exceed_the_limit() -> None:
    """Under contention from many threads the limit holds and every slot returns."""
    b = Bulkhead(max_concurrent=3, max_wait=JOIN)
    threads_n, calls = 8, 200
    barrier = threading.Barrier(threads_n)
    peak: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        with lock:
            peak.append(b.inflight)

    def run() -> None:
        barrier.wait()
        for _ in range(calls):
            b.call(work)

    threads = [threading.Thread(target=run) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN)
    assert threads_n * calls == len(peak)
    assert max(peak) <= 3
    assert (0, 3) == (b.inflight, b.available)


def test_thread_and_task_share_one_counter() -> None:
    """A slot held by a thread is handed to a task waiting on an event loop."""
    b = Bulkhead(max_concurrent=1, max_wait=JOIN)
    holder = SyncDriver()
    holder.bulkhead = b
    holder.hold(1)

    async def main() -> str:
        async def work() -> str:
            return f"admitted with inflight={b.inflight}"

        task = asyncio.create_task(b.acall(work))
        await asyncio.sleep(0)  # the task is now queued
        assert 1 == b.inflight
        holder.release()
        return await task

    assert "admitted with inflight=1" == asyncio.run(main())
    assert 0 == b.inflight


def test_task_slot_released_to_a_waiting_thread() -> None:
    """A slot held by a task and freed on its loop is handed to a waiting thread."""
    b = Bulkhead(max_concurrent=1, max_wait=JOIN)
    signal = ReadSignal()
    got: list[str] = []

    def wait_in_line() -> None:
        with deadline_scope(3600.0, signal):
            signal.armed = True
            got.append(b.call(lambda: "thread admitted"))

    async def main() -> None:
        gate = asyncio.Event()
        holder = asyncio.create_task(b.acall(gate.wait))
        await asyncio.sleep(0)
        thread = threading.Thread(target=wait_in_line)
        thread.start()
        await asyncio.to_thread(signal.read.wait, JOIN)
        gate.set()
        await holder
        await asyncio.to_thread(thread.join, JOIN)

    asyncio.run(main())
    assert ["thread admitted"] == got
    assert 0 == b.inflight


def test_listener_may_call_the_bulkhead() -> None:
    """A bulkhead.rejected listener runs outside the bulkhead's lock and may call it."""
    b = Bulkhead(max_concurrent=1, name="re")
    holder = SyncDriver()
    holder.bulkhead = b
    holder.hold(1)
    seen: list[str] = []

    def listener(event: Event) -> None:
        if seen:  # only the first rejection calls back in
            return
        seen.append("listener")
        try:
            b.call(lambda: None)
        except BulkheadFullError:
            seen.append("listener rejected too")

    def reject_once() -> None:
        with subscribe(listener, kinds=["bulkhead.rejected"], policy="re"):
            try:
                b.call(lambda: None)
            except BulkheadFullError:
                seen.append("rejected")

    worker = threading.Thread(target=reject_once, daemon=True)
    worker.start()
    worker.join(JOIN)
    finished = not worker.is_alive()
    holder.release()
    assert finished
    assert ["listener", "listener rejected too", "rejected"] == seen


# -- accounting under arbitrary interleavings (Hypothesis) ------------------------------


class AsyncBulkheadMachine(RuleBasedStateMachine):
    """Tasks enter, finish, give up and get cancelled; the slot count stays exact."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.loop = self.clock.new_event_loop()
        self.limit = 2
        self.bulkhead = Bulkhead(max_concurrent=self.limit, max_wait=3.0, clock=self.clock)
        self.running = 0
        self.tasks: list[tuple[asyncio.Task[Any], asyncio.Event]] = []

    def settle(self) -> None:
        async def spin() -> None:
            for _ in range(50):
                await asyncio.sleep(0)

        self.loop.run_until_complete(spin())

    async def job(self, gate: asyncio.Event) -> None:
        self.running += 1
        try:
            await gate.wait()
        finally:
            self.running -= 1

    def live(self) -> list[tuple[asyncio.Task[Any], asyncio.Event]]:
        return [(t, g) for t, g in self.tasks if not t.done()]

    @rule()
    def start(self) -> None:
        gate = asyncio.Event()
        task = self.loop.create_task(self.bulkhead.acall(self.job, gate))
        self.tasks.append((task, gate))
        self.settle()

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        _, gate = data.draw(st.sampled_from(self.live()))
        gate.set()
        self.settle()

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        task, _ = data.draw(st.sampled_from(self.live()))
        task.cancel()
        self.settle()

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0]))
    def advance(self, seconds: float) -> None:
        self.loop.run_until_complete(asyncio.sleep(seconds))
        self.settle()

    @invariant()
    def slots_match_running_calls(self) -> None:
        assert self.running == self.bulkhead.inflight
        assert self.limit - self.running == self.bulkhead.available
        assert 0 <= self.running <= self.limit

    @invariant()
    def nobody_waits_while_a_slot_is_free(self) -> None:
        waiting = len(self.live()) - self.running
        assert waiting == 0 or self.running == self.limit

    def teardown(self) -> None:
        for _, gate in self.tasks:
            gate.set()
        tasks = [task for task, _ in self.tasks]

        async def drain() -> None:
            # Rejections and cancellations are expected outcomes here.
            await asyncio.gather(*tasks, return_exceptions=True)

        self.loop.run_until_complete(drain())
        assert (0, self.limit) == (self.bulkhead.inflight, self.bulkhead.available)
        self.loop.close()


TestAsyncBulkheadMachine = AsyncBulkheadMachine.TestCase
TestAsyncBulkheadMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


# -- options -----------------------------------------------------------------------------


def test_defaults() -> None:
    """Defaults are 10 slots and no waiting, as documented."""
    b = Bulkhead()
    assert (10, 0.0) == (DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_WAIT)
    assert BulkheadOptions(max_concurrent=10, max_wait=0.0) == b.options
    assert (0, 10) == (b.inflight, b.available)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3", None])
def test_invalid_max_concurrent(bad: object) -> None:
    """max_concurrent must be an integer >= 1."""
    with pytest.raises(ValueError, match="Bulkhead: max_concurrent must be an integer >= 1"):
        Bulkhead(max_concurrent=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-0.1, math.inf, math.nan, "1", True])
def test_invalid_max_wait(bad: object) -> None:
    """max_wait must be a finite number >= 0."""
    with pytest.raises(ValueError, match="Bulkhead: max_wait must be a"):
        Bulkhead(max_wait=bad)  # type: ignore[arg-type]


def test_describe() -> None:
    """describe() reports kind, name and options."""
    assert {"kind": "Bulkhead", "name": "pool", "max_concurrent": 4, "max_wait": 0.5} == (
        Bulkhead(max_concurrent=4, max_wait=0.5, name="pool").describe()
    )


def test_threads_hammering_with_waits_are_all_admitted_and_no_slot_is_lost() -> None:
    """8 threads x 300 calls through 2 slots with a generous wait: none rejected, none stranded."""
    bulkhead = Bulkhead(max_concurrent=2, max_wait=30.0)
    active = 0
    peak = 0
    guard = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        with guard:
            active -= 1

    def caller() -> None:
        try:
            for _ in range(300):
                bulkhead.call(work)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: more interleavings
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert [] == errors
    assert peak <= 2
    assert 2 == bulkhead.available
    assert 0 == bulkhead.inflight
