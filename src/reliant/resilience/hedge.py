"""Hedge: race extra attempts against a slow or failing one (asyncio), as Polly.

Modes by ``delay``: > 0 latency hedging (launch the next attempt when the previous
has not finished after ``delay``), 0 parallel (launch all at once), < 0 fallback
(launch the next only after a handled failure). A handled failure launches the next
attempt at once. The first unhandled outcome wins; the others are cancelled **and
awaited**. When every attempt fails, the primary's error is raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reliant._core import validate
from reliant._core.aio import aio
from reliant._core.clock import Clock
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy

if TYPE_CHECKING:
    import asyncio

DEFAULT_DELAY = 0.1
DEFAULT_MAX_HEDGES = 1
MAX_HEDGES_LIMIT = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeOptions:
    """Validated options of a :class:`Hedge`."""

    delay: float = DEFAULT_DELAY
    max_hedges: int = DEFAULT_MAX_HEDGES
    on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        validate.number("Hedge", "delay", self.delay)
        if not 1 <= validate.integer("Hedge", "max_hedges", self.max_hedges) <= MAX_HEDGES_LIMIT:
            raise ValueError(
                f"Hedge: max_hedges must be in [1, {MAX_HEDGES_LIMIT}], got {self.max_hedges!r}"
            )
        object.__setattr__(self, "on", validate.exception_types("Hedge", "on", self.on))


class Hedge(Policy):
    """Send up to ``max_hedges`` extra attempts and take the first good answer.

    Args:
        delay: seconds before launching a hedge (> 0 latency mode), 0 for all at once,
            negative to hedge only after a failure.
        max_hedges: extra attempts beyond the primary (1–10).
        on: exception types that count as handled failures (launch the next attempt);
            any other exception is final and wins the race.
        name: the policy's name in events and telemetry.
        clock: the time source for event times; waits use the running event loop.

    Hedging needs concurrency, so it is asyncio-only: the sync forms raise ``TypeError``.
    Only hedge idempotent calls.
    """

    __slots__ = ("_delay", "_on", "options")

    def __init__(
        self,
        *,
        delay: float = DEFAULT_DELAY,
        max_hedges: int = DEFAULT_MAX_HEDGES,
        on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
        name: str = "",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        self.options = HedgeOptions(
            delay=delay, max_hedges=max_hedges, on=on if isinstance(on, tuple) else (on,)
        )
        self._delay = float(delay)
        self._on = self.options.on

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        raise TypeError(
            f"{self.name}: Hedge races concurrent attempts and is asyncio-only; "
            "use `await policy.acall(...)` or decorate an async function"
        )

    def _emit(self, kind: str, attempt: int) -> None:
        if BUS.active:
            BUS.emit(kind, self.name, self.clock.now(), {"attempt": attempt})

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        asyncio_ = aio()  # its own name: `asyncio` in annotations is the typed module
        total = self.options.max_hedges + 1
        tasks: list[asyncio.Task[Any]] = []

        def launch() -> None:
            tasks.append(asyncio_.ensure_future(fn(*args, **kwargs)))
            if len(tasks) > 1:
                self._emit("hedge.launched", len(tasks))

        launch()
        if self._delay == 0:
            while len(tasks) < total:
                launch()
        pending: set[asyncio.Task[Any]] = set(tasks)
        try:
            while True:
                can_launch = len(tasks) < total
                timeout = self._delay if self._delay > 0 and can_launch else None
                done, pending = await asyncio_.wait(
                    pending, timeout=timeout, return_when=asyncio_.FIRST_COMPLETED
                )
                if not done:
                    launch()
                    pending.add(tasks[-1])
                    continue
                for task in sorted(done, key=tasks.index):
                    exc = None if task.cancelled() else task.exception()
                    if exc is None or not isinstance(exc, self._on):
                        self._emit("hedge.won", tasks.index(task) + 1)
                        return task.result()
                    if len(tasks) < total:
                        launch()  # each handled failure launches the next attempt at once
                        pending.add(tasks[-1])
                if not pending:
                    return tasks[0].result()  # all failed: the primary's error
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio_.gather(*pending, return_exceptions=True)
            for task in tasks:  # mark every loser's error as seen
                if task.done() and not task.cancelled():
                    task.exception()

    def describe(self) -> dict[str, Any]:
        """Return kind, name and options."""
        o = self.options
        return {"kind": "Hedge", "name": self.name, "delay": o.delay, "max_hedges": o.max_hedges}
