"""Timeout: bound how long a call may take.

asyncio: the call is cancelled at the deadline (as by ``asyncio.timeout``, on the
running loop's clock) and :class:`~reliant.TimeoutExceeded` is raised. Sync code cannot be
interrupted, so a sync Timeout publishes a deadline in a context variable that nested
reliant policies and the httpx integration honour, and raises ``TimeoutExceeded`` if
the call still ends late — as a gRPC client reports DEADLINE_EXCEEDED even when the
server finishes. With ``hard=True`` the sync call runs on a worker thread and the
caller stops waiting at the deadline (the thread itself runs on: Python cannot kill it).
"""

from __future__ import annotations

import contextvars
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.deadline import _DEADLINE, bounded_wait, pop, push
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import TimeoutExceeded

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures

    from reliant.resilience.timer_queue import TimerQueue

_get_deadline, _set_deadline, _reset_deadline = _DEADLINE.get, _DEADLINE.set, _DEADLINE.reset

#: Worker threads shared by every hard Timeout in the process.
HARD_TIMEOUT_WORKERS = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeoutOptions:
    """Validated options of a :class:`Timeout`."""

    seconds: float
    hard: bool = False

    def __post_init__(self) -> None:
        validate.positive("Timeout", "seconds", self.seconds)
        if not isinstance(self.hard, bool):
            raise ValueError(f"Timeout: hard must be True or False, got {self.hard!r}")


# asyncio and concurrent.futures are imported at first use, so that a sync program
# using Timeout loads neither: the async driver's names are bound by its first call.


def _bind_asyncio() -> asyncio.AbstractEventLoop:
    """Bind the asyncio names ``_arun`` uses, then do the first call's loop lookup."""
    global _get_running_loop, _current_task, _CANCELLED
    import asyncio

    if sys.version_info < (3, 12):
        # 3.11's asyncio.current_task() is Python that looks the loop up again; the
        # table it reads is the one the C tasks keep current. 3.12 made it C.
        from asyncio.tasks import _current_tasks  # type: ignore[attr-defined]

        _current_task = _current_tasks.get
    else:  # pragma: no cover - the CI interpreter is 3.11
        _current_task = _current_task_of
    _CANCELLED = (asyncio.CancelledError,)
    _get_running_loop = asyncio.get_running_loop
    return _get_running_loop()


def _current_task_of(loop: asyncio.AbstractEventLoop) -> asyncio.Task[Any] | None:
    """The task running on ``loop`` (the caller just looked the running loop up)."""
    import asyncio

    return asyncio.current_task(loop)


_get_running_loop: Callable[[], asyncio.AbstractEventLoop] = _bind_asyncio
_current_task: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None] = _current_task_of
#: What ``_arun`` catches as a cancellation; empty (matches nothing) until bound.
_CANCELLED: tuple[type[BaseException], ...] = ()

_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_queues_lock = threading.Lock()


def _hard_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            import concurrent.futures

            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=HARD_TIMEOUT_WORKERS, thread_name_prefix="reliant-timeout"
            )
        return _executor


class Timeout(Policy):
    """Fail a call that takes longer than ``seconds`` with ``TimeoutExceeded``.

    Args:
        seconds: the time budget of one call.
        hard: sync only — run the call on a worker thread and stop waiting at the
            deadline instead of relying on cooperation. The wait is in real time.
        name: the policy's name in events and telemetry.
        clock: the time source for the sync deadline. Async timeouts run on the
            event loop's clock (virtual under :meth:`VirtualClock.run`).
    """

    __slots__ = ("_hard", "_now", "_queue", "_queues", "_seconds", "options")

    def __init__(
        self,
        seconds: float,
        *,
        hard: bool = False,
        name: str = "",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        self.options = TimeoutOptions(seconds=seconds, hard=hard)
        self._seconds = float(seconds)
        self._hard = hard
        self._now = self.clock.now
        # Async deadlines share one timer per event loop; the last loop used is cached.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimerQueue] = (
            weakref.WeakKeyDictionary()
        )
        self._queue: TimerQueue | None = None

    def _exceeded(self, budget: float | None = None) -> TimeoutExceeded:
        budget = self._seconds if budget is None else budget
        if BUS.active:
            BUS.emit("timeout.exceeded", self.name, self._now(), {"timeout": budget})
        return TimeoutExceeded(
            f"{self.name}: call did not finish within {budget:g}s", timeout=budget
        )

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        if self._hard:
            return self._run_hard(fn, args, kwargs)
        # Judge lateness against this Timeout's own budget: a shorter inherited
        # deadline is published to nested code but belongs to the outer Timeout,
        # which reports it with its own budget.
        # push()/pop() inlined, with the context variable's methods bound once at
        # import: this is the hot path.
        now = self._now
        start = now()
        seconds = self._seconds
        current = _get_deadline()
        if current is not None:
            left = current[0] - current[1].now()
            token = _set_deadline((start + (left if left < seconds else seconds), self.clock))
        else:
            token = _set_deadline((start + seconds, self.clock))
        try:
            result = fn(*args, **kwargs)
        except TimeoutExceeded:
            raise
        except Exception as exc:
            if now() - start > seconds:
                raise self._exceeded() from exc
            raise
        finally:
            _reset_deadline(token)
        if now() - start > seconds:
            raise self._exceeded()
        return result

    def _run_hard(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        import concurrent.futures  # next to a thread hand-off, the import check is free

        budget = bounded_wait(self._seconds, self.clock)  # an inherited deadline may cut it
        start = self._now()
        token, _ = push(self._seconds, self.clock, now=start)
        try:
            if budget <= 0:  # the inherited deadline has already passed
                raise self._exceeded(0.0)
            # Copied inside the scope so that the worker sees the deadline too.
            ctx = contextvars.copy_context()
            future = _hard_executor().submit(ctx.run, fn, *args, **kwargs)
            # wait() rather than result(timeout=): concurrent.futures.TimeoutError is
            # the builtin TimeoutError, which the call itself may raise.
            done, _ = concurrent.futures.wait((future,), timeout=budget)
            if not done:
                future.cancel()
                raise self._exceeded(budget)
            try:
                result = future.result()
            except TimeoutExceeded:
                raise
            except Exception as exc:
                if self._now() - start > self._seconds:
                    raise self._exceeded() from exc
                raise
        finally:
            pop(token)
        if self._now() - start > self._seconds:
            raise self._exceeded()
        return result

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        # asyncio.timeout's protocol, with one shared timer per loop (timer_queue.py):
        # cancel the task at the deadline, and on the way out withdraw that cancel
        # request, turning the CancelledError into TimeoutExceeded only when no other
        # cancel request is pending.
        loop = _get_running_loop()
        task = _current_task(loop)
        if task is None:
            raise RuntimeError(f"{self.name}: acall must be awaited inside an asyncio task")
        queue = self._queue
        if queue is None or queue.loop is not loop:
            queue = self._queue_for(loop)
        cancelling = task.cancelling()
        seconds = self._seconds
        expiry = queue.add(task, loop.time() + seconds)
        # push() inlined, as in _run.
        start = self._now()
        current = _get_deadline()
        if current is not None:
            left = current[0] - current[1].now()
            token = _set_deadline((start + (left if left < seconds else seconds), self.clock))
        else:
            token = _set_deadline((start + seconds, self.clock))
        try:
            return await fn(*args, **kwargs)
        except _CANCELLED:
            if expiry.fired:
                expiry.fired = False
                if task.uncancel() <= cancelling:
                    raise self._exceeded() from None
            raise
        finally:
            queue.finish(expiry)
            _reset_deadline(token)
            if expiry.fired:  # expired, but the call ended without the CancelledError
                task.uncancel()

    def _queue_for(self, loop: asyncio.AbstractEventLoop) -> TimerQueue:
        """Return (creating if needed) this Timeout's timer queue on ``loop``."""
        from reliant.resilience.timer_queue import TimerQueue

        with _queues_lock:
            queue = self._queues.get(loop)
            if queue is None:
                queue = self._queues[loop] = TimerQueue(loop)
        self._queue = queue
        return queue

    def describe(self) -> dict[str, Any]:
        """Return kind, name and options."""
        return {
            "kind": "Timeout",
            "name": self.name,
            "seconds": self._seconds,
            "hard": self._hard,
        }
