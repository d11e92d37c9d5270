"""Throttle: client-side adaptive throttling, from the Google SRE book's "Handling Overload".

Over the trailing window the client counts ``requests`` (every call the application
attempted, including those this throttle rejected) and ``accepts`` (calls the backend
accepted). Before each call it rejects locally with probability
``max(0, (requests − k·accepts) / (requests + 1))``: while the backend accepts at least
one call in ``k``, nothing is shed; when it refuses more, the client sheds the excess
itself instead of sending it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import ThrottledError

if TYPE_CHECKING:
    import random

DEFAULT_K = 2.0
DEFAULT_WINDOW = 120.0
DEFAULT_BUCKETS = 60
DEFAULT_OVERLOAD: tuple[type[BaseException], ...] = (Exception,)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleOptions:
    """Validated options of a :class:`Throttle`.

    Attributes:
        k: the multiplier on accepts (>= 1). 2 (the book's) sends up to twice what the
            backend accepts; 1 is the most aggressive, shedding as soon as a call fails.
        window: seconds of history the counts cover (> 0).
        buckets: the window is kept as this many equal buckets (>= 1); a bucket's
            counts expire together, so the window is exact to ``window / buckets``.
        overload: exceptions meaning the backend refused the call (default any
            ``Exception``); a call raising anything else counts as accepted.
    """

    k: float = DEFAULT_K
    window: float = DEFAULT_WINDOW
    buckets: int = DEFAULT_BUCKETS
    overload: tuple[type[BaseException], ...] = DEFAULT_OVERLOAD

    def __post_init__(self) -> None:
        k = validate.number("Throttle", "k", self.k)
        if not 1.0 <= k < math.inf:
            raise ValueError(f"Throttle: k must be a finite number >= 1, got {self.k!r}")
        validate.positive("Throttle", "window", self.window)
        validate.integer("Throttle", "buckets", self.buckets)
        object.__setattr__(
            self, "overload", validate.exception_types("Throttle", "overload", self.overload)
        )


class Throttle(Policy):
    """Shed calls locally, in proportion to how many the backend has been refusing.

    Args:
        k: accepts multiplier (>= 1, default 2.0).
        window: seconds of history (default 120.0, the book's two minutes).
        buckets: granularity of the window (default 60 buckets).
        overload: exceptions that mean the backend refused the call.
        rng: draws the rejections; an unseeded generator when omitted. A draw is made
            only when the rejection probability is above zero.
        name: the policy's name in events and errors.
        clock: the time source for the window.

    Raises:
        ThrottledError: when the call is shed locally (``retry_after`` is ``None``).
        ValueError: on an invalid option.
    """

    __slots__ = (
        "_accepts",
        "_edge",
        "_head",
        "_k",
        "_lock",
        "_n",
        "_now",
        "_overload",
        "_random",
        "_requests",
        "_slot",
        "_total_accepts",
        "_total_requests",
        "_width",
        "options",
    )

    def __init__(
        self,
        *,
        k: float = DEFAULT_K,
        window: float = DEFAULT_WINDOW,
        buckets: int = DEFAULT_BUCKETS,
        overload: type[BaseException] | tuple[type[BaseException], ...] = DEFAULT_OVERLOAD,
        rng: random.Random | None = None,
        name: str = "",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        import random  # imported on first use, not with the module

        if rng is not None and not isinstance(rng, random.Random):
            raise ValueError(f"Throttle: rng must be a random.Random, got {rng!r}")
        self.options = ThrottleOptions(
            k=k,
            window=window,
            buckets=buckets,
            overload=overload if isinstance(overload, tuple) else (overload,),
        )
        self._k = float(k)
        self._overload = self.options.overload
        self._n = buckets
        self._width = self.options.window / buckets
        self._requests = [0] * buckets
        self._accepts = [0] * buckets
        self._total_requests = 0
        self._total_accepts = 0
        self._now = self.clock.now
        # The absolute index (time // width) of the newest bucket.
        self._head = int(self._now() // self._width)
        self._slot = self._head % buckets
        self._edge = (self._head + 1) * self._width
        self._random = (rng if rng is not None else random.Random()).random
        self._lock = threading.Lock()

    # -- the window --------------------------------------------------------------------

    def _advance(self, index: int) -> None:
        """Make bucket ``index`` the newest, expiring the buckets that leave the window.

        Called with the lock held once the clock has passed ``_edge``, the start of the
        next bucket.
        """
        n = self._n
        requests, accepts = self._requests, self._accepts
        for i in range(self._head + 1, min(index, self._head + n) + 1):
            slot = i % n
            self._total_requests -= requests[slot]
            self._total_accepts -= accepts[slot]
            requests[slot] = 0
            accepts[slot] = 0
        if index > self._head:
            self._head = index
            self._slot = index % n
        self._edge = (self._head + 1) * self._width

    def _snapshot(self) -> tuple[int, int]:
        lock = self._lock
        lock.acquire()
        try:
            now = self._now()
            if now >= self._edge:
                self._advance(int(now // self._width))
            return self._total_requests, self._total_accepts
        finally:
            lock.release()

    @property
    def probability(self) -> float:
        """The probability that the next call is rejected, in [0, 1)."""
        requests, accepts = self._snapshot()
        p = (requests - self._k * accepts) / (requests + 1)
        return p if p > 0.0 else 0.0

    @property
    def requests(self) -> int:
        """Calls attempted within the window, locally rejected ones included."""
        return self._snapshot()[0]

    @property
    def accepts(self) -> int:
        """Calls within the window that the backend accepted."""
        return self._snapshot()[1]

    # -- the decision core (no I/O) ----------------------------------------------------

    def _admit(self) -> int:
        """Count one request; admit it and return its bucket index, or raise ``ThrottledError``."""
        now = self._now()
        lock = self._lock
        lock.acquire()  # plain acquire/release: half the cost of `with` on this path
        if now >= self._edge:
            self._advance(int(now // self._width))
        index = self._head
        requests = self._total_requests
        p = (requests - self._k * self._total_accepts) / (requests + 1)
        self._requests[self._slot] += 1
        self._total_requests = requests + 1
        if p <= 0.0 or self._random() >= p:
            lock.release()
            return index
        lock.release()
        if BUS.active:
            BUS.emit("throttle.rejected", self.name, now, {"probability": p})
        raise ThrottledError(
            f"{self.name}: shed locally (rejection probability {p:.3f})",
            policy=self.name,
            retry_after=None,
        )

    def _accept(self, index: int) -> None:
        """Count an accept against the bucket of its request, unless that has expired.

        Keeping a request and its accept in one bucket means they leave the window
        together, so accepts never outnumber requests.
        """
        lock = self._lock
        lock.acquire()
        if index > self._head - self._n:
            self._accepts[index % self._n] += 1
            self._total_accepts += 1
        lock.release()

    # -- drivers -----------------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        index = self._admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if not isinstance(exc, self._overload):
                self._accept(index)
            raise
        self._accept(index)
        return result

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        index = self._admit()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            if not isinstance(exc, self._overload):
                self._accept(index)
            raise
        self._accept(index)
        return result

    def describe(self) -> dict[str, Any]:
        """Return kind, name and options."""
        o = self.options
        return {
            "kind": "Throttle",
            "name": self.name,
            "k": o.k,
            "window": o.window,
            "buckets": o.buckets,
            "overload": [t.__name__ for t in o.overload],
        }

    def __repr__(self) -> str:
        return f"Throttle(name={self.name!r}, k={self._k}, window={self.options.window})"
