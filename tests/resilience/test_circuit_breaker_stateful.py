"""CircuitBreaker against a deliberately simple reference model, step by step (Hypothesis)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reliant.exceptions import CircuitOpenError
from reliant.resilience.circuit_breaker import (
    CircuitBreaker,
    CircuitMetrics,
    CircuitState,
    CountWindow,
    TimeWindow,
)
from reliant.testing import VirtualClock

SLOW_CALL = 1.0
KINDS = ["ok", "fail", "unrecorded", "ignored", "abort", "bad_result"]


class Boom(Exception):
    """Recorded as a failure."""


class Harmless(Boom):
    """Ignored, although it is also a Boom: ``ignore`` wins."""


class Abort(BaseException):
    """Not an Exception: ignored, like a cancellation."""


@dataclass(frozen=True)
class Config:
    window: CountWindow | TimeWindow
    min_calls: int
    half_open_calls: int
    failure_rate: float
    slow_rate: float
    max_half_open_wait: float
    backoff: bool

    def open_for(self, openings: int) -> float:
        return 2.0 * openings if self.backoff else 5.0


class Model:
    """resilience4j's breaker as plain lists recomputed from scratch on every read."""

    def __init__(self, config: Config) -> None:
        self.c = config
        self.state = "closed"
        self.attempts = 0
        self.wait_until = 0.0
        self.permits = 0
        self.half_open_until = math.inf
        self.fresh(trial=False)

    def fresh(self, *, trial: bool) -> None:
        self.outcomes: list[tuple[int, bool, bool]] = []  # (second, failed, slow)
        self.trial = trial  # the window is the half-open count window
        self.not_permitted = 0

    def window(self, now: float) -> list[tuple[int, bool, bool]]:
        if self.trial:
            return self.outcomes[-self.c.half_open_calls :]
        if isinstance(self.c.window, CountWindow):
            return self.outcomes[-self.c.window.size :]
        horizon = math.floor(now) - self.c.window.seconds
        return [o for o in self.outcomes if o[0] > horizon]

    def minimum(self) -> int:
        if self.trial:
            return min(self.c.min_calls, self.c.half_open_calls)
        if isinstance(self.c.window, CountWindow):
            return min(self.c.min_calls, self.c.window.size)
        return self.c.min_calls

    def rates(self, now: float) -> tuple[float, float]:
        window = self.window(now)
        calls = len(window)
        if calls == 0 or calls < self.minimum():
            return (-1.0, -1.0)
        return (sum(o[1] for o in window) / calls, sum(o[2] for o in window) / calls)

    # transitions
    def open(self, at: float) -> None:
        self.attempts += 1
        self.wait_until = at + self.c.open_for(self.attempts)
        self.state = "open"

    def half_open(self, now: float) -> None:
        self.state = "half_open"
        self.fresh(trial=True)
        self.permits = self.c.half_open_calls
        wait = self.c.max_half_open_wait
        self.half_open_until = now + wait if wait > 0 else math.inf

    def manual(self, state: str) -> None:
        self.attempts = 0
        self.state = state
        self.fresh(trial=False)

    def expire(self, now: float) -> None:
        if self.state == "half_open" and now >= self.half_open_until:
            self.open(self.half_open_until)

    # the protocol
    def acquire(self, now: float) -> bool:
        if self.state in ("closed", "disabled", "metrics_only"):
            return True
        self.expire(now)
        if self.state == "open":
            if now <= self.wait_until:
                self.not_permitted += 1
                return False
            self.half_open(now)
        if self.state == "half_open" and self.permits > 0:
            self.permits -= 1
            return True
        self.not_permitted += 1
        return False

    def record(self, now: float, duration: float, failed: bool) -> None:
        if self.state in ("disabled", "forced_open"):
            return
        self.expire(now)
        self.outcomes.append((math.floor(now), failed, duration > SLOW_CALL))
        if self.state == "open":
            return
        failure_rate, slow_rate = self.rates(now)
        if failure_rate < 0:
            return
        over = failure_rate >= self.c.failure_rate or slow_rate >= self.c.slow_rate
        if self.state == "half_open":
            if over:
                self.open(now)
            else:
                self.manual("closed")
        elif self.state == "closed" and over:
            self.open(now)

    def ignore(self) -> None:
        if self.state == "half_open":
            self.permits = min(self.permits + 1, self.c.half_open_calls)

    def finish(self, kind: str, now: float, duration: float) -> None:
        if kind in ("ignored", "abort"):
            if self.state not in ("disabled", "forced_open"):
                self.ignore()
        else:
            self.record(now, duration, kind in ("fail", "bad_result"))

    def metrics(self, now: float) -> CircuitMetrics:
        window = self.window(now)
        failure_rate, slow_rate = self.rates(now)
        return CircuitMetrics(
            failure_rate,
            slow_rate,
            len(window),
            sum(o[1] for o in window),
            sum(o[2] for o in window),
            self.not_permitted,
        )


def raise_or_return(kind: str) -> object:
    errors: dict[str, BaseException] = {
        "fail": Boom(),
        "unrecorded": ValueError(),
        "ignored": Harmless(),
        "abort": Abort(),
    }
    if kind in errors:
        raise errors[kind]
    return "bad" if kind == "bad_result" else "good"


configs = st.builds(
    Config,
    window=st.one_of(
        st.builds(CountWindow, st.integers(1, 5)), st.builds(TimeWindow, st.integers(1, 4))
    ),
    min_calls=st.integers(1, 6),
    half_open_calls=st.integers(1, 3),
    failure_rate=st.sampled_from([0.25, 0.5, 1.0]),
    slow_rate=st.sampled_from([0.5, 1.0]),
    max_half_open_wait=st.sampled_from([0.0, 2.0, 7.0]),
    backoff=st.booleans(),
)


class BreakerMachine(RuleBasedStateMachine):
    """Drive the breaker and the model with the same calls, clock moves and switches."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.inflight: list[float] = []

    @initialize(config=configs)
    def build(self, config: Config) -> None:
        self.model = Model(config)
        self.breaker = CircuitBreaker(
            window=config.window,
            min_calls=config.min_calls,
            half_open_calls=config.half_open_calls,
            failure_rate=config.failure_rate,
            slow_rate=config.slow_rate,
            slow_call=SLOW_CALL,
            open_for=config.open_for,
            max_half_open_wait=config.max_half_open_wait,
            record=(Boom,),
            ignore=(Harmless,),
            record_result=lambda r: r == "bad",
            clock=self.clock,
        )

    @rule(kind=st.sampled_from(KINDS), duration=st.sampled_from([0.0, 0.5, 1.0, 1.5]))
    def call(self, kind: str, duration: float) -> None:
        """One whole call through the sync driver."""
        start = self.clock.now()

        def body() -> object:
            self.clock.advance(duration)
            return raise_or_return(kind)

        permitted = self.model.acquire(start)
        outcome: object = None
        try:
            outcome = self.breaker.call(body)
        except BaseException as exc:
            outcome = exc
        if not permitted:
            expected = self.model.wait_until - start if self.model.state == "open" else None
            assert isinstance(outcome, CircuitOpenError)
            assert expected == outcome.retry_after
            return
        assert not isinstance(outcome, CircuitOpenError)
        self.model.finish(kind, self.clock.now(), duration)

    @rule(failed=st.booleans(), duration=st.sampled_from([0.0, 1.0, 1.5]))
    def call_plain(self, failed: bool, duration: float) -> None:
        """The common case, drawn more often: a plain success or failure."""
        self.call("fail" if failed else "ok", duration)

    @rule()
    def start(self) -> None:
        """Take a permit by hand and keep the call in flight."""
        now = self.clock.now()
        permitted = self.breaker.try_acquire()
        assert self.model.acquire(now) == permitted
        if permitted:
            self.inflight.append(now)

    @precondition(lambda self: bool(self.inflight))
    @rule(index=st.integers(0, 10), kind=st.sampled_from(KINDS))
    def finish(self, index: int, kind: str) -> None:
        """Report an in-flight call's outcome, perhaps after the breaker changed state."""
        started = self.inflight.pop(index % len(self.inflight))
        now = self.clock.now()
        duration = now - started
        try:
            result = raise_or_return(kind)
        except BaseException as exc:
            self.breaker.on_error(duration, exc)
        else:
            self.breaker.on_result(duration, result)
        self.model.finish(kind, now, duration)

    @rule(seconds=st.sampled_from([0.25, 0.5, 1.0, 2.0, 5.0, 11.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: self.model.state in ("open", "half_open"))
    @rule(past=st.sampled_from([0.0, 0.0, 0.25]))
    def to_edge(self, past: float) -> None:
        """Move the clock exactly to the end of the open wait or half-open period (or past)."""
        model = self.model
        edge = model.wait_until if model.state == "open" else model.half_open_until
        now = self.clock.now()
        if now <= edge < math.inf:
            self.clock.advance(edge - now + past)

    @rule(state=st.sampled_from(["forced_open", "disabled", "metrics_only", "closed", "reset"]))
    def switch(self, state: str) -> None:
        """A manual transition."""
        actions = {
            "forced_open": self.breaker.force_open,
            "disabled": self.breaker.disable,
            "metrics_only": self.breaker.metrics_only,
            "closed": self.breaker.close,
            "reset": self.breaker.reset,
        }
        actions[state]()
        self.model.manual("closed" if state == "reset" else state)

    @rule()
    def same_metrics(self) -> None:
        """Metrics agree (read only now and then: reading folds fast successes in)."""
        assert self.model.metrics(self.clock.now()) == self.breaker.metrics

    @invariant()
    def same_state(self) -> None:
        self.model.expire(self.clock.now())
        assert CircuitState(self.model.state) == self.breaker.state


BreakerMachine.TestCase.settings = settings(max_examples=400, stateful_step_count=40, deadline=None)
TestBreakerMatchesModel = BreakerMachine.TestCase
