"""The game day's customers: requests at a steady rate, each answer judged and counted."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from reliant.gameday.scenario import Traffic

#: Requests in flight at most; beyond that a tick's request is not sent (and counted).
MAX_IN_FLIGHT = 16
OK, DEGRADED, ERROR = "ok", "degraded", "error"


@dataclass(frozen=True, slots=True)
class Rates:
    """The answers of the last ``window`` seconds."""

    requests: int
    ok: int
    degraded: int
    error: int
    window: float

    def rate(self, outcome: str) -> float | None:
        """The fraction of answers with ``outcome`` (``served`` = ok + degraded), if any."""
        if not self.requests:
            return None
        count = self.ok + self.degraded if outcome == "served" else getattr(self, outcome)
        return float(count) / self.requests

    @property
    def per_second(self) -> float:
        """Requests answered per second."""
        return self.requests / self.window


def fill(value: Any, n: int) -> Any:
    """``value`` with ``{n}`` replaced by the request's number in every string."""
    if isinstance(value, str):
        return value.replace("{n}", str(n))
    if isinstance(value, dict):
        return {k: fill(v, n) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, n) for v in value]
    return value


def judge(spec: Traffic, status: int, body: Any) -> str:
    """``ok``, ``degraded`` or ``error`` for one answer."""
    if not 200 <= status < 300:
        return ERROR
    fallback = isinstance(body, dict) and all(body.get(k) == v for k, v in spec.degraded.items())
    if spec.degraded and fallback:
        return DEGRADED
    return OK


class TrafficGenerator:
    """Sends ``spec.rate`` requests a second from a thread until stopped.

    Args:
        spec: the traffic, its URL already filled in.
        clock: monotonic seconds (answers are timed on it).
    """

    def __init__(self, spec: Traffic, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.clock = clock
        self.sent = 0
        self.skipped = 0
        self._answers: collections.deque[tuple[float, str]] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._in_flight = threading.Semaphore(MAX_IN_FLIGHT)
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="traffic")
        limits = httpx.Limits(
            max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT
        )
        self._http = httpx.Client(timeout=spec.timeout, limits=limits, trust_env=False)

    def start(self) -> None:
        """Begin sending."""
        self._thread = threading.Thread(target=self._loop, name="traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and wait for the requests in flight."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    def rates(self, window: float | None = None) -> Rates:
        """The answers of the last ``window`` seconds (the spec's window by default)."""
        window = window or self.spec.window
        since = self.clock() - window
        counts = {OK: 0, DEGRADED: 0, ERROR: 0}
        with self._lock:
            while self._answers and self._answers[0][0] < self.clock() - 600.0:
                self._answers.popleft()
            for at, outcome in reversed(self._answers):
                if at < since:
                    break
                counts[outcome] += 1
        return Rates(sum(counts.values()), counts[OK], counts[DEGRADED], counts[ERROR], window)

    def _loop(self) -> None:
        period = 1.0 / self.spec.rate
        due = self.clock()
        while not self._stop.is_set():
            if self._in_flight.acquire(blocking=False):
                self.sent += 1
                self._pool.submit(self._one, self.sent)
            else:
                self.skipped += 1
            due += period
            delay = due - self.clock()
            if delay < -1.0:  # fell far behind (a stalled machine): do not burst to catch up
                due = self.clock()
            elif delay > 0:
                self._stop.wait(delay)

    def _one(self, n: int) -> None:
        try:
            outcome = self._send(n)
        finally:
            self._in_flight.release()
        with self._lock:
            self._answers.append((self.clock(), outcome))

    def _send(self, n: int) -> str:
        spec = self.spec
        try:
            response = self._http.request(
                spec.method, fill(spec.url, n), json=fill(spec.json_body, n)
            )
        except httpx.HTTPError:
            return ERROR
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return judge(spec, response.status_code, body)
