"""Automatic pipelining: one event loop's concurrent decisions share one round trip.

The first decision asked in a loop tick schedules a flush (``loop.call_soon``); every
decision asked later in the same tick joins that batch. The flush sends the batch as
one non-transactional pipeline (``RedisBackend.adecide_many``) and resolves each
caller's future with its own :class:`Decision`. Batches go out one at a time, in the
order they were formed, so Redis runs every key's scripts in the order they were
asked and the batches share one connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from reliant.resilience.ratelimit.backend import Decision

#: Most requests in one pipeline; the next request starts a new batch.
DEFAULT_MAX_BATCH = 256
#: Seconds (loop time) between two logged tracebacks of failed batches.
LOG_INTERVAL = 60.0

Request = tuple[str, int, int, int]
Send = Callable[[Any, Sequence[Request]], Awaitable[list[Decision]]]
Fallback = Callable[[str, Sequence[Request], float | None], list[Decision]]
_Batch = list[tuple[Request, "asyncio.Future[Decision]"]]

log = logging.getLogger("reliant.redis")


class AutoPipeline:
    """Coalesces the decisions of one event loop into pipelined batches.

    Args:
        loop: the event loop whose callers this serves.
        send: decides one batch of one algorithm (``RedisBackend.adecide_many``).
        fallback: decides a batch by the fail mode if ``send`` raised unexpectedly.
        max_batch: most requests in one pipeline.
    """

    __slots__ = (
        "_fallback",
        "_lock",
        "_max",
        "_next_log",
        "_pending",
        "_send",
        "_tasks",
        "loop",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        send: Send,
        fallback: Fallback,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self.loop = loop
        self._send = send
        self._fallback = fallback
        self._max = max_batch
        self._pending: dict[str, _Batch] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_log = -float("inf")

    def submit(self, algorithm: str, request: Request) -> asyncio.Future[Decision]:
        """Add ``request`` to this tick's batch of ``algorithm``; its Decision's future.

        Returns:
            A future resolved with the request's :class:`Decision` (never an error).
        """
        future: asyncio.Future[Decision] = self.loop.create_future()
        batch = self._pending.get(algorithm)
        if batch is None:
            batch = self._pending[algorithm] = []
            self.loop.call_soon(self._flush, algorithm, batch)
        batch.append((request, future))
        if len(batch) >= self._max:
            del self._pending[algorithm]  # full: the next request starts a new batch
        return future

    def _flush(self, algorithm: str, batch: _Batch) -> None:
        if self._pending.get(algorithm) is batch:
            del self._pending[algorithm]
        task = self.loop.create_task(self._run(algorithm, batch))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _run(self, algorithm: str, batch: _Batch) -> None:
        requests = [request for request, _ in batch]
        try:
            async with self._lock:  # FIFO: batches reach Redis in the order they formed
                decisions = await self._send(algorithm, requests)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception:
            now = self.loop.time()
            if now >= self._next_log:  # a traceback per batch would flood the log
                self._next_log = now + LOG_INTERVAL
                log.warning("reliant.redis: pipelined batch failed", exc_info=True)
            decisions = self._fallback(algorithm, requests, None)
        for (_, future), decision in zip(batch, decisions, strict=True):
            if not future.done():  # the caller may have been cancelled meanwhile
                future.set_result(decision)
