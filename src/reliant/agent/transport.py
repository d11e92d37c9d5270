"""The uplink: one daemon thread that pushes the buffer to the control plane.

Every ``flush_interval`` (sooner when an event waits, after ``event_delay``) it drains
the aggregator into the buffer and POSTs gzip-compressed batches to ``INGEST_PATH``.
A batch answered 5xx or 429, or lost to a connection error or timeout, goes back to the
front of the buffer and is tried again after an exponential backoff with jitter; a batch
answered with another 4xx is dropped and counted. Nothing here ever raises into the
application, and the buffer bounds the memory however long the control plane is away.

The scheduling is :meth:`Uplink.run_once`, which does one step and returns how long to
wait: the thread only waits and calls it, so tests drive it step by step on a
``VirtualClock``.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import random
import re
import threading
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from reliant._core.clock import Clock
from reliant.agent._http import Endpoint
from reliant.agent.aggregate import Aggregator, Point
from reliant.agent.buffer import Batch, Buffer, EventItem
from reliant.agent.protocol import INGEST_PATH, MAX_BATCH_BYTES, PROTOCOL_VERSION

#: First and longest backoff between attempts at a failing push, seconds.
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 60.0


class Result(Enum):
    """What became of one push attempt."""

    NOTHING = "nothing"  # the buffer was empty
    SENT = "sent"
    DROPPED = "dropped"  # refused with a 4xx other than 429
    RETRY = "retry"  # 5xx, 429 or a connection error: tried again later


#: Names the control plane accepts for operations and policies (its OBJECT_NAME_PATTERN).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._:/-]")


@functools.lru_cache(maxsize=4096)
def wire_name(name: str) -> str:
    """Return ``name`` as the control plane accepts it: other characters become ``_``.

    One odd policy name must not get a whole batch refused.
    """
    if not name or _NAME.fullmatch(name):
        return name
    safe = _NAME_CHARS.sub("_", name)[:200]
    return safe if safe[0].isalnum() else "x" + safe[:199]


def _safe(value: Any) -> Any:
    """Make an attribute value JSON-safe (enums by value, the rest by ``str``)."""
    if isinstance(value, str):
        return value.replace("\0", "") if "\0" in value else value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return _safe(value.value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return str(value)


def event_json(item: EventItem) -> dict[str, Any]:
    """Return an event in the shape of the push body."""
    return {
        "time": item.time,
        "kind": item.kind,
        "name": wire_name(item.name),
        "severity": item.severity,
        "attributes": {_safe(str(k)): _safe(v) for k, v in item.attributes.items()},
        "trace_id": None,
    }


def _point_json(point: Point) -> dict[str, object]:
    body = point.to_json()
    body["operation"] = wire_name(point.operation) or "unnamed"
    return body


class Uplink:
    """Pushes the buffer to the control plane; see the module docstring.

    Args:
        endpoint: where to push.
        header: the constant fields of every body (``service``, ``instance``, ``sdk``).
        aggregator: drained into the buffer before each push.
        buffer: what is waiting.
        clock: schedules flushes and backoffs (monotonic).
        wall: ``sent_at`` of each body (epoch seconds).
        flush_interval: seconds between regular pushes.
        event_delay: seconds an event waits before a push is made for it.
        max_batch_bytes: estimated size of one batch.
        timeout: seconds one HTTP request may take.
        rng: the backoff jitter.
        log: called with a message when the link's health changes.
    """

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        header: Mapping[str, Any],
        aggregator: Aggregator,
        buffer: Buffer,
        clock: Clock,
        wall: Callable[[], float],
        flush_interval: float,
        event_delay: float,
        max_batch_bytes: int,
        timeout: float,
        rng: random.Random,
        log: Callable[[str], None],
    ) -> None:
        self.endpoint = endpoint
        self.header = dict(header)
        self.aggregator = aggregator
        self.buffer = buffer
        self._now = clock.now
        self._wall = wall
        self.flush_interval = flush_interval
        self.event_delay = event_delay
        self.max_batch_bytes = max_batch_bytes
        self.timeout = timeout
        self._rng = rng
        self._log = log
        now = self._now()
        self._next_flush = now + flush_interval
        self._due = self._next_flush
        self._failures = 0
        self._reported_dropped = 0
        # Serialises pushes between the thread and a caller's flush().
        self._send_lock = threading.Lock()
        #: Items the server accepted.
        self.sent = 0
        #: Batches the server accepted.
        self.batches = 0
        #: The last failure, or None once a push succeeded.
        self.last_error: str | None = None
        #: Whether the last push reached the control plane.
        self.connected = False

    @property
    def dropped(self) -> int:
        """Items lost since the start (buffer evictions, refusals, aggregation bound)."""
        return self.buffer.dropped + self.aggregator.dropped

    # -- scheduling -------------------------------------------------------------------

    def nudge(self) -> None:
        """An event arrived: push within ``event_delay`` (unless backing off)."""
        if self._failures == 0:
            self._due = min(self._due, self._now() + self.event_delay)

    def run_once(self) -> float:
        """Push if a push is due; return the seconds until the next step."""
        now = self._now()
        if now < self._due:
            return self._due - now
        if now >= self._next_flush:
            self._next_flush = now + self.flush_interval
        result = self.push(self.timeout)
        if result is Result.RETRY:
            self._failures += 1
            delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2.0 ** min(self._failures - 1, 30))
            self._due = now + delay * (0.5 + 0.5 * self._rng.random())  # equal jitter
        else:
            self._failures = 0
            more = result is not Result.NOTHING and len(self.buffer) > 0
            self._due = now if more else self._next_flush
        return max(0.0, self._due - now)

    def flush(self, deadline: float) -> bool:
        """Push everything now, until done, a push fails, or the clock passes ``deadline``.

        Returns:
            whether the buffer was emptied.
        """
        while True:
            left = deadline - self._now()
            if left <= 0:
                return False
            result = self.push(min(self.timeout, left), wait=left)
            if result is Result.RETRY:
                return False
            if result is Result.NOTHING:
                return True

    # -- one push ---------------------------------------------------------------------

    def push(self, timeout: float, *, wait: float = -1) -> Result:
        """Drain the aggregator and send one batch (never raises).

        Args:
            timeout: seconds the request may take.
            wait: seconds to wait for a push in progress on another thread (-1: no limit);
                ``RETRY`` when it does not finish in time.
        """
        if not self._send_lock.acquire(timeout=wait):
            return Result.RETRY
        try:
            return self._push(timeout)
        except Exception as exc:  # a bug must not kill the thread or reach the app
            self._fail(f"agent error: {type(exc).__name__}: {exc}")
            return Result.RETRY
        finally:
            self._send_lock.release()

    def _push(self, timeout: float) -> Result:
        points = self.aggregator.drain()
        if points:
            self.buffer.add_points(points, self._wall())
        batch = self.buffer.take(self.max_batch_bytes)
        dropped = self.dropped
        if not batch and dropped == self._reported_dropped:
            return Result.NOTHING
        try:
            body = self._encode(batch, dropped)
            while len(body) > MAX_BATCH_BYTES and len(batch) > 1:
                body = self._shrink(batch, dropped)
        except (TypeError, ValueError) as exc:  # cannot happen with _safe; never loop on it
            self.buffer.drop(batch)
            self._fail(f"cannot encode a batch: {exc}")
            return Result.DROPPED
        try:
            response = self.endpoint.request(
                "POST",
                INGEST_PATH,
                body=gzip.compress(body, compresslevel=5),
                headers={
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                    "Accept": "application/json",
                },
                timeout=timeout,
            )
        except OSError as exc:
            self.buffer.put_back(batch)
            self._fail(f"cannot reach {self.endpoint.host}: {exc}")
            return Result.RETRY
        status = response.status
        if 200 <= status < 300:
            self.buffer.settle(batch)
            self._reported_dropped = dropped
            self.sent += len(batch)
            self.batches += 1
            if not self.connected:
                self._log(f"pushing to the control plane at {self.endpoint.host}")
            self.connected = True
            self.last_error = None
            return Result.SENT
        detail = _detail(response.body)
        if status == 429 or status >= 500:
            self.buffer.put_back(batch)
            self._fail(f"ingest answered {status}{detail}")
            return Result.RETRY
        self.buffer.drop(batch)
        self._fail(f"ingest refused a batch of {len(batch)} items with {status}{detail}")
        return Result.DROPPED

    def _encode(self, batch: Batch, dropped: int) -> bytes:
        body = {
            "protocol": PROTOCOL_VERSION,
            **self.header,
            "sent_at": self._wall(),
            "dropped": dropped,
            "telemetry": [_point_json(entry[2]) for entry in batch.points],
            "events": [event_json(entry[2]) for entry in batch.events],
        }
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()

    def _shrink(self, batch: Batch, dropped: int) -> bytes:
        """Return the newer half of an oversized batch to the buffer; re-encode the rest."""
        back = Batch()
        back.events = batch.events[len(batch.events) // 2 :]
        back.points = batch.points[len(batch.points) // 2 :]
        del batch.events[len(batch.events) // 2 :]
        del batch.points[len(batch.points) // 2 :]
        back.size = sum(e[1] for e in back.events) + sum(e[1] for e in back.points)
        batch.size -= back.size
        self.buffer.put_back(back)
        return self._encode(batch, dropped)

    def _fail(self, message: str) -> None:
        if message != self.last_error:
            self._log(message)
        self.last_error = message
        self.connected = False


def _detail(body: bytes) -> str:
    """Return ``": <detail>"`` from a problem+json body, or nothing."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return ""
    return f": {detail}" if isinstance(detail, str) and detail else ""
