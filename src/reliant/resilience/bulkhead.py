"""Bulkhead: cap how many calls run at once, with a bounded wait for a slot.

One slot counter serves threads and tasks alike. The fast path takes a short lock
to count; waiting threads park on a condition, waiting tasks on futures of their
own loop, and a released slot is handed straight to the oldest waiter.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.deadline import bounded_wait
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import BulkheadFullError

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


class Bulkhead(Policy):
    """Admit at most ``max_concurrent`` calls at once; others wait up to ``max_wait``.

    Args:
        max_concurrent: slots (>= 1).
        max_wait: seconds a caller may wait for a slot; 0 rejects at once when full.
            A current deadline shortens the wait.
        name: the policy's name in events and telemetry.
        clock: the time source.

    Raises:
        BulkheadFullError: when no slot frees within the wait.
    """

    __slots__ = (
        "_async_waiters",
        "_cond",
        "_inflight",
        "_lock",
        "_max",
        "_sync_waiting",
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
        self._inflight = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._sync_waiting = 0
        self._async_waiters: deque[asyncio.Future[None]] = deque()

    @property
    def inflight(self) -> int:
        """Calls holding a slot right now."""
        return self._inflight

    @property
    def available(self) -> int:
        """Free slots right now."""
        return self._max - self._inflight

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

    def _release(self) -> None:
        with self._lock:
            while self._async_waiters:
                waiter = self._async_waiters.popleft()
                if not waiter.done():
                    # Hand the slot over: inflight stays the same.
                    waiter.get_loop().call_soon_threadsafe(self._grant, waiter)
                    return
            self._inflight -= 1
            if self._sync_waiting:
                self._cond.notify()

    def _grant(self, waiter: asyncio.Future[None]) -> None:
        """Give a handed-over slot to ``waiter``, or pass it on if it gave up meanwhile."""
        if waiter.done():
            self._release()
        else:
            waiter.set_result(None)

    # -- sync -------------------------------------------------------------------------

    def _acquire(self) -> None:
        with self._lock:
            if self._inflight < self._max:
                self._inflight += 1
                return
            wait = bounded_wait(self.options.max_wait, self.clock)
            if wait <= 0:
                raise self._reject(0.0)
            self._sync_waiting += 1
            try:
                ok = self._cond.wait_for(lambda: self._inflight < self._max, timeout=wait)
            finally:
                self._sync_waiting -= 1
            if not ok:
                raise self._reject(wait)
            self._inflight += 1

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        self._acquire()
        try:
            return fn(*args, **kwargs)
        finally:
            self._release()

    # -- asyncio ----------------------------------------------------------------------

    async def _aacquire(self) -> None:
        with self._lock:
            if self._inflight < self._max:
                self._inflight += 1
                return
            wait = bounded_wait(self.options.max_wait, self.clock)
            if wait <= 0:
                raise self._reject(0.0)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._async_waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), wait)
        except BaseException as exc:
            with self._lock:
                granted = waiter.done() and not waiter.cancelled()
                if not granted:
                    waiter.cancel()  # a grant still in flight will see this and pass it on
            if granted:
                self._release()  # the slot arrived as we gave up: pass it on
            if isinstance(exc, TimeoutError):
                raise self._reject(wait) from None
            raise

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        await self._aacquire()
        try:
            return await fn(*args, **kwargs)
        finally:
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
