"""Retry: run a call again after a failure, with backoff, caps and a shared budget.

The success path is a single ``try``: no clock read, no allocation, no event. Only a
failure enters :meth:`Retry._decide`, the decision core shared by the two drivers.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.deadline import remaining
from reliant._core.events import BUS
from reliant._core.outcome import retry_after_hint
from reliant._core.policy import Args, Kwargs, Policy
from reliant._core.testing_mode import TESTING
from reliant.resilience.backoff import Backoff
from reliant.resilience.budget import RetryBudget

if TYPE_CHECKING:
    import random

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = Backoff.exponential()

_Predicate = Callable[[BaseException], bool]
RetryOn = type[BaseException] | tuple[type[BaseException], ...] | _Predicate


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryOptions:
    """Validated options of a :class:`Retry`; see its docstring."""

    attempts: int = DEFAULT_ATTEMPTS
    backoff: Backoff = DEFAULT_BACKOFF
    retry_on: RetryOn = (Exception,)
    retry_if_result: Callable[[Any], bool] | None = None
    max_elapsed: float | None = None
    budget: RetryBudget | None = None

    def __post_init__(self) -> None:
        validate.integer("Retry", "attempts", self.attempts)
        if not isinstance(self.backoff, Backoff):
            raise ValueError(
                f"Retry: backoff must be a reliant.Backoff (e.g. Backoff.exponential()), "
                f"got {self.backoff!r}"
            )
        if not callable(self.retry_on) or isinstance(self.retry_on, type):
            object.__setattr__(
                self, "retry_on", validate.exception_types("Retry", "retry_on", self.retry_on)
            )
        if self.retry_if_result is not None and not callable(self.retry_if_result):
            raise ValueError(
                f"Retry: retry_if_result must be a callable or None, got {self.retry_if_result!r}"
            )
        if self.max_elapsed is not None:
            validate.positive("Retry", "max_elapsed", self.max_elapsed)
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise ValueError(f"Retry: budget must be a RetryBudget or None, got {self.budget!r}")


class _Attempts:
    """Mutable state of one call that is being retried (allocated only on failure)."""

    __slots__ = ("attempt", "previous", "start")

    def __init__(self, start: float) -> None:
        self.attempt = 1
        self.previous = 0.0
        self.start = start


class Retry(Policy):
    """Retry a failed call with backoff.

    Args:
        attempts: total attempts, the first included (3 = one call and two retries).
        backoff: the delay schedule; exponential with full jitter by default.
        retry_on: exception types to retry, or a predicate ``(exc) -> bool``. Only
            ``Exception`` subclasses are ever retried (never cancellation or exit).
        retry_if_result: a predicate on return values that asks for another attempt;
            when attempts run out the last result is returned.
        max_elapsed: give up when the next attempt would start later than this many
            seconds after the first.
        budget: a :class:`RetryBudget`, possibly shared, that must grant every retry.
        name: the policy's name in events and telemetry.
        clock: the time source (monotonic by default).
        rng: random source for jitter.

    An exception or result with a ``retry_after`` attribute (seconds) overrides the
    computed delay. A current deadline (see :class:`Timeout`) stops retries whose wait
    would end past it. When attempts run out the last exception is re-raised unchanged.
    """

    __slots__ = ("_bookkeeping", "_budget", "_retry_if_result", "_retry_on", "_rng", "options")

    def __init__(
        self,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: Backoff = DEFAULT_BACKOFF,
        retry_on: RetryOn = (Exception,),
        retry_if_result: Callable[[Any], bool] | None = None,
        max_elapsed: float | None = None,
        budget: RetryBudget | None = None,
        name: str = "",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock)
        self.options = RetryOptions(
            attempts=attempts,
            backoff=backoff,
            retry_on=retry_on,
            retry_if_result=retry_if_result,
            max_elapsed=max_elapsed,
            budget=budget,
        )
        on = self.options.retry_on
        # After validation retry_on is a tuple of types or a predicate, never a bare type.
        self._retry_on: Callable[[BaseException], bool] = (
            (lambda exc: isinstance(exc, on)) if isinstance(on, tuple) else cast(_Predicate, on)
        )
        self._retry_if_result = retry_if_result
        self._budget = budget
        # Only a budget or a time cap needs work before the first attempt.
        self._bookkeeping = budget is not None or max_elapsed is not None
        if rng is None:
            import random  # imported on first use, not with the module

            rng = random.Random()
        self._rng = rng

    # -- decision core (no I/O) ---------------------------------------------------------

    def _decide(self, state: _Attempts, outcome: object, is_result: bool) -> float | None:
        """Return the delay before the next attempt, or ``None`` to give up."""
        o = self.options
        attempts = o.attempts
        if TESTING.enabled and TESTING.attempts is not None:
            attempts = min(attempts, TESTING.attempts)
        reason = ""
        delay = 0.0
        if state.attempt >= attempts:
            reason = "attempts"
        else:
            hint = retry_after_hint(outcome)
            delay = (
                hint
                if hint is not None
                else o.backoff.delay(state.attempt, state.previous, self._rng)
            )
            if delay == math.inf:
                reason = "never"  # e.g. a rate limiter saying this request can never pass
            elif TESTING.enabled:
                delay = 0.0
            now = self.clock.now()
            left = remaining(self.clock)
            if reason:
                pass
            elif o.max_elapsed is not None and now + delay - state.start > o.max_elapsed:
                reason = "max_elapsed"
            elif left is not None and delay >= left:
                reason = "deadline"
            elif self._budget is not None and not self._budget.try_withdraw():
                reason = "budget"
        if reason:
            if BUS.active:
                BUS.emit(
                    "retry.exhausted",
                    self.name,
                    self.clock.now(),
                    {"attempts": state.attempt, "reason": reason},
                )
            return None
        if BUS.active:
            BUS.emit(
                "retry.retrying",
                self.name,
                self.clock.now(),
                {
                    "attempt": state.attempt,
                    "delay": delay,
                    ("result" if is_result else "exception"): outcome,
                },
            )
        state.previous = delay
        state.attempt += 1
        return delay

    def _succeeded(self, state: _Attempts) -> None:
        if BUS.active:
            BUS.emit("retry.succeeded", self.name, self.clock.now(), {"attempts": state.attempt})

    def _start(self) -> float:
        if self._budget is not None:
            self._budget.record_request()
        return self.clock.now() if self.options.max_elapsed is not None else 0.0

    # -- drivers ------------------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        start = self._start() if self._bookkeeping else 0.0
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if not self._retry_on(exc):
                raise
            failure: BaseException = exc
        else:
            if self._retry_if_result is None or not self._retry_if_result(result):
                return result
            return self._again(fn, args, kwargs, _Attempts(start), result, True)
        # Retried outside the except block, so later attempts' exceptions do not get
        # the first one chained as their __context__: the last is re-raised unchanged.
        return self._again(fn, args, kwargs, _Attempts(start), failure, False)

    def _again(
        self,
        fn: Callable[..., Any],
        args: Args,
        kwargs: Kwargs,
        state: _Attempts,
        outcome: Any,
        is_result: bool,
    ) -> Any:
        sleep = self.clock.sleep
        while True:
            delay = self._decide(state, outcome, is_result)
            if delay is None:
                if is_result:
                    return outcome
                raise outcome
            if delay > 0:
                sleep(delay)
            try:
                outcome = fn(*args, **kwargs)
            except Exception as exc:
                if not self._retry_on(exc):
                    raise
                outcome, is_result = exc, False
                continue
            if self._retry_if_result is None or not self._retry_if_result(outcome):
                self._succeeded(state)
                return outcome
            is_result = True

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        start = self._start() if self._bookkeeping else 0.0
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            if not self._retry_on(exc):
                raise
            failure: BaseException = exc
        else:
            if self._retry_if_result is None or not self._retry_if_result(result):
                return result
            return await self._aagain(fn, args, kwargs, _Attempts(start), result, True)
        return await self._aagain(fn, args, kwargs, _Attempts(start), failure, False)

    async def _aagain(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: Args,
        kwargs: Kwargs,
        state: _Attempts,
        outcome: Any,
        is_result: bool,
    ) -> Any:
        asleep = self.clock.asleep
        while True:
            delay = self._decide(state, outcome, is_result)
            if delay is None:
                if is_result:
                    return outcome
                raise outcome
            if delay > 0:
                await asleep(delay)
            try:
                outcome = await fn(*args, **kwargs)
            except Exception as exc:
                if not self._retry_on(exc):
                    raise
                outcome, is_result = exc, False
                continue
            if self._retry_if_result is None or not self._retry_if_result(outcome):
                self._succeeded(state)
                return outcome
            is_result = True

    def describe(self) -> dict[str, Any]:
        """Return kind, name and options."""
        o = self.options
        return {
            "kind": "Retry",
            "name": self.name,
            "attempts": o.attempts,
            "backoff": o.backoff,
            "max_elapsed": o.max_elapsed,
            "budget": o.budget is not None,
        }
