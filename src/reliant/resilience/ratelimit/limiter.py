"""RateLimiter: admit requests at a rate, per key, with an optional bounded wait.

The decision core lives in the backend (one atomic call per decision, no I/O in
the in-memory one); this module validates options, turns them into the backend's
integer parameters, and drives the waits: ``acquire`` and ``aacquire`` differ only
in how they sleep.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.deadline import bounded_wait
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import RateLimitedError
from reliant.resilience.ratelimit.backend import Decision, RateLimitBackend
from reliant.resilience.ratelimit.memory import DEFAULT_MAX_KEYS, MemoryBackend

Algorithm = Literal["gcra", "token_bucket", "sliding_window"]
ALGORITHMS: tuple[Algorithm, ...] = ("gcra", "token_bucket", "sliding_window")
#: Chooses the partition of a ``call``/``acall`` from its ``(args, kwargs)``.
KeyFunc = Callable[[Args, Kwargs], str]

DEFAULT_PER = 1.0
DEFAULT_MAX_WAIT = 0.0
#: Highest rate the µs arithmetic can express: one request per microsecond.
MAX_RATE_PER_SECOND = 1_000_000

_US = 1_000_000
_INF = math.inf
_ONE = 1  # the default cost; an identity test skips validating it


def emission_us(rate: float, per: float) -> int:
    """GCRA's ``T = per / rate`` in whole microseconds, rounded up.

    Rounding up means quantisation never admits above the rate asked for. The
    options are read as the decimals they were written as (``0.1`` is 1/10), so
    ``per=0.3, rate=3`` gives exactly 100 000 µs.
    """
    from fractions import Fraction  # imported on first use, not with the module

    return math.ceil(Fraction(str(per)) * _US / Fraction(str(rate)))


def default_burst(rate: float) -> int:
    """The burst used when none is given: one ``per``-window of requests, at least 1."""
    return max(1, math.ceil(rate))


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimiterOptions:
    """Validated options of a :class:`RateLimiter`.

    ``burst`` is resolved to :func:`default_burst` for GCRA and token bucket and is
    ``None`` for the sliding window; ``max_keys`` is ``None`` when the limiter uses a
    backend it was given.
    """

    algorithm: Algorithm = "gcra"
    rate: float
    per: float = DEFAULT_PER
    burst: int | None = None
    max_wait: float = DEFAULT_MAX_WAIT
    max_keys: int | None = DEFAULT_MAX_KEYS

    def __post_init__(self) -> None:
        validate.one_of("RateLimiter", "algorithm", self.algorithm, ALGORITHMS)
        owner = f"RateLimiter.{self.algorithm}"
        rate = validate.positive(owner, "rate", self.rate)
        per = validate.positive(owner, "per", self.per)
        if self.algorithm == "sliding_window":
            if rate != int(rate):
                raise ValueError(f"{owner}: rate must be a whole number >= 1, got {self.rate!r}")
            if self.burst is not None:
                raise ValueError(
                    f"{owner}: burst must be None (the window admits `rate` per `per`), "
                    f"got {self.burst!r}"
                )
            if round(per * _US) < 1:
                raise ValueError(f"{owner}: per must be >= 1e-06 seconds, got {self.per!r}")
        else:
            if rate / per > MAX_RATE_PER_SECOND:
                raise ValueError(
                    f"{owner}: rate / per must be <= {MAX_RATE_PER_SECOND} per second "
                    f"(decisions count whole microseconds), got {self.rate!r} / {self.per!r}"
                )
            burst = default_burst(rate) if self.burst is None else self.burst
            object.__setattr__(self, "burst", validate.integer(owner, "burst", burst))
        validate.non_negative(owner, "max_wait", self.max_wait, finite=False)
        if self.max_keys is not None:
            validate.integer(owner, "max_keys", self.max_keys)


def _parameters(o: RateLimiterOptions) -> tuple[int, int]:
    """The backend's two integer parameters for validated options."""
    if o.algorithm == "sliding_window":
        return int(o.rate), round(o.per * _US)
    assert o.burst is not None
    emission = emission_us(o.rate, o.per)
    if o.algorithm == "gcra":
        return emission, emission * o.burst
    return emission, o.burst


class RateLimiter(Policy):
    """Admit requests at ``rate`` per ``per`` seconds, separately for each key.

    Build one with :meth:`gcra`, :meth:`token_bucket` or :meth:`sliding_window`.

    Args:
        algorithm: ``"gcra"``, ``"token_bucket"`` or ``"sliding_window"``.
        rate: requests per ``per`` seconds (> 0; a whole number for the window).
        per: the period of ``rate``, seconds (> 0).
        burst: requests admitted at once from idle (GCRA, token bucket capacity),
            default ``ceil(rate)``.
        backend: where per-key state lives; a private :class:`MemoryBackend` by default.
        max_wait: seconds ``acquire``/``call`` may wait for admission (default 0: reject
            at once); ``math.inf`` waits as long as it takes.
        max_keys: key bound of the private memory backend (default 100 000).
        key: ``(args, kwargs) -> str`` choosing the partition of ``call``/``acall``;
            without it they all share the key ``""``.
        name: the policy's name in events, errors and shared-backend keys.
        clock: the time source; defaults to the memory backend's clock.

    Raises:
        ValueError: on an invalid option, naming it and its accepted range.
    """

    __slots__ = (
        "_a",
        "_aop",
        "_b",
        "_key",
        "_now",
        "_op",
        "_prefix",
        "_step",
        "backend",
        "options",
    )

    _op: Callable[[str, int, int, int], Decision]
    _aop: Callable[[str, int, int, int], Awaitable[Decision]]

    def __init__(
        self,
        *,
        algorithm: Algorithm = "gcra",
        rate: float,
        per: float = DEFAULT_PER,
        burst: int | None = None,
        backend: RateLimitBackend | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        max_keys: int | None = None,
        key: KeyFunc | None = None,
        name: str = "",
        clock: Clock | None = None,
    ) -> None:
        owner = f"RateLimiter.{algorithm}"
        if backend is not None and max_keys is not None:
            raise ValueError(
                f"{owner}: max_keys must be None when a backend is given "
                f"(bound the backend itself), got {max_keys!r}"
            )
        if not (backend is None or isinstance(backend, MemoryBackend | RateLimitBackend)):
            raise ValueError(f"{owner}: backend must be a RateLimitBackend, got {backend!r}")
        if isinstance(backend, MemoryBackend):
            if clock is None:
                clock = backend.clock
            elif clock is not backend.clock:
                raise ValueError(
                    f"{owner}: clock must be the memory backend's clock, got {clock!r}"
                )
        if key is not None and not callable(key):
            raise ValueError(f"{owner}: key must be a callable (args, kwargs) -> str, got {key!r}")
        super().__init__(name=name, clock=clock)
        if backend is None and max_keys is None:
            max_keys = DEFAULT_MAX_KEYS
        self.options = RateLimiterOptions(
            algorithm=algorithm,
            rate=rate,
            per=per,
            burst=burst,
            max_wait=max_wait,
            max_keys=max_keys,
        )
        if backend is None:
            assert max_keys is not None
            backend = MemoryBackend(max_keys=max_keys, clock=self.clock)
            self._prefix = ""  # a private table needs no namespace
        else:
            self._prefix = self.name + ":"
        self.backend: RateLimitBackend = backend
        self._key = key
        self._now = self.clock.now
        #: GCRA's bare step on the memory backend, for the yes/no hot path of call().
        self._step: Callable[[str, int, int, int, bool], int] | None = None
        o = self.options
        self._a, self._b = _parameters(o)
        if o.algorithm == "sliding_window":
            self._op, self._aop = backend.sliding_window, backend.asliding_window
        elif o.algorithm == "gcra":
            self._op, self._aop = backend.gcra, backend.agcra
            if key is None and isinstance(backend, MemoryBackend):
                self._step = backend.gcra_step()
        else:
            self._op, self._aop = backend.token_bucket, backend.atoken_bucket

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def gcra(
        cls,
        *,
        rate: float,
        per: float = DEFAULT_PER,
        burst: int | None = None,
        backend: RateLimitBackend | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        max_keys: int | None = None,
        key: KeyFunc | None = None,
        name: str = "",
        clock: Clock | None = None,
    ) -> RateLimiter:
        """A GCRA limiter: ``rate`` per ``per`` seconds, ``burst`` at once from idle."""
        return cls(
            algorithm="gcra", rate=rate, per=per, burst=burst, backend=backend,
            max_wait=max_wait, max_keys=max_keys, key=key, name=name, clock=clock,
        )  # fmt: skip

    @classmethod
    def token_bucket(
        cls,
        *,
        rate: float,
        per: float = DEFAULT_PER,
        burst: int | None = None,
        backend: RateLimitBackend | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        max_keys: int | None = None,
        key: KeyFunc | None = None,
        name: str = "",
        clock: Clock | None = None,
    ) -> RateLimiter:
        """A token bucket of capacity ``burst``, refilled at ``rate`` per ``per`` seconds."""
        return cls(
            algorithm="token_bucket", rate=rate, per=per, burst=burst, backend=backend,
            max_wait=max_wait, max_keys=max_keys, key=key, name=name, clock=clock,
        )  # fmt: skip

    @classmethod
    def sliding_window(
        cls,
        *,
        rate: float,
        per: float = DEFAULT_PER,
        backend: RateLimitBackend | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        max_keys: int | None = None,
        key: KeyFunc | None = None,
        name: str = "",
        clock: Clock | None = None,
    ) -> RateLimiter:
        """A sliding-window counter: ``rate`` requests per ``per``-second window."""
        return cls(
            algorithm="sliding_window", rate=rate, per=per, backend=backend,
            max_wait=max_wait, max_keys=max_keys, key=key, name=name, clock=clock,
        )  # fmt: skip

    # -- run-time changes ---------------------------------------------------------------

    def reconfigure(
        self, *, rate: float | None = None, per: float | None = None, burst: int | None = None
    ) -> RateLimiterOptions:
        """Change the rate, period or burst while the limiter is in use.

        Omitted options keep their current values (``burst`` does not follow a new
        ``rate``). Keys already held by a :class:`MemoryBackend` keep the requests
        they have in use, up to the new burst (or limit), draining at the new rate;
        see ``docs/rate-limiter.md``. Other backends keep their stored state as it is.
        Emits ``rate_limiter.reconfigured``. The decision path is unchanged: it reads
        the two backend parameters, swapped here in one statement.

        Args:
            rate: requests per ``per`` seconds.
            per: the period of ``rate``, seconds.
            burst: requests admitted at once from idle (GCRA and token bucket only).

        Returns:
            The new options (also ``limiter.options``).

        Raises:
            ValueError: for an invalid value, as at construction; the limiter is unchanged.
        """
        o = self.options
        options = RateLimiterOptions(
            algorithm=o.algorithm,
            rate=o.rate if rate is None else rate,
            per=o.per if per is None else per,
            burst=o.burst if burst is None else burst,
            max_wait=o.max_wait,
            max_keys=o.max_keys,
        )
        old = (self._a, self._b)
        new = _parameters(options)
        # One tuple assignment: no thread switch can separate the two stores, so a
        # decision reads either the old pair or the new one.
        self._a, self._b = new
        self.options = options
        if isinstance(self.backend, MemoryBackend):
            self.backend.rescale(o.algorithm, self._prefix, old, new)
        if BUS.active:
            attributes = {"rate": options.rate, "per": options.per, "burst": options.burst}
            BUS.emit("rate_limiter.reconfigured", self.name, self._now(), attributes)
        return options

    # -- decisions --------------------------------------------------------------------

    def _bad_cost(self, cost: object) -> NoReturn:
        raise ValueError(f"RateLimiter: cost must be an integer >= 0, got {cost!r}")

    def _bad_key(self, key: object) -> NoReturn:
        raise TypeError(f"RateLimiter: key must be a string, got {key!r}") from None

    def _emit(self, key: str, decision: Decision) -> None:
        kind = "rate_limiter.allowed" if decision.allowed else "rate_limiter.rejected"
        attributes = {
            "key": key,
            "remaining": decision.remaining,
            "retry_after": decision.retry_after,
        }
        BUS.emit(kind, self.name, self._now(), attributes)

    def _rejected(self, key: str, cost: int, decision: Decision) -> RateLimitedError:
        if BUS.active:
            self._emit(key, decision)
        if decision.retry_after == _INF:
            reason = f"cost {cost} exceeds what it admits at once and can never be admitted"
        else:
            reason = f"retry after {decision.retry_after:.6g}s"
        return RateLimitedError(
            f"{self.name}: rate limit exceeded for key {key!r}; {reason}",
            policy=self.name,
            retry_after=decision.retry_after,
        )

    def _deadline(self, max_wait: float | None) -> float:
        """The absolute clock time after which a denied caller stops waiting."""
        if max_wait is None:
            wait = self.options.max_wait
        else:
            wait = validate.non_negative("RateLimiter.acquire", "max_wait", max_wait, finite=False)
        return self._now() + bounded_wait(wait, self.clock)

    def _next_sleep(self, key: str, cost: int, decision: Decision, deadline: float) -> float:
        """Return how long to sleep before deciding again, or raise if that is too long."""
        retry_after = decision.retry_after
        if retry_after == _INF or retry_after > deadline - self._now():
            raise self._rejected(key, cost, decision)
        return retry_after

    def try_acquire(self, key: str = "", cost: int = 1) -> Decision:
        """Take ``cost`` from ``key``'s allowance if it is there; never wait.

        Args:
            key: the partition (user, tenant, route…).
            cost: requests to take (>= 0); 0 only reads the state.

        Returns:
            The :class:`Decision`; when denied nothing was taken.

        Raises:
            ValueError: if ``cost`` is not an integer >= 0.
            TypeError: if ``key`` is not a string.
        """
        if cost is not _ONE and (cost.__class__ is not int or cost < 0):
            self._bad_cost(cost)
        try:
            storage_key = self._prefix + key
        except TypeError:
            self._bad_key(key)
        decision = self._op(storage_key, self._a, self._b, cost)
        if BUS.active:
            self._emit(key, decision)
        return decision

    def acquire(self, key: str = "", cost: int = 1, max_wait: float | None = None) -> Decision:
        """Take ``cost`` from ``key``'s allowance, sleeping on the clock until it is there.

        Args:
            key: the partition.
            cost: requests to take (>= 0).
            max_wait: seconds to wait at most; the limiter's ``max_wait`` by default.
                A current deadline (``reliant.Timeout``) shortens it.

        Returns:
            The admitting :class:`Decision`.

        Raises:
            RateLimitedError: when admission would come later than the wait allows
                (checked before sleeping: a hopeless wait fails at once).
        """
        if cost is not _ONE and (cost.__class__ is not int or cost < 0):
            self._bad_cost(cost)
        try:
            storage_key = self._prefix + key
        except TypeError:
            self._bad_key(key)
        decision = self._op(storage_key, self._a, self._b, cost)
        if not decision.allowed:
            deadline = self._deadline(max_wait)
            sleep = self.clock.sleep
            while not decision.allowed:
                sleep(self._next_sleep(key, cost, decision, deadline))
                decision = self._op(storage_key, self._a, self._b, cost)
        if BUS.active:
            self._emit(key, decision)
        return decision

    async def aacquire(
        self, key: str = "", cost: int = 1, max_wait: float | None = None
    ) -> Decision:
        """Async :meth:`acquire`: the same decisions, sleeping with ``clock.asleep``."""
        if cost is not _ONE and (cost.__class__ is not int or cost < 0):
            self._bad_cost(cost)
        try:
            storage_key = self._prefix + key
        except TypeError:
            self._bad_key(key)
        decision = await self._aop(storage_key, self._a, self._b, cost)
        if not decision.allowed:
            deadline = self._deadline(max_wait)
            asleep = self.clock.asleep
            while not decision.allowed:
                await asleep(self._next_sleep(key, cost, decision, deadline))
                decision = await self._aop(storage_key, self._a, self._b, cost)
        if BUS.active:
            self._emit(key, decision)
        return decision

    # -- policy drivers ---------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        # The hot path: one yes/no on the default key when nobody listens for events;
        # a denial falls through to acquire(), which waits or raises (a denied GCRA
        # step stores nothing, so deciding again is harmless).
        step = self._step
        if (
            step is not None
            and not BUS.active
            and step(self._prefix, self._a, self._b, 1, False) <= self._b
        ):
            return fn(*args, **kwargs)
        self.acquire("" if self._key is None else self._key(args, kwargs))
        return fn(*args, **kwargs)

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        # The same yes/no hot path as _run: the memory backend never blocks.
        step = self._step
        if (
            step is not None
            and not BUS.active
            and step(self._prefix, self._a, self._b, 1, False) <= self._b
        ):
            return await fn(*args, **kwargs)
        await self.aacquire("" if self._key is None else self._key(args, kwargs))
        return await fn(*args, **kwargs)

    def describe(self) -> dict[str, Any]:
        """Return kind, name, options and the backend's type."""
        o = self.options
        return {
            "kind": "RateLimiter",
            "name": self.name,
            "algorithm": o.algorithm,
            "rate": o.rate,
            "per": o.per,
            "burst": o.burst,
            "max_wait": o.max_wait,
            "max_keys": o.max_keys,
            "backend": type(self.backend).__name__,
        }

    def __repr__(self) -> str:
        o = self.options
        return f"RateLimiter.{o.algorithm}(rate={o.rate!r}, per={o.per!r}, name={self.name!r})"
