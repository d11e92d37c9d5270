"""AdaptiveLimit: a concurrency limit that finds its own level from latency and drops.

The policy admits a call while fewer than ``limit`` calls are in flight and rejects it
otherwise. Every admitted call that finishes becomes a sample (its round-trip time, the
inflight count it started with, and whether it was a drop) for one of the algorithms in
:mod:`reliant.resilience.limits`, which moves the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.exceptions import ConcurrencyLimitError, RejectedError
from reliant.resilience.limits import (
    AIMD,
    DEFAULT_INITIAL,
    OPTIONS,
    AIMDOptions,
    Gradient2,
    Gradient2Options,
    LimitAlgorithm,
    Vegas,
    VegasOptions,
)

if TYPE_CHECKING:
    import random

DEFAULT_ALGORITHM = "gradient2"
DEFAULT_DROP_ON: tuple[type[BaseException], ...] = (TimeoutError,)
ALGORITHMS = ("aimd", "gradient2", "vegas")

#: The algorithm-specific options each algorithm accepts.
ALGORITHM_OPTIONS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(cls) if f.name not in ("initial", "min_limit", "max_limit"))
    for name, cls in OPTIONS.items()
}
_SPECIFIC = frozenset(option for names in ALGORITHM_OPTIONS.values() for option in names)

# How a finished call feeds the algorithm.
_SAMPLE = 0  # a measurement: success, or an exception that is not a drop
_DROP = 1  # an exception in drop_on, or a RejectedError from an inner policy
_IGNORE = 2  # cancelled or interrupted: no measurement at all


@dataclass(frozen=True, slots=True, kw_only=True)
class AdaptiveLimitOptions:
    """Validated options of an :class:`AdaptiveLimit`.

    ``min_limit``, ``max_limit`` and the options of the chosen algorithm are filled in
    with that algorithm's defaults when left ``None``; options of other algorithms stay
    ``None``, and giving one is an error.
    """

    algorithm: str = DEFAULT_ALGORITHM
    initial: int = DEFAULT_INITIAL
    min_limit: int | None = None
    max_limit: int | None = None
    drop_on: tuple[type[BaseException], ...] = DEFAULT_DROP_ON
    backoff_ratio: float | None = None
    timeout: float | None = None
    smoothing: float | None = None
    queue_size: int | None = None
    tolerance: float | None = None
    long_window: int | None = None
    probe_multiplier: int | None = None

    def __post_init__(self) -> None:
        owner = "AdaptiveLimit"
        algorithm = validate.one_of(owner, "algorithm", self.algorithm, ALGORITHMS)
        object.__setattr__(
            self, "drop_on", validate.exception_types(owner, "drop_on", self.drop_on)
        )
        accepted = ALGORITHM_OPTIONS[algorithm]
        for option in sorted(_SPECIFIC.difference(accepted)):
            if getattr(self, option) is not None:
                raise ValueError(
                    f"{owner}: {option} does not apply to algorithm {algorithm!r}, "
                    f"which accepts {', '.join(accepted)}"
                )
        given = {
            option: getattr(self, option)
            for option in ("initial", "min_limit", "max_limit", *accepted)
            if getattr(self, option) is not None
        }
        resolved = OPTIONS[algorithm](**given)
        for f in fields(resolved):
            object.__setattr__(self, f.name, getattr(resolved, f.name))

    def algorithm_options(self) -> AIMDOptions | VegasOptions | Gradient2Options:
        """Return the options of the chosen algorithm alone."""
        cls = OPTIONS[self.algorithm]
        return cls(**{f.name: getattr(self, f.name) for f in fields(cls)})


def build_algorithm(options: AdaptiveLimitOptions, rng: random.Random | None) -> LimitAlgorithm:
    """Return a fresh limit algorithm for ``options``."""
    spec = options.algorithm_options()
    if isinstance(spec, AIMDOptions):
        return AIMD(spec)
    if isinstance(spec, VegasOptions):
        return Vegas(spec, rng=rng)
    return Gradient2(spec)


class AdaptiveLimit(Policy):
    """Cap concurrent calls at a limit that adapts to the backend's latency and drops.

    Args:
        algorithm: ``"gradient2"`` (default), ``"aimd"`` or ``"vegas"``
            (see :mod:`reliant.resilience.limits` for their rules and defaults).
        initial: the starting limit.
        min_limit: the floor of the limit; the algorithm's default when omitted
            (20 for AIMD and Gradient2, 1 for Vegas).
        max_limit: the ceiling of the limit; the algorithm's default when omitted
            (200 for AIMD and Gradient2, 1000 for Vegas).
        drop_on: exceptions that count as drops (default ``TimeoutError``, which includes
            ``TimeoutExceeded``). A ``RejectedError`` from an inner policy is always a drop.
            Any other ``Exception`` is a normal sample with its RTT; cancellation and
            other ``BaseException`` leave no sample.
        backoff_ratio: AIMD: the factor a drop multiplies the limit by (default 0.9).
        timeout: AIMD: an RTT above this many seconds counts as a drop (default 5.0).
        smoothing: Gradient2 (default 0.2) and Vegas (default 1.0): weight of a new estimate.
        queue_size: Gradient2: growth allowance per update (default 4).
        tolerance: Gradient2: tolerated RTT inflation (default 1.5).
        long_window: Gradient2: samples in the long-RTT average (default 600).
        probe_multiplier: Vegas: re-probe the no-load RTT about every this many × L samples
            (default 30).
        name: the policy's name in events and errors.
        clock: the time source for RTTs.
        rng: Vegas's probe jitter; an unseeded generator when omitted.

    Raises:
        ValueError: on an invalid option, or one that the algorithm does not take.
    """

    __slots__ = (
        "_algorithm",
        "_drops",
        "_inflight",
        "_limit",
        "_lock",
        "_now",
        "_update",
        "options",
    )

    def __init__(
        self,
        *,
        algorithm: str = DEFAULT_ALGORITHM,
        initial: int = DEFAULT_INITIAL,
        min_limit: int | None = None,
        max_limit: int | None = None,
        drop_on: type[BaseException] | tuple[type[BaseException], ...] = DEFAULT_DROP_ON,
        backoff_ratio: float | None = None,
        timeout: float | None = None,
        smoothing: float | None = None,
        queue_size: int | None = None,
        tolerance: float | None = None,
        long_window: int | None = None,
        probe_multiplier: int | None = None,
        name: str = "",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        import random  # imported on first use, not with the module

        if rng is not None and not isinstance(rng, random.Random):
            raise ValueError(f"AdaptiveLimit: rng must be a random.Random, got {rng!r}")
        self.options = AdaptiveLimitOptions(
            algorithm=algorithm,
            initial=initial,
            min_limit=min_limit,
            max_limit=max_limit,
            drop_on=drop_on if isinstance(drop_on, tuple) else (drop_on,),
            backoff_ratio=backoff_ratio,
            timeout=timeout,
            smoothing=smoothing,
            queue_size=queue_size,
            tolerance=tolerance,
            long_window=long_window,
            probe_multiplier=probe_multiplier,
        )
        self._algorithm = build_algorithm(self.options, rng)
        self._limit = self._algorithm.limit
        self._update = self._algorithm.update
        self._inflight = 0
        self._drops: tuple[type[BaseException], ...] = (*self.options.drop_on, RejectedError)
        self._lock = threading.Lock()
        self._now = self.clock.now

    @property
    def limit(self) -> int:
        """The current concurrency limit."""
        return self._limit

    @property
    def inflight(self) -> int:
        """Calls admitted and not yet finished."""
        return self._inflight

    # -- the decision core (no I/O) ----------------------------------------------------

    def _acquire(self) -> int:
        """Admit one call and return the inflight count including it, or raise."""
        lock = self._lock
        lock.acquire()  # plain acquire/release: half the cost of `with` on this path
        inflight = self._inflight
        limit = self._limit
        if inflight < limit:
            self._inflight = inflight = inflight + 1
            lock.release()
            return inflight
        lock.release()
        if BUS.active:
            BUS.emit(
                "adaptive_limit.rejected",
                self.name,
                self._now(),
                {"limit": limit, "inflight": inflight},
            )
        raise ConcurrencyLimitError(
            f"{self.name}: concurrency limit {limit} reached", policy=self.name, retry_after=None
        )

    def _complete(self, started: float, inflight: int, outcome: int) -> None:
        """Release the call's slot and feed its sample to the algorithm."""
        rtt = self._now() - started
        lock = self._lock
        lock.acquire()
        try:
            self._inflight -= 1
            if outcome == _IGNORE:
                return
            old = self._limit
            self._limit = new = self._update(rtt, inflight, outcome == _DROP)
        finally:
            lock.release()
        if new != old and BUS.active:
            BUS.emit(
                "adaptive_limit.limit_changed", self.name, started + rtt, {"old": old, "new": new}
            )

    # -- drivers -----------------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        inflight = self._acquire()
        started = self._now()
        outcome = _IGNORE
        try:
            result = fn(*args, **kwargs)
            outcome = _SAMPLE
            return result
        except self._drops:
            outcome = _DROP
            raise
        except Exception:
            outcome = _SAMPLE
            raise
        finally:
            self._complete(started, inflight, outcome)

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        inflight = self._acquire()
        started = self._now()
        outcome = _IGNORE
        try:
            result = await fn(*args, **kwargs)
            outcome = _SAMPLE
            return result
        except self._drops:
            outcome = _DROP
            raise
        except Exception:
            outcome = _SAMPLE
            raise
        finally:
            self._complete(started, inflight, outcome)

    def describe(self) -> dict[str, Any]:
        """Return kind, name and the options that apply to the chosen algorithm."""
        o = self.options
        described: dict[str, Any] = {
            "kind": "AdaptiveLimit",
            "name": self.name,
            "algorithm": o.algorithm,
            "drop_on": [t.__name__ for t in o.drop_on],
        }
        for f in fields(o.algorithm_options()):
            described[f.name] = getattr(o, f.name)
        return described

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimit(name={self.name!r}, algorithm={self.options.algorithm!r}, "
            f"limit={self._limit}, inflight={self._inflight})"
        )
