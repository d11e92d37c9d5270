"""A circuit breaker with resilience4j's semantics (reference/resilience.md §2.1).

The breaker trips when the failure rate or the slow-call rate over a sliding window
reaches its threshold, rejects calls while open, then admits a fixed number of trial
calls (half-open) whose outcomes decide whether it closes or opens again.

All decisions live in :class:`~reliant.resilience.breaker_state.BreakerCore`, which
does no I/O and takes the time as an argument; :class:`CircuitBreaker` adds the clock,
the public API and two short drivers (sync and asyncio) that never hold a lock around
the user's callable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from reliant._core.clock import Clock
from reliant._core.policy import Args, Kwargs, Policy
from reliant.resilience.breaker_state import (
    _CLOSED,
    _DISABLED,
    _FORCED_OPEN,
    _METRICS_ONLY,
    DEFAULT_FAILURE_RATE,
    DEFAULT_HALF_OPEN_CALLS,
    DEFAULT_MAX_HALF_OPEN_WAIT,
    DEFAULT_MIN_CALLS,
    DEFAULT_OPEN_FOR,
    DEFAULT_SLOW_CALL,
    DEFAULT_SLOW_RATE,
    DEFAULT_WINDOW,
    BreakerCore,
    CircuitBreakerOptions,
    CircuitMetrics,
    CircuitState,
    _label,
)
from reliant.resilience.windows import (
    CountWindow,
    TimeWindow,
)


class SharedState(Protocol):
    """State shared with other processes (:class:`reliant.redis.SharedBreakerState`)."""

    def bind(self, core: BreakerCore, name: str, now: float) -> None:
        """Attach to the breaker's core: publish its transitions, apply remote ones."""

    def maybe_sync(self, now: float) -> None:
        """Apply a remote transition if the sync interval has passed (cheap otherwise)."""


class CircuitBreaker(Policy):
    """Stop calling a dependency that keeps failing or slowing down, then probe it.

    CLOSED: calls run and their outcomes fill ``window``. Once the window holds
    ``min_calls`` outcomes (at most its size, for a count window), the breaker opens
    when the failure rate reaches ``failure_rate`` or the slow-call rate reaches
    ``slow_rate`` (both inclusive; slow means longer than ``slow_call``, strictly).
    OPEN: calls fail fast with :class:`~reliant.CircuitOpenError` until strictly
    after ``open_for`` seconds; the first call after that turns the breaker
    HALF_OPEN. HALF_OPEN: ``half_open_calls`` trial calls run (others are rejected);
    once ``min(min_calls, half_open_calls)`` of them finished, rates below both
    thresholds close the breaker, otherwise it opens again.

    Args:
        failure_rate: failure ratio in (0, 1] at which the breaker opens.
        slow_rate: slow-call ratio in (0, 1] at which the breaker opens.
        slow_call: seconds above which a call is slow (> 0).
        window: :class:`CountWindow` (last N calls) or :class:`TimeWindow` (last N seconds).
        min_calls: outcomes needed before rates are judged (>= 1).
        half_open_calls: trial calls admitted while half-open (>= 1).
        open_for: seconds to stay open (> 0), or a function of the number of
            consecutive openings (1 for the first; reset when the breaker closes).
        record: exceptions that count as failures; other ``Exception`` s count as successes.
        ignore: exceptions that count as nothing (checked before ``record``).
        record_result: a predicate on return values marking them failures.
        max_half_open_wait: seconds after which a half-open breaker opens again
            (0: wait for the trial calls however long they take).
        name: the policy name in events and errors.
        clock: the time source (default: the monotonic clock).
        shared: state shared with other processes, e.g.
            :class:`reliant.redis.SharedBreakerState` (default: this process only).

    Raises:
        ValueError: for an invalid option, naming it and its accepted range.
    """

    __slots__ = ("_core", "_now", "_shared", "options")

    def __init__(
        self,
        *,
        failure_rate: float = DEFAULT_FAILURE_RATE,
        slow_rate: float = DEFAULT_SLOW_RATE,
        slow_call: float = DEFAULT_SLOW_CALL,
        window: CountWindow | TimeWindow = DEFAULT_WINDOW,
        min_calls: int = DEFAULT_MIN_CALLS,
        half_open_calls: int = DEFAULT_HALF_OPEN_CALLS,
        open_for: float | Callable[[int], float] = DEFAULT_OPEN_FOR,
        record: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
        ignore: type[BaseException] | tuple[type[BaseException], ...] = (),
        record_result: Callable[[Any], bool] | None = None,
        max_half_open_wait: float = DEFAULT_MAX_HALF_OPEN_WAIT,
        name: str = "",
        clock: Clock | None = None,
        shared: SharedState | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        self.options = CircuitBreakerOptions(
            failure_rate=failure_rate,
            slow_rate=slow_rate,
            slow_call=slow_call,
            window=window,
            min_calls=min_calls,
            half_open_calls=half_open_calls,
            open_for=open_for,
            record=record,  # type: ignore[arg-type]  # normalised to a tuple
            ignore=ignore,  # type: ignore[arg-type]
            record_result=record_result,
            max_half_open_wait=max_half_open_wait,
        )
        self._now = self.clock.now
        self._core = BreakerCore(self.options, self.name, self._now())
        self._shared = shared
        if shared is not None:
            shared.bind(self._core, self.name, self._now())

    # -- drivers ----------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        core = self._core
        now = self._now
        if self._shared is not None:
            self._shared.maybe_sync(now())
        if core.state is not _CLOSED and not core.try_acquire(now()):
            raise core.rejection(now())
        start = now()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            end = now()
            core.on_error(end - start, exc, end)
            raise
        end = now()
        core.on_result(end - start, result, end)
        return result

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        core = self._core
        now = self._now
        if self._shared is not None:
            self._shared.maybe_sync(now())
        if core.state is not _CLOSED and not core.try_acquire(now()):
            raise core.rejection(now())
        start = now()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            end = now()
            core.on_error(end - start, exc, end)
            raise
        end = now()
        core.on_result(end - start, result, end)
        return result

    # -- state and metrics ------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """The current state (OPEN turns HALF_OPEN only when a call asks to run)."""
        now = self._now()
        if self._shared is not None:
            self._shared.maybe_sync(now)
        return self._core.current_state(now)

    @property
    def metrics(self) -> CircuitMetrics:
        """A snapshot of the current window and rejection count."""
        return self._core.metrics(self._now())

    def force_open(self) -> None:
        """Reject every call until another manual transition."""
        self._core.transition(_FORCED_OPEN, self._now())

    def disable(self) -> None:
        """Admit every call and record nothing until another manual transition."""
        self._core.transition(_DISABLED, self._now())

    def metrics_only(self) -> None:
        """Admit every call and keep metrics (and threshold events), never opening."""
        self._core.transition(_METRICS_ONLY, self._now())

    def close(self) -> None:
        """Transition to CLOSED with fresh metrics."""
        self._core.transition(_CLOSED, self._now())

    def reset(self) -> None:
        """Return to the initial state: CLOSED, fresh metrics, no openings counted."""
        self._core.transition(_CLOSED, self._now())

    # -- the permission protocol, for code that is not one call -----------------

    def try_acquire(self) -> bool:
        """Ask to start a call now; ``True`` means go ahead and report its outcome.

        A half-open breaker hands out a limited number of permits; report every
        permitted call with :meth:`on_success`, :meth:`on_error` or :meth:`on_result`.
        """
        now = self._now()
        if self._shared is not None:
            self._shared.maybe_sync(now)
        return self._core.try_acquire(now)

    def acquire(self) -> None:
        """Like :meth:`try_acquire`, but raise instead of returning ``False``.

        Raises:
            CircuitOpenError: the call is not permitted; ``retry_after`` says when the
                breaker may admit calls again (``None`` when unknown or forced open).
        """
        core = self._core
        now = self._now()
        if self._shared is not None:
            self._shared.maybe_sync(now)
        if not core.try_acquire(now):
            raise core.rejection(now)

    def on_success(self, duration: float) -> None:
        """Report a permitted call that succeeded after ``duration`` seconds."""
        self._core.on_success(duration, self._now())

    def on_error(self, duration: float, exc: BaseException) -> None:
        """Report a permitted call that raised ``exc`` after ``duration`` seconds."""
        self._core.on_error(duration, exc, self._now())

    def on_result(self, duration: float, result: object) -> None:
        """Report a permitted call that returned ``result`` after ``duration`` seconds."""
        self._core.on_result(duration, result, self._now())

    def describe(self) -> dict[str, Any]:
        """Return kind, name and options (JSON-friendly)."""
        o = self.options
        window = o.window
        return {
            "kind": "CircuitBreaker",
            "name": self.name,
            "failure_rate": o.failure_rate,
            "slow_rate": o.slow_rate,
            "slow_call": o.slow_call,
            "window": (
                {"type": "count", "size": window.size}
                if isinstance(window, CountWindow)
                else {"type": "time", "seconds": window.seconds}
            ),
            "min_calls": o.min_calls,
            "half_open_calls": o.half_open_calls,
            "open_for": o.open_for if not callable(o.open_for) else _label(o.open_for),
            "record": [t.__name__ for t in o.record],
            "ignore": [t.__name__ for t in o.ignore],
            "record_result": o.record_result is not None,
            "max_half_open_wait": o.max_half_open_wait,
        }

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self._core.state.value!r})"


__all__ = [
    "CircuitBreaker",
    "CircuitBreakerOptions",
    "CircuitMetrics",
    "CircuitState",
    "CountWindow",
    "SharedState",
    "TimeWindow",
]
