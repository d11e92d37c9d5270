"""The circuit breaker's state machine: states, options, metrics and the decision core.

:class:`BreakerCore` holds the state and the sliding window and makes every decision
of resilience4j's breaker (reference/resilience.md §2.1). It does no I/O and takes the
time as an argument, so it is tested without a clock and can later be backed by shared
state; :class:`~reliant.resilience.circuit_breaker.CircuitBreaker` drives it.
"""

from __future__ import annotations

import enum
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reliant._core import validate
from reliant._core.events import BUS
from reliant.exceptions import CircuitOpenError
from reliant.resilience.windows import (
    FAILED,
    OK,
    SLOW,
    SLOW_FAILED,
    CountRing,
    CountWindow,
    SlidingWindow,
    TimeBuckets,
    TimeWindow,
)

#: Documented defaults, as resilience4j's ``CircuitBreakerConfig``.
DEFAULT_FAILURE_RATE = 0.5
DEFAULT_SLOW_RATE = 1.0
DEFAULT_SLOW_CALL = 60.0
DEFAULT_WINDOW = CountWindow(100)
DEFAULT_MIN_CALLS = 100
DEFAULT_HALF_OPEN_CALLS = 10
DEFAULT_OPEN_FOR = 60.0
DEFAULT_MAX_HALF_OPEN_WAIT = 0.0

_OWNER = "CircuitBreaker"


class CircuitState(enum.Enum):
    """The state of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"
    METRICS_ONLY = "metrics_only"


_CLOSED = CircuitState.CLOSED
_OPEN = CircuitState.OPEN
_HALF_OPEN = CircuitState.HALF_OPEN
_FORCED_OPEN = CircuitState.FORCED_OPEN
_DISABLED = CircuitState.DISABLED
_METRICS_ONLY = CircuitState.METRICS_ONLY
#: Outcome code by ``failed + 2 * slow``.
_CODES = (OK, FAILED, SLOW, SLOW_FAILED)


def _label(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or repr(fn))


def _rate(owner: str, option: str, value: object) -> float:
    v = validate.number(owner, option, value)
    if not 0.0 < v <= 1.0:
        raise ValueError(f"{owner}: {option} must be in (0, 1], got {value!r}")
    return v


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitBreakerOptions:
    """The validated options of a :class:`CircuitBreaker` (see its docstring)."""

    failure_rate: float = DEFAULT_FAILURE_RATE
    slow_rate: float = DEFAULT_SLOW_RATE
    slow_call: float = DEFAULT_SLOW_CALL
    window: CountWindow | TimeWindow = DEFAULT_WINDOW
    min_calls: int = DEFAULT_MIN_CALLS
    half_open_calls: int = DEFAULT_HALF_OPEN_CALLS
    open_for: float | Callable[[int], float] = DEFAULT_OPEN_FOR
    record: tuple[type[BaseException], ...] = (Exception,)
    ignore: tuple[type[BaseException], ...] = ()
    record_result: Callable[[Any], bool] | None = None
    max_half_open_wait: float = DEFAULT_MAX_HALF_OPEN_WAIT

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("failure_rate", _rate(_OWNER, "failure_rate", self.failure_rate))
        put("slow_rate", _rate(_OWNER, "slow_rate", self.slow_rate))
        put("slow_call", validate.positive(_OWNER, "slow_call", self.slow_call))
        if not isinstance(self.window, CountWindow | TimeWindow):
            raise ValueError(
                f"{_OWNER}: window must be a CountWindow or a TimeWindow, got {self.window!r}"
            )
        validate.integer(_OWNER, "min_calls", self.min_calls)
        validate.integer(_OWNER, "half_open_calls", self.half_open_calls)
        if not callable(self.open_for):
            put("open_for", validate.positive(_OWNER, "open_for", self.open_for))
        put("record", validate.exception_types(_OWNER, "record", self.record))
        put("ignore", validate.exception_types(_OWNER, "ignore", self.ignore))
        if self.record_result is not None and not callable(self.record_result):
            raise ValueError(
                f"{_OWNER}: record_result must be a callable or None, got {self.record_result!r}"
            )
        put(
            "max_half_open_wait",
            validate.non_negative(_OWNER, "max_half_open_wait", self.max_half_open_wait),
        )


@dataclass(frozen=True, slots=True)
class CircuitMetrics:
    """A snapshot of the breaker's current window.

    Attributes:
        failure_rate: failed / calls in [0, 1], or -1.0 below the minimum number of calls.
        slow_rate: slow / calls in [0, 1], or -1.0 below the minimum number of calls.
        calls: outcomes in the window.
        failed_calls: failures among them.
        slow_calls: slow calls among them (failed or not).
        not_permitted_calls: calls rejected since the current metrics were started.
    """

    failure_rate: float
    slow_rate: float
    calls: int
    failed_calls: int
    slow_calls: int
    not_permitted_calls: int


_Change = tuple[str, dict[str, Any]]


class BreakerCore:
    """The decision core: state, window and transitions, with no I/O.

    Every method takes the time (``now``) as an argument. This class is also the
    seam for shared state: a store-backed core offering the same methods can
    replace it without touching the drivers or the public API.

    Bookkeeping happens under a lock, with one exception that keeps the common
    path cheap. Once a closed breaker's window holds its minimum number of calls and
    is below both thresholds, a fast success can only lower both rates (in a time
    window, as long as no bucket is evicted: within the same second), so it cannot
    open the breaker. Such a success just takes a ticket from an ``itertools.count``
    (atomic, no lock); every locked section first folds the tickets taken since the
    last one into the window as its newest outcomes (:meth:`_fold`), so anything
    that reads the window sees them, in order.
    """

    __slots__ = (
        "_attempts",
        "_closed_min",
        "_exceeded",
        "_failure_rate",
        "_fast_until",
        "_folded",
        "_half_open_until",
        "_ignore",
        "_lock",
        "_min_calls",
        "_name",
        "_not_permitted",
        "_options",
        "_permits",
        "_record",
        "_record_result",
        "_slow_call",
        "_slow_rate",
        "_tick",
        "_wait_until",
        "_window",
        "listener",
        "state",
        "tally",
    )

    def __init__(self, options: CircuitBreakerOptions, name: str, now: float) -> None:
        self._options = options
        self._name = name
        self._lock = threading.Lock()
        self._failure_rate = options.failure_rate
        self._slow_rate = options.slow_rate
        self._slow_call = options.slow_call
        self._record = options.record
        self._ignore = options.ignore
        self._record_result = options.record_result
        window = options.window
        self._closed_min = options.min_calls
        if isinstance(window, CountWindow):
            self._closed_min = min(options.min_calls, window.size)
        self._window: SlidingWindow = window.create(now)
        self._min_calls = self._closed_min
        self._attempts = 0
        self._wait_until = 0.0
        self._permits = 0
        self._half_open_until = math.inf
        self._not_permitted = 0
        self._exceeded = 0  # METRICS_ONLY: 1 failure rate reported, 2 slow rate reported
        #: Plain successes ending before this time may skip the lock (see above).
        self._fast_until = -math.inf
        self._tick = itertools.count().__next__
        self._folded = 0  # the first ticket not yet folded into the window
        #: The current state; the drivers read it without the lock.
        self.state = _CLOSED
        #: Called as ``listener(state, now)`` after each transition, outside the lock
        #: (the seam for shared state, :class:`reliant.redis.SharedBreakerState`).
        self.listener: Callable[[CircuitState, float], None] | None = None
        #: ``[calls, failed, slow]`` recorded while CLOSED since :meth:`take_tally`, or
        #: ``None`` (not counted): the seam for shared window aggregates.
        self.tally: list[int] | None = None

    # -- permission -------------------------------------------------------------

    def try_acquire(self, now: float) -> bool:
        """Tell whether a call starting at ``now`` may run, taking a half-open permit."""
        state = self.state
        if state is _CLOSED or state is _DISABLED or state is _METRICS_ONLY:
            return True
        changes: list[_Change] = []
        with self._lock:
            permitted = self._acquire(now, changes)
        self._emit(changes, now)
        return permitted

    def _acquire(self, now: float, changes: list[_Change]) -> bool:
        state = self._expire(now, changes)
        if state is _OPEN:
            # resilience4j's isAfter: a call exactly at the end of the wait is rejected.
            if now <= self._wait_until:
                self._not_permitted += 1
                return False
            changes.append(self._to(_HALF_OPEN, now))
            state = _HALF_OPEN
        if state is _HALF_OPEN:
            if self._permits > 0:
                self._permits -= 1
                return True
            self._not_permitted += 1
            return False
        if state is _FORCED_OPEN:
            self._not_permitted += 1
            return False
        return True

    def rejection(self, now: float) -> CircuitOpenError:
        """Build the error for a call ``try_acquire`` refused at ``now``."""
        state = self.state
        retry_after = max(0.0, self._wait_until - now) if state is _OPEN else None
        if BUS.active:
            BUS.emit(
                "circuit_breaker.rejected",
                self._name,
                now,
                {"state": state.value, "retry_after": retry_after},
            )
        return CircuitOpenError(
            f"circuit breaker {self._name!r} rejected the call ({state.value})",
            policy=self._name,
            retry_after=retry_after,
        )

    # -- outcomes ---------------------------------------------------------------

    def on_success(self, duration: float, now: float) -> None:
        """Record a successful call that took ``duration`` and ended at ``now``."""
        self._outcome(duration, now, None, False)

    def on_result(self, duration: float, result: object, now: float) -> None:
        """Record a call that returned ``result``: a failure if ``record_result`` says so."""
        predicate = self._record_result
        self._outcome(duration, now, None, predicate is not None and bool(predicate(result)))

    def on_error(self, duration: float, exc: BaseException, now: float) -> None:
        """Record a call that raised ``exc``: ignored, a failure, or a success.

        ``ignore`` wins over ``record``; an ``Exception`` matching neither counts as a
        success, as in resilience4j. A ``BaseException`` that is not an ``Exception``
        (cancellation, ``KeyboardInterrupt``) and not in ``record`` is ignored: the
        call did not finish, so it has no outcome.
        """
        if isinstance(exc, self._ignore):
            self.on_ignored(exc, now)
        elif isinstance(exc, self._record):
            self._outcome(duration, now, exc, True)
        elif isinstance(exc, Exception):
            self._outcome(duration, now, None, False)
        else:
            self.on_ignored(exc, now)

    def on_ignored(self, exc: BaseException, now: float) -> None:
        """Record nothing for a call that raised an ignored ``exc``; free its permit."""
        state = self.state
        if state is _DISABLED or state is _FORCED_OPEN:
            return
        with self._lock:
            if self.state is _HALF_OPEN:
                self._permits = min(self._permits + 1, self._options.half_open_calls)
        if BUS.active:
            BUS.emit("circuit_breaker.ignored", self._name, now, {"exception": exc})

    def _outcome(
        self, duration: float, now: float, exc: BaseException | None, failed: bool
    ) -> None:
        slow = duration > self._slow_call
        if now < self._fast_until and not (failed or slow or BUS.active):
            self._tick()
            return
        state = self.state
        if state is _DISABLED or state is _FORCED_OPEN:
            return
        if BUS.active:
            if failed:
                attributes = {"duration": duration, "slow": slow, "exception": exc}
                BUS.emit("circuit_breaker.failure", self._name, now, attributes)
            else:
                attributes = {"duration": duration, "slow": slow}
                BUS.emit("circuit_breaker.success", self._name, now, attributes)
        changes: list[_Change] = []
        with self._lock:
            self._fold()
            state = self.state
            if state is _HALF_OPEN:
                state = self._expire(now, changes)
            elif state is _DISABLED or state is _FORCED_OPEN:
                return
            window = self._window
            window.record(_CODES[failed + 2 * slow], now)
            tally = self.tally
            if tally is not None and state is _CLOSED:
                tally[0] += 1
                tally[1] += failed
                tally[2] += slow
            calls = window.calls
            # No decision once open, or with too few calls to judge.
            if state is not _OPEN and calls >= self._min_calls:
                n_failed = window.failed
                n_slow = window.slow
                failing = n_failed > 0 and n_failed / calls >= self._failure_rate
                slowing = n_slow > 0 and n_slow / calls >= self._slow_rate
                if failing or slowing or state is _HALF_OPEN:
                    self._judge(state, calls, failing, slowing, now, changes)
                elif state is _CLOSED:
                    # Count windows never evict early; time windows do, at the next second.
                    self._fast_until = (
                        math.floor(now) + 1.0 if isinstance(window, TimeBuckets) else math.inf
                    )
        if changes:
            self._emit(changes, now)

    def _judge(
        self,
        state: CircuitState,
        calls: int,
        failing: bool,
        slowing: bool,
        now: float,
        changes: list[_Change],
    ) -> None:
        """Act on a window holding enough calls (lock held), adding events to ``changes``."""
        window = self._window
        exceeded = (
            "circuit_breaker.threshold_exceeded",
            {"failure_rate": window.failed / calls, "slow_rate": window.slow / calls},
        )
        if state is _HALF_OPEN:
            changes.append(self._to(_OPEN if failing or slowing else _CLOSED, now))
        elif state is _CLOSED:
            changes.append(exceeded)
            changes.append(self._to(_OPEN, now))
        else:  # METRICS_ONLY reports each exceeded threshold once, never opens
            new = (1 if failing else 0) | (2 if slowing else 0)
            if new & ~self._exceeded:
                self._exceeded |= new
                changes.append(exceeded)

    # -- transitions ------------------------------------------------------------

    def transition(self, new: CircuitState, now: float, open_until: float | None = None) -> None:
        """Move to ``new`` at ``now`` with fresh metrics (the manual transitions).

        Args:
            new: the state to move to.
            now: the time of the transition.
            open_until: for OPEN, the end of the open period (default: ``now`` plus
                the ``open_for`` wait), as when another process opened the breaker.
        """
        with self._lock:
            change = self._to(new, now)
            if open_until is not None and new is _OPEN:
                self._wait_until = open_until
        self._emit([change], now)

    def take_tally(self) -> tuple[int, int, int]:
        """Return ``(calls, failed, slow)`` recorded while CLOSED since the last take.

        Starts counting on the first take (``tally`` is ``None`` until then).
        """
        with self._lock:
            self._fold()
            tally = self.tally
            self.tally = [0, 0, 0]
        return (tally[0], tally[1], tally[2]) if tally is not None else (0, 0, 0)

    def trip(self, now: float, calls: int, failed: int, slow: int) -> bool:
        """Open a CLOSED breaker if totals from elsewhere reach a threshold.

        Applies this breaker's ``min_calls``, ``failure_rate`` and ``slow_rate``
        (inclusive) to ``calls``/``failed``/``slow``, e.g. totals over every process.

        Returns:
            whether the breaker opened.
        """
        if calls < self._closed_min or calls <= 0:
            return False
        failing = failed > 0 and failed / calls >= self._failure_rate
        slowing = slow > 0 and slow / calls >= self._slow_rate
        if not (failing or slowing):
            return False
        changes: list[_Change] = []
        with self._lock:
            if self.state is not _CLOSED:
                return False
            attributes = {"failure_rate": failed / calls, "slow_rate": slow / calls}
            changes.append(("circuit_breaker.threshold_exceeded", attributes))
            changes.append(self._to(_OPEN, now))
        self._emit(changes, now)
        return True

    @property
    def options(self) -> CircuitBreakerOptions:
        """The breaker's validated options."""
        return self._options

    @property
    def open_until(self) -> float:
        """When the current (or last) open period ends, on the breaker's clock."""
        return self._wait_until

    def current_state(self, now: float) -> CircuitState:
        """Return the state at ``now``, ending an expired half-open period first."""
        if self.state is _HALF_OPEN and now >= self._half_open_until:
            changes: list[_Change] = []
            with self._lock:
                self._expire(now, changes)
            self._emit(changes, now)
        return self.state

    def metrics(self, now: float) -> CircuitMetrics:
        """Return a snapshot of the current window as of ``now``."""
        with self._lock:
            self._fold()
            window = self._window
            window.refresh(now)
            calls, failed, slow = window.calls, window.failed, window.slow
            minimum, rejected = self._min_calls, self._not_permitted
        judged = calls > 0 and calls >= minimum
        return CircuitMetrics(
            failure_rate=failed / calls if judged else -1.0,
            slow_rate=slow / calls if judged else -1.0,
            calls=calls,
            failed_calls=failed,
            slow_calls=slow,
            not_permitted_calls=rejected,
        )

    def _expire(self, now: float, changes: list[_Change]) -> CircuitState:
        """End a half-open period older than ``max_half_open_wait`` (lock held)."""
        if self.state is _HALF_OPEN and now >= self._half_open_until:
            # Open from the moment the period ended, as a scheduler would have.
            changes.append(self._to(_OPEN, self._half_open_until))
        return self.state

    def _to(self, new: CircuitState, at: float) -> _Change:
        """Switch to ``new`` at time ``at`` (lock held); return the state-changed event.

        Opening keeps the current window, so outcomes of calls still running are
        recorded; every other state starts fresh metrics.
        """
        self._fold()
        self._fast_until = -math.inf
        if self.tally is not None:
            self.tally = [0, 0, 0]  # outcomes of the period that ends are not shared
        old = self.state
        options = self._options
        if new is _OPEN:
            attempts = self._attempts + 1
            self._wait_until = at + self._open_wait(attempts)
            self._attempts = attempts
        elif new is _HALF_OPEN:
            size = options.half_open_calls
            self._window = CountRing(size)
            self._min_calls = min(options.min_calls, size)
            self._permits = size
            wait = options.max_half_open_wait
            self._half_open_until = at + wait if wait > 0 else math.inf
            self._not_permitted = 0
        else:
            self._window = options.window.create(at)
            self._min_calls = self._closed_min
            self._attempts = 0
            self._exceeded = 0
            self._not_permitted = 0
        self.state = new
        return ("circuit_breaker.state_changed", {"from_state": old.value, "to_state": new.value})

    def _fold(self) -> None:
        """Add the successes that took a ticket since the last fold (lock held)."""
        ticket = self._tick()  # this fold's own ticket marks the end of the batch
        successes = ticket - self._folded
        self._folded = ticket + 1
        if successes:
            self._window.add_successes(successes)
            tally = self.tally
            if tally is not None and self.state is _CLOSED:
                tally[0] += successes

    def _open_wait(self, attempts: int) -> float:
        open_for = self._options.open_for
        if not callable(open_for):
            return open_for
        return validate.positive(_OWNER, f"open_for({attempts}) result", open_for(attempts))

    def _emit(self, changes: list[_Change], now: float) -> None:
        listener = self.listener
        if listener is not None and any(kind.endswith("state_changed") for kind, _ in changes):
            listener(self.state, now)
        if not BUS.active:
            return
        for kind, attributes in changes:
            # A manual transition to the current state refreshes metrics silently.
            if (
                kind.endswith("state_changed")
                and attributes["from_state"] == attributes["to_state"]
            ):
                continue
            BUS.emit(kind, self._name, now, attributes)
