"""Tests for reliant.resilience.budget: retries capped at a ratio of requests plus a floor."""

from __future__ import annotations

import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from reliant.resilience.backoff import Backoff
from reliant.resilience.budget import (
    BUCKETS,
    DEFAULT_MIN_PER_SECOND,
    DEFAULT_RATIO,
    DEFAULT_WINDOW,
    RetryBudget,
)
from reliant.resilience.retry import Retry
from reliant.testing import VirtualClock, capture_events


def spend(budget: RetryBudget) -> int:
    """Withdraw until refused; return how many retries were granted."""
    granted = 0
    while budget.try_withdraw():
        granted += 1
    return granted


def test_documented_defaults() -> None:
    """Finagle's defaults: 20 % of requests, 10 retries per second, over 10 s."""
    options = RetryBudget(clock=VirtualClock()).options
    assert (0.2, 10.0, 10.0) == (options.ratio, options.min_per_second, options.window)
    assert (DEFAULT_RATIO, DEFAULT_MIN_PER_SECOND, DEFAULT_WINDOW) == (0.2, 10.0, 10.0)


def test_floor_allows_retries_without_requests() -> None:
    """min_per_second × window retries are always allowed, even with no traffic."""
    budget = RetryBudget(ratio=0.0, min_per_second=1.0, window=10.0, clock=VirtualClock())
    assert 10 == budget.available
    assert 10 == spend(budget)
    assert 0 == budget.available


def test_ratio_earns_retries_from_requests() -> None:
    """Each request earns ``ratio`` of a retry; 10 requests at 20 % earn 2."""
    budget = RetryBudget(ratio=0.2, min_per_second=0.0, window=10.0, clock=VirtualClock())
    assert 0 == budget.available
    assert not budget.try_withdraw()
    for _ in range(10):
        budget.record_request()
    assert 2 == budget.available
    assert 2 == spend(budget)


def test_floor_and_ratio_add_up() -> None:
    """The allowance is floor plus ratio × requests, minus retries already taken."""
    budget = RetryBudget(ratio=0.5, min_per_second=0.2, window=10.0, clock=VirtualClock())
    for _ in range(6):
        budget.record_request()
    assert 5 == budget.available  # 0.2 × 10 + 0.5 × 6
    assert budget.try_withdraw()
    assert 4 == budget.available


def test_spent_retries_come_back_when_the_window_passes() -> None:
    """Retries taken leave the window after ``window`` seconds and free the budget again."""
    clock = VirtualClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.5, window=10.0, clock=clock)
    assert 5 == spend(budget)
    clock.advance(9.9)
    assert 0 == budget.available
    clock.advance(0.1)
    assert 5 == budget.available


def test_requests_expire_with_the_window() -> None:
    """Requests older than the window no longer earn retries."""
    clock = VirtualClock()
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, window=10.0, clock=clock)
    for _ in range(4):
        budget.record_request()
    clock.advance(5.0)
    for _ in range(3):
        budget.record_request()
    assert 7 == budget.available
    clock.advance(5.0)  # the first four are now 10 s old
    assert 3 == budget.available
    clock.advance(5.0)
    assert 0 == budget.available


def test_window_is_bucketed() -> None:
    """Expiry happens per bucket of window / BUCKETS seconds, not per event."""
    clock = VirtualClock()
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, window=10.0, clock=clock)
    clock.advance(0.5)  # inside the first 1 s bucket
    budget.record_request()
    clock.advance(9.4)  # t = 9.9: still inside the window's ten buckets
    assert 1 == budget.available
    clock.advance(0.1)  # t = 10.0: the first bucket is reused
    assert 0 == budget.available
    assert 10 == BUCKETS


def test_a_long_idle_gap_clears_everything() -> None:
    """After many windows of silence the budget is back to its floor."""
    clock = VirtualClock(start=1234.5)
    budget = RetryBudget(ratio=0.5, min_per_second=1.0, window=2.0, clock=clock)
    for _ in range(8):
        budget.record_request()
    assert 6 == spend(budget)
    clock.advance(1000.0)
    assert 2 == budget.available


def test_one_budget_is_shared_by_two_retries() -> None:
    """Two Retry policies drawing on one budget share its allowance."""
    clock = VirtualClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.2, window=10.0, clock=clock)  # 2 retries
    first = Retry(attempts=5, backoff=Backoff.constant(0.0), budget=budget, clock=clock)
    second = Retry(
        attempts=5, backoff=Backoff.constant(0.0), budget=budget, clock=clock, name="second"
    )
    calls = {"first": 0, "second": 0}

    def failing(who: str) -> None:
        calls[who] += 1
        raise ConnectionError(who)

    with capture_events(kinds=["retry.exhausted"]) as events:
        with pytest.raises(ConnectionError):
            first.call(failing, "first")
        with pytest.raises(ConnectionError):
            second.call(failing, "second")
    assert {"first": 3, "second": 1} == calls
    assert [("retry", "budget", 3), ("second", "budget", 1)] == [
        (e.policy, e.attributes["reason"], e.attributes["attempts"]) for e in events
    ]


def test_retries_record_their_requests() -> None:
    """Every call through a Retry with a budget counts one request, retried or not."""
    clock = VirtualClock()
    budget = RetryBudget(ratio=0.5, min_per_second=0.0, window=10.0, clock=clock)
    retry = Retry(budget=budget, clock=clock)
    for _ in range(4):
        retry.call(lambda: None)
    assert 2 == budget.available


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ratio": -0.1}, "RetryBudget: ratio must be a finite number >= 0"),
        ({"ratio": math.nan}, "RetryBudget: ratio must be a number"),
        ({"min_per_second": -1}, "RetryBudget: min_per_second must be"),
        ({"min_per_second": math.inf}, "RetryBudget: min_per_second must be"),
        ({"window": 0}, r"RetryBudget: window must be a finite number > 0"),
        ({"window": "10s"}, "RetryBudget: window must be a number"),
    ],
)
def test_invalid_options_name_the_option(options: dict[str, object], message: str) -> None:
    """Bad options fail at construction, naming the option and its range."""
    with pytest.raises(ValueError, match=message):
        RetryBudget(**options)  # type: ignore[arg-type]


def test_repr_shows_the_options() -> None:
    """repr() shows the three options."""
    budget = RetryBudget(ratio=0.1, min_per_second=1.0, window=5.0)
    assert "RetryBudget(ratio=0.1, min_per_second=1.0, window=5.0)" == repr(budget)


class BudgetMachine(RuleBasedStateMachine):
    """The budget agrees with a plain list of timestamped events, whatever the sequence."""

    WINDOW = 10.0  # buckets of exactly 1 s, so the model's arithmetic is exact

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.budget = RetryBudget(
            ratio=0.25, min_per_second=0.3, window=self.WINDOW, clock=self.clock
        )
        self.events: list[tuple[int, str]] = []

    def _bucket(self) -> int:
        return math.floor(self.clock.now() / (self.WINDOW / BUCKETS))

    def _live(self, kind: str) -> int:
        current = self._bucket()
        return sum(1 for at, k in self.events if k == kind and current - at < BUCKETS)

    def _allowed(self) -> float:
        return 0.3 * self.WINDOW + 0.25 * self._live("request") - self._live("retry")

    @rule()
    def request(self) -> None:
        self.budget.record_request()
        self.events.append((self._bucket(), "request"))

    @rule()
    def withdraw(self) -> None:
        expected = self._allowed() >= 1
        assert expected == self.budget.try_withdraw()
        if expected:
            self.events.append((self._bucket(), "retry"))

    @rule(quarters=st.integers(min_value=0, max_value=60))
    def wait(self, quarters: int) -> None:
        self.clock.advance(quarters / 4)

    @invariant()
    def available_matches_the_model(self) -> None:
        assert max(0, math.floor(self._allowed())) == self.budget.available


BudgetMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestBudgetMachine = BudgetMachine.TestCase
