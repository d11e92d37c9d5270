"""Bulkhead: cap how many calls run at once, with a bounded wait for a slot.

One slot counter serves threads and tasks alike. The fast path takes a short lock
to count. A caller that must wait joins one first-in-first-out queue — a thread parks
on a lock of its own, a task on a future of its own loop — and a released slot is
handed straight to the oldest waiter, so the count never dips and no newcomer can
overtake the queue.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from reliant._core import validate
from reliant._core.aio import aio
from reliant._core.clock import Clock
from reliant._core.deadline import bounded_wait
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import BulkheadFullError

if TYPE_CHECKING:
    # asyncio is used only where tasks wait for a slot, so sync programs never load it.
    import asyncio

DEFAULT_MAX_CONCURRENT = 10
DEFAULT_MAX_WAIT = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkheadOptions:
    """Validated options of a :class:`Bulkhead`."""

    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    max_wait: float = DEFAULT_MAX_WAIT

    def __post_init__(self) -> None:
        validate.integer("Bulkhead", "max_concurrent", self.max_concurrent)
        validate.non_negative("Bulkhead", "max_wait", self.max_wait)


class _ThreadWaiter:
    """A thread waiting for a slot: it blocks on ``lock``, which a grant releases."""

    __slots__ = ("granted", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.granted = False


_Waiter: TypeAlias = "_ThreadWaiter | asyncio.Future[None]"


class Bulkhead(Policy):
    """Admit at most ``max_concurrent`` calls at once; others wait up to ``max_wait``.

    Args:
        max_concurrent: slots (>= 1).
        max_wait: seconds a caller may wait for a slot; 0 rejects at once when full.
            A current deadline shortens the wait. Threads wait in real time; tasks
            wait on their event loop's clock.
        name: the policy's name in events and telemetry.
        clock: the time source for deadlines and event times.

    Raises:
        BulkheadFullError: when no slot frees within the wait.
    """

    __slots__ = (
        "_free",
        "_give",
        "_lock",
        "_max",
        "_max_wait",
        "_take",
        "_waiters",
        "options",
    )

    def __init__(
        self,
        *,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        max_wait: float = DEFAULT_MAX_WAIT,
        name: str = "",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        self.options = BulkheadOptions(max_concurrent=max_concurrent, max_wait=max_wait)
        self._max = max_concurrent
        self._max_wait = float(max_wait)
        # One token per free slot. list.pop() and list.append() are atomic, so the
        # fast paths take and give slots without a lock; the lock guards only the
        # waiter queue and hand-overs (see _give_back for why that is race-free).
        self._free: list[None] = [None] * max_concurrent
        self._take = self._free.pop
        self._give = self._free.append
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    @property
    def inflight(self) -> int:
        """Calls holding a slot right now (a slot being handed over counts)."""
        return self._max - len(self._free)

    @property
    def available(self) -> int:
        """Free slots right now."""
        return len(self._free)

    def _reject(self, waited: float) -> BulkheadFullError:
        if BUS.active:
            BUS.emit(
                "bulkhead.rejected",
                self.name,
                self.clock.now(),
                {"max_concurrent": self._max, "waited": waited},
            )
        return BulkheadFullError(
            f"{self.name}: all {self._max} slots busy", policy=self.name, retry_after=None
        )

    def _give_back(self) -> None:
        """Return a slot: to the oldest waiter if any, else to the free list.

        Lock-free when nobody waits. A slot is appended first and the waiter queue read
        after; a waiter registers first and tries to take a slot after (both under the
        lock). Whatever the interleaving, either the waiter takes the appended slot or
        this call sees the waiter and hands the slot over in :meth:`_release`.
        """
        self._give(None)
        if self._waiters:
            self._release()

    def _release(self) -> None:
        """Hand a free slot to the oldest waiter that still wants one, if both exist."""
        with self._lock:
            waiters = self._waiters
            while waiters:
                try:
                    self._take()
                except IndexError:  # a caller on the fast path took it first
                    return
                waiter = waiters.popleft()
                if isinstance(waiter, _ThreadWaiter):
                    waiter.granted = True
                    waiter.lock.release()
                    return
                if waiter.done():
                    self._give(None)
                    continue
                loop = waiter.get_loop()
                if loop is aio()._get_running_loop():
                    waiter.set_result(None)  # callbacks run later: no re-entry here
                    return
                try:
                    loop.call_soon_threadsafe(self._grant, waiter)
                except RuntimeError:  # its loop is closed: nobody is left to take it
                    self._give(None)
                    continue
                return

    def _grant(self, waiter: asyncio.Future[None]) -> None:
        """Give a handed-over slot to ``waiter`` (on its loop), or pass it on."""
        if waiter.done():
            self._give_back()
        else:
            waiter.set_result(None)

    # -- sync -------------------------------------------------------------------------

    def _acquire(self) -> None:
        with self._lock:
            wait = bounded_wait(self._max_wait, self.clock)
            waiter = None
            if wait > 0:
                waiter = _ThreadWaiter()
                self._waiters.append(waiter)
            try:  # registered first, then try: see _give_back
                self._take()
            except IndexError:
                pass
            else:
                if waiter is not None:
                    self._waiters.remove(waiter)
                return
        if waiter is None:
            raise self._reject(0.0)
        try:
            waiter.lock.acquire(timeout=wait)
        except BaseException:  # e.g. KeyboardInterrupt: leave the queue, or pass the slot on
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:
                self._give_back()
            raise
        with self._lock:
            if waiter.granted:  # possibly just after the wait ran out: keep it
                return
            self._waiters.remove(waiter)
        raise self._reject(wait)

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        try:
            self._take()
        except IndexError:
            self._acquire()
        try:
            return fn(*args, **kwargs)
        finally:
            self._give(None)
            if self._waiters:
                self._release()

    # -- asyncio ----------------------------------------------------------------------

    async def _aacquire(self) -> None:
        asyncio = aio()
        with self._lock:
            wait = bounded_wait(self._max_wait, self.clock)
            future = None
            if wait > 0:
                future = asyncio.get_running_loop().create_future()
                self._waiters.append(future)
            try:  # registered first, then try: see _give_back
                self._take()
            except IndexError:
                pass
            else:
                if future is not None:
                    self._waiters.remove(future)
                return
        if future is None:
            raise self._reject(0.0)
        try:
            # asyncio.timeout rather than wait_for, which in 3.11 can swallow a
            # cancellation that arrives together with the grant.
            async with asyncio.timeout(wait):
                await future
        except BaseException as exc:
            # The grant (_grant or a same-loop _release) runs on this loop, so it
            # cannot interleave with this block.
            granted = future.done() and not future.cancelled()
            if not granted:
                future.cancel()
                with self._lock:
                    if future in self._waiters:
                        self._waiters.remove(future)
            if isinstance(exc, TimeoutError):
                if granted:  # the slot arrived as the wait ran out: keep it
                    return
                raise self._reject(wait) from None
            if granted:
                self._give_back()  # cancelled with the slot in hand: pass it on
            raise

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        try:
            self._take()
        except IndexError:
            await self._aacquire()
        try:
            return await fn(*args, **kwargs)
        finally:
            self._give(None)
            if self._waiters:
                self._release()

    def describe(self) -> dict[str, Any]:
        """Return kind, name and options."""
        o = self.options
        return {
            "kind": "Bulkhead",
            "name": self.name,
            "max_concurrent": o.max_concurrent,
            "max_wait": o.max_wait,
        }
