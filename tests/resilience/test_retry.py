"""Tests for reliant.resilience.retry: run a call again after a failure.

Every behavioural test runs twice, through ``call`` and through ``acall`` on a
virtual-time event loop, and must behave the same way.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reliant._core.deadline import deadline_scope
from reliant._core.policy import Policy
from reliant.exceptions import RateLimitedError
from reliant.resilience.backoff import Backoff
from reliant.resilience.budget import RetryBudget
from reliant.resilience.retry import DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, Retry
from reliant.testing import VirtualClock, capture_events, is_testing, set_testing

NO_WAIT = Backoff.constant(0.0)


@pytest.fixture(autouse=True)
def _testing_mode_off() -> Iterator[None]:
    """Testing mode is process-wide: every test starts and ends with it off."""
    set_testing(False)
    yield
    set_testing(False)


def invoke(mode: str, policy: Policy, fn: Callable[[], Any], clock: VirtualClock) -> Any:
    """Run ``fn`` under ``policy``, sync or inside a coroutine on the clock's event loop."""
    if mode == "sync":
        return policy.call(fn)

    async def afn() -> Any:
        return fn()

    return clock.run(policy.acall(afn))


class Script:
    """A callable that plays outcomes in order (the last one repeats).

    Exceptions are raised, anything else returned. Each call may take ``duration``
    seconds of the clock.
    """

    def __init__(self, *outcomes: object, clock: VirtualClock | None = None, duration: float = 0):
        self.outcomes = outcomes
        self.calls = 0
        self.clock = clock
        self.duration = duration

    def __call__(self) -> Any:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if self.clock is not None and self.duration:
            self.clock.advance(self.duration)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class Hinted(Exception):
    """An error carrying a server's Retry-After hint."""

    def __init__(self, retry_after: object) -> None:
        super().__init__(f"retry after {retry_after!r}")
        self.retry_after = retry_after


class Stop(BaseException):
    """A BaseException that is not an Exception (like KeyboardInterrupt)."""


# -- attempts and outcomes --------------------------------------------------------------


def test_success_is_returned_at_once(mode: str) -> None:
    """A call that succeeds runs once, without sleeping or emitting anything."""
    clock = VirtualClock()
    fn = Script("ok")
    with capture_events() as events:
        assert "ok" == invoke(mode, Retry(clock=clock), fn, clock)
    assert (1, [], []) == (fn.calls, clock.sleeps, events)


def test_attempts_counts_every_attempt(mode: str) -> None:
    """attempts=3 means one call and two retries."""
    clock = VirtualClock()
    fn = Script(ConnectionError())
    with pytest.raises(ConnectionError):
        invoke(mode, Retry(attempts=3, backoff=NO_WAIT, clock=clock), fn, clock)
    assert 3 == fn.calls


def test_single_attempt_never_retries(mode: str) -> None:
    """attempts=1 makes the call once."""
    clock = VirtualClock()
    fn = Script(ConnectionError())
    with pytest.raises(ConnectionError):
        invoke(mode, Retry(attempts=1, clock=clock), fn, clock)
    assert (1, []) == (fn.calls, clock.sleeps)


def test_last_exception_is_reraised_unchanged(mode: str) -> None:
    """When attempts run out, the very object of the last failure is raised, unchained."""
    clock = VirtualClock()
    errors = [ConnectionError("first"), ConnectionError("second"), ConnectionError("third")]
    fn = Script(*errors)
    with pytest.raises(ConnectionError) as info:
        invoke(mode, Retry(attempts=3, backoff=NO_WAIT, clock=clock), fn, clock)
    assert errors[2] is info.value
    assert info.value.__context__ is None
    assert info.value.__cause__ is None


def test_success_after_failures_returns_the_result(mode: str) -> None:
    """A call that fails twice and then succeeds returns the success."""
    clock = VirtualClock()
    fn = Script(TimeoutError(), ConnectionError(), "done")
    assert "done" == invoke(mode, Retry(attempts=3, backoff=NO_WAIT, clock=clock), fn, clock)
    assert 3 == fn.calls


# -- what is retried ------------------------------------------------------------------


def test_retry_on_types_limits_what_is_retried(mode: str) -> None:
    """An exception outside retry_on propagates at once, unchanged."""
    clock = VirtualClock()
    error = ValueError("bad input")
    fn = Script(error)
    with pytest.raises(ValueError) as info:
        invoke(mode, Retry(retry_on=(ConnectionError,), clock=clock), fn, clock)
    assert (1, error) == (fn.calls, info.value)


def test_retry_on_matches_subclasses(mode: str) -> None:
    """retry_on=(OSError,) retries a ConnectionError, an OSError subclass."""
    clock = VirtualClock()
    fn = Script(ConnectionRefusedError(), "ok")
    retry = Retry(retry_on=(OSError,), backoff=NO_WAIT, clock=clock)
    assert "ok" == invoke(mode, retry, fn, clock)
    assert 2 == fn.calls


def test_retry_on_accepts_a_single_class(mode: str) -> None:
    """retry_on=ConnectionError is the same as retry_on=(ConnectionError,)."""
    clock = VirtualClock()
    retry = Retry(retry_on=ConnectionError, backoff=NO_WAIT, clock=clock)
    assert (ConnectionError,) == retry.options.retry_on
    fn = Script(ConnectionError(), "ok")
    assert "ok" == invoke(mode, retry, fn, clock)


def test_retry_on_predicate_decides(mode: str) -> None:
    """A predicate retry_on sees each exception and decides whether to retry it."""
    clock = VirtualClock()
    seen: list[BaseException] = []

    def transient(exc: BaseException) -> bool:
        seen.append(exc)
        return "transient" in str(exc)

    first, second = RuntimeError("transient glitch"), RuntimeError("fatal")
    fn = Script(first, second, "never")
    with pytest.raises(RuntimeError) as info:
        invoke(mode, Retry(retry_on=transient, backoff=NO_WAIT, clock=clock), fn, clock)
    assert (second, 2, [first, second]) == (info.value, fn.calls, seen)


def test_non_retryable_on_a_later_attempt_propagates(mode: str) -> None:
    """A non-retryable exception ends retrying even after a retryable one."""
    clock = VirtualClock()
    fn = Script(ConnectionError(), KeyError("gone"), "never")
    with pytest.raises(KeyError):
        invoke(mode, Retry(retry_on=ConnectionError, backoff=NO_WAIT, clock=clock), fn, clock)
    assert 2 == fn.calls


def test_base_exceptions_are_never_retried(mode: str) -> None:
    """Only Exception subclasses are retried, whatever retry_on says."""
    clock = VirtualClock()
    fn = Script(Stop())
    with pytest.raises(Stop):
        invoke(mode, Retry(retry_on=BaseException, backoff=NO_WAIT, clock=clock), fn, clock)
    assert 1 == fn.calls


def test_retry_if_result_asks_for_another_attempt(mode: str) -> None:
    """A result the predicate rejects is retried like a failure."""
    clock = VirtualClock()
    fn = Script(None, None, "value")
    retry = Retry(retry_if_result=lambda r: r is None, backoff=NO_WAIT, clock=clock)
    assert "value" == invoke(mode, retry, fn, clock)
    assert 3 == fn.calls


def test_retry_if_result_returns_the_last_result_when_attempts_run_out(mode: str) -> None:
    """When every result is rejected, the last one is returned, not an error."""
    clock = VirtualClock()
    last = {"status": 503, "n": 3}
    fn = Script({"status": 503, "n": 1}, {"status": 503, "n": 2}, last)
    retry = Retry(
        attempts=3,
        retry_if_result=lambda r: r["status"] >= 500,
        backoff=NO_WAIT,
        clock=clock,
    )
    assert last is invoke(mode, retry, fn, clock)
    assert 3 == fn.calls


def test_results_and_exceptions_mix(mode: str) -> None:
    """A rejected result, then an exception, then a good result: three attempts."""
    clock = VirtualClock()
    fn = Script(None, ConnectionError(), 42)
    retry = Retry(retry_if_result=lambda r: r is None, backoff=NO_WAIT, clock=clock)
    assert 42 == invoke(mode, retry, fn, clock)
    assert 3 == fn.calls


# -- waiting ------------------------------------------------------------------------


def test_sleeps_follow_the_backoff(mode: str) -> None:
    """The waits between attempts are the backoff's delays, recorded on the clock."""
    clock = VirtualClock()
    backoff = Backoff.exponential(initial=0.1, multiplier=2.0, max=0.3, jitter="none")
    fn = Script(ConnectionError())
    with pytest.raises(ConnectionError):
        invoke(mode, Retry(attempts=4, backoff=backoff, clock=clock), fn, clock)
    assert [0.1, 0.2, 0.3] == clock.sleeps
    assert 0.6 == pytest.approx(clock.now())


def test_constant_backoff_sleeps(mode: str) -> None:
    """A constant backoff waits the same before each retry."""
    clock = VirtualClock()
    fn = Script(ConnectionError(), ConnectionError(), "ok")
    invoke(mode, Retry(backoff=Backoff.constant(0.5), clock=clock), fn, clock)
    assert [0.5, 0.5] == clock.sleeps


def test_jittered_sleeps_repeat_for_a_seed(mode: str) -> None:
    """With a seeded rng, the jittered waits are the backoff's draws for that seed."""
    clock = VirtualClock()
    backoff = Backoff.exponential(initial=1.0, multiplier=2.0, max=10.0, jitter="full")
    fn = Script(ConnectionError())
    retry = Retry(attempts=5, backoff=backoff, clock=clock, rng=random.Random(42))
    with pytest.raises(ConnectionError):
        invoke(mode, retry, fn, clock)
    reference, expected, previous = random.Random(42), [], 0.0
    for n in range(1, 5):
        previous = backoff.delay(n, previous, reference)
        expected.append(previous)
    assert expected == clock.sleeps
    assert all(0.0 <= d <= min(10.0, 2.0 ** (n - 1)) for n, d in enumerate(clock.sleeps, 1))


def test_decorrelated_backoff_feeds_back_the_previous_delay(mode: str) -> None:
    """Decorrelated waits each lie in [initial, 3 × the previous wait]."""
    clock = VirtualClock()
    fn = Script(ConnectionError())
    retry = Retry(
        attempts=8,
        backoff=Backoff.decorrelated(initial=0.1, max=100.0),
        clock=clock,
        rng=random.Random(8),
    )
    with pytest.raises(ConnectionError):
        invoke(mode, retry, fn, clock)
    previous = 0.1
    for delay in clock.sleeps:
        assert 0.1 <= delay <= 3 * previous
        previous = delay
    assert 7 == len(clock.sleeps)


def test_retry_after_on_an_exception_overrides_the_backoff(mode: str) -> None:
    """An exception's retry_after (seconds) replaces the computed delay."""
    clock = VirtualClock()
    fn = Script(Hinted(7), RateLimitedError("slow down", retry_after=2.5), "ok")
    invoke(mode, Retry(backoff=Backoff.constant(0.1), clock=clock), fn, clock)
    assert [7.0, 2.5] == clock.sleeps


def test_retry_after_on_a_result_overrides_the_backoff(mode: str) -> None:
    """A rejected result with retry_after sets the wait too."""

    class Response:
        def __init__(self, status: int, retry_after: float | None = None) -> None:
            self.status = status
            self.retry_after = retry_after

    clock = VirtualClock()
    fn = Script(Response(429, retry_after=3), Response(200))
    retry = Retry(
        retry_if_result=lambda r: r.status == 429, backoff=Backoff.constant(0.1), clock=clock
    )
    assert 200 == invoke(mode, retry, fn, clock).status
    assert [3.0] == clock.sleeps


@pytest.mark.parametrize("hint", [None, -1, True, "5", float("nan")])
def test_unusable_hints_fall_back_to_the_backoff(mode: str, hint: object) -> None:
    """A missing, negative, boolean or non-numeric retry_after is ignored."""
    clock = VirtualClock()
    fn = Script(Hinted(hint), "ok")
    invoke(mode, Retry(backoff=Backoff.constant(0.25), clock=clock), fn, clock)
    assert [0.25] == clock.sleeps


# -- giving up early ----------------------------------------------------------------


def test_max_elapsed_stops_retries_that_would_start_too_late(mode: str) -> None:
    """No attempt starts later than max_elapsed after the first one started."""
    clock = VirtualClock()
    fn = Script(ConnectionError())
    retry = Retry(attempts=10, backoff=Backoff.constant(1.0), max_elapsed=2.5, clock=clock)
    with capture_events(kinds=["retry.exhausted"]) as events, pytest.raises(ConnectionError):
        invoke(mode, retry, fn, clock)
    assert (3, [1.0, 1.0]) == (fn.calls, clock.sleeps)
    assert {"attempts": 3, "reason": "max_elapsed"} == dict(events[0].attributes)


def test_max_elapsed_counts_time_spent_in_calls(mode: str) -> None:
    """Time inside the attempts counts against max_elapsed, not only the sleeps."""
    clock = VirtualClock()
    fn = Script(ConnectionError(), clock=clock, duration=2.0)
    retry = Retry(attempts=10, backoff=Backoff.constant(0.5), max_elapsed=5.0, clock=clock)
    with pytest.raises(ConnectionError):
        invoke(mode, retry, fn, clock)
    # attempt 1 ends at 2.0, attempt 2 runs 2.5–4.5; starting a third at 5.0 is allowed,
    # a fourth at 7.5 is not.
    assert (3, [0.5, 0.5]) == (fn.calls, clock.sleeps)


def test_deadline_stops_retries_whose_wait_ends_past_it(mode: str) -> None:
    """Inside a deadline scope, no retry is started if its wait reaches the deadline."""
    clock = VirtualClock()
    fn = Script(ConnectionError())
    retry = Retry(attempts=10, backoff=Backoff.constant(0.4), clock=clock)
    with (
        capture_events(kinds=["retry.exhausted"]) as events,
        deadline_scope(1.0, clock),
        pytest.raises(ConnectionError),
    ):
        invoke(mode, retry, fn, clock)
    assert (3, [0.4, 0.4]) == (fn.calls, clock.sleeps)
    assert {"attempts": 3, "reason": "deadline"} == dict(events[0].attributes)


def test_passed_deadline_stops_even_immediate_retries(mode: str) -> None:
    """With the deadline already behind, not even a zero-delay retry is made."""
    clock = VirtualClock()
    fn = Script(ConnectionError(), clock=clock, duration=2.0)
    with deadline_scope(1.0, clock), pytest.raises(ConnectionError):
        invoke(mode, Retry(backoff=NO_WAIT, clock=clock), fn, clock)
    assert 1 == fn.calls


def test_budget_refusal_stops_retries(mode: str) -> None:
    """An empty budget ends retrying; the exception is re-raised with reason 'budget'."""
    clock = VirtualClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0, clock=clock)  # 1 retry
    fn = Script(ConnectionError())
    retry = Retry(attempts=5, backoff=NO_WAIT, budget=budget, clock=clock)
    with capture_events(kinds=["retry.exhausted"]) as events, pytest.raises(ConnectionError):
        invoke(mode, retry, fn, clock)
    assert 2 == fn.calls
    assert {"attempts": 2, "reason": "budget"} == dict(events[0].attributes)


def test_budget_is_only_drawn_for_retries_that_happen(mode: str) -> None:
    """Running out of attempts does not take a retry from the budget."""
    clock = VirtualClock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.5, window=10.0, clock=clock)  # 5 retries
    fn = Script(ConnectionError())
    with pytest.raises(ConnectionError):
        invoke(mode, Retry(attempts=3, backoff=NO_WAIT, budget=budget, clock=clock), fn, clock)
    assert 3 == budget.available


# -- testing mode -------------------------------------------------------------------


def test_testing_mode_skips_sleeps(mode: str) -> None:
    """With set_testing(True), retries happen without waiting."""
    set_testing(True)
    assert is_testing()
    clock = VirtualClock()
    fn = Script(ConnectionError(), ConnectionError(), "ok")
    retry = Retry(backoff=Backoff.exponential(initial=5.0, max=60.0), clock=clock)
    with capture_events(kinds=["retry.retrying"]) as events:
        assert "ok" == invoke(mode, retry, fn, clock)
    assert ([], 0.0) == (clock.sleeps, clock.now())
    assert [0.0, 0.0] == [e.attributes["delay"] for e in events]


def test_testing_mode_caps_attempts(mode: str) -> None:
    """set_testing(True, attempts=2) makes every Retry stop after two attempts."""
    set_testing(True, attempts=2)
    clock = VirtualClock()
    fn = Script(ConnectionError())
    with pytest.raises(ConnectionError):
        invoke(mode, Retry(attempts=5, clock=clock), fn, clock)
    assert 2 == fn.calls


def test_testing_mode_never_raises_attempts(mode: str) -> None:
    """The testing cap only lowers attempts: attempts=3 stays 3 under a cap of 10."""
    set_testing(True, attempts=10)
    clock = VirtualClock()
    fn = Script(ConnectionError())
    with pytest.raises(ConnectionError):
        invoke(mode, Retry(attempts=3, clock=clock), fn, clock)
    assert 3 == fn.calls


def test_switching_testing_mode_off_restores_sleeps(mode: str) -> None:
    """set_testing(False) brings the waits back and drops the attempts cap."""
    set_testing(True, attempts=1)
    set_testing(False)
    clock = VirtualClock()
    fn = Script(ConnectionError(), "ok")
    invoke(mode, Retry(backoff=Backoff.constant(1.0), clock=clock), fn, clock)
    assert (2, [1.0]) == (fn.calls, clock.sleeps)


def test_set_testing_rejects_bad_attempts() -> None:
    """set_testing(attempts=0) is refused."""
    with pytest.raises(ValueError, match="attempts must be an integer >= 1"):
        set_testing(True, attempts=0)


# -- events -------------------------------------------------------------------------


def test_events_of_a_call_that_recovers(mode: str) -> None:
    """retry.retrying per failed attempt, then retry.succeeded with the attempt count."""
    clock = VirtualClock()
    error = ConnectionError("flaky")
    fn = Script(error, "ok")
    retry = Retry(backoff=Backoff.constant(0.5), name="payments", clock=clock)
    with capture_events() as events:
        invoke(mode, retry, fn, clock)
    assert [
        ("retry.retrying", "payments", 0.0, {"attempt": 1, "delay": 0.5, "exception": error}),
        ("retry.succeeded", "payments", 0.5, {"attempts": 2}),
    ] == [(e.kind, e.policy, e.time, dict(e.attributes)) for e in events]


def test_events_of_a_call_that_gives_up(mode: str) -> None:
    """Each retry is announced, then retry.exhausted says how many attempts and why."""
    clock = VirtualClock()
    fn = Script(ConnectionError())
    retry = Retry(attempts=3, backoff=Backoff.constant(1.0), clock=clock)
    with capture_events(policy="retry") as events, pytest.raises(ConnectionError):
        invoke(mode, retry, fn, clock)
    assert [
        ("retry.retrying", 1, 1.0),
        ("retry.retrying", 2, 1.0),
        ("retry.exhausted", 3, "attempts"),
    ] == [
        (
            e.kind,
            e.attributes.get("attempt", e.attributes.get("attempts")),
            e.attributes.get("delay", e.attributes.get("reason")),
        )
        for e in events
    ]
    assert [0.0, 1.0, 2.0] == [e.time for e in events]


def test_retrying_on_a_result_reports_the_result(mode: str) -> None:
    """For a rejected result the event carries ``result`` instead of ``exception``."""
    clock = VirtualClock()
    fn = Script("busy", "ok")
    retry = Retry(retry_if_result=lambda r: r == "busy", backoff=NO_WAIT, clock=clock)
    with capture_events(kinds=["retry.retrying"]) as events:
        invoke(mode, retry, fn, clock)
    assert [{"attempt": 1, "delay": 0.0, "result": "busy"}] == [dict(e.attributes) for e in events]


def test_no_event_for_non_retryable_failures(mode: str) -> None:
    """An exception that is not retried emits nothing."""
    clock = VirtualClock()
    with capture_events() as events, pytest.raises(ValueError):
        invoke(mode, Retry(retry_on=ConnectionError, clock=clock), Script(ValueError()), clock)
    assert [] == events


# -- the decorator form -------------------------------------------------------------


def test_decorates_sync_functions() -> None:
    """@Retry() retries a sync function and keeps its name, docstring and signature."""
    clock = VirtualClock()
    calls: list[int] = []

    def fetch(item: int, *, verbose: bool = False) -> str:
        """Fetch one item."""
        calls.append(item)
        if len(calls) < 2:
            raise ConnectionError
        return f"item {item} {verbose}"

    wrapped = Retry(backoff=NO_WAIT, clock=clock)(fetch)
    assert "item 7 True" == wrapped(7, verbose=True)
    assert [7, 7] == calls
    assert ("fetch", "Fetch one item.") == (wrapped.__name__, wrapped.__doc__)
    assert inspect.signature(fetch) == inspect.signature(wrapped)


def test_decorates_async_functions() -> None:
    """@Retry() on a coroutine function gives a coroutine function that retries."""
    clock = VirtualClock()
    calls: list[str] = []

    @Retry(backoff=Backoff.constant(1.0), clock=clock)
    async def fetch(url: str) -> str:
        """Fetch a URL."""
        calls.append(url)
        await asyncio.sleep(0)
        if len(calls) < 3:
            raise ConnectionError
        return url.upper()

    assert inspect.iscoroutinefunction(fetch)
    assert "fetch" == fetch.__name__
    assert ["url"] == list(inspect.signature(fetch).parameters)
    assert "/X" == clock.run(fetch("/x"))
    assert (3, [1.0, 1.0]) == (len(calls), clock.sleeps)


def test_call_passes_arguments_through() -> None:
    """call(fn, *args, **kwargs) calls fn with them."""

    def triple(a: int, b: int, *, c: int) -> tuple[int, int, int]:
        return a, b, c

    assert (1, 2, 3) == Retry().call(triple, 1, 2, c=3)


# -- options ------------------------------------------------------------------------


def test_documented_defaults() -> None:
    """Three attempts with exponential full-jitter backoff, retrying any Exception."""
    retry = Retry()
    options = retry.options
    assert (3, DEFAULT_ATTEMPTS) == (options.attempts, DEFAULT_ATTEMPTS)
    assert Backoff.exponential() == options.backoff == DEFAULT_BACKOFF
    assert ((Exception,), None, None, None) == (
        options.retry_on,
        options.retry_if_result,
        options.max_elapsed,
        options.budget,
    )
    assert "retry" == retry.name


def test_describe_reports_kind_name_and_options() -> None:
    """describe() gives the kind, the name and the options."""
    backoff = Backoff.constant(1.0)
    described = Retry(attempts=4, backoff=backoff, max_elapsed=9.0, name="db").describe()
    assert {
        "kind": "Retry",
        "name": "db",
        "attempts": 4,
        "backoff": backoff,
        "max_elapsed": 9.0,
        "budget": False,
    } == described


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"attempts": 0}, "Retry: attempts must be an integer >= 1, got 0"),
        ({"attempts": 2.5}, "Retry: attempts must be an integer >= 1"),
        ({"attempts": True}, "Retry: attempts must be an integer >= 1"),
        ({"backoff": 0.5}, "Retry: backoff must be a reliant.Backoff"),
        ({"retry_on": (int,)}, "Retry: retry_on must be an exception class or a tuple"),
        ({"retry_on": "ConnectionError"}, "Retry: retry_on must be an exception class"),
        ({"retry_if_result": 5}, "Retry: retry_if_result must be a callable or None"),
        ({"max_elapsed": 0}, "Retry: max_elapsed must be a finite number > 0"),
        ({"max_elapsed": -1.0}, "Retry: max_elapsed must be"),
        ({"budget": 0.2}, "Retry: budget must be a RetryBudget or None"),
        ({"name": 5}, "Retry: name must be a string"),
        ({"clock": object()}, "Retry: clock must have now"),
    ],
)
def test_invalid_options_name_the_option(options: dict[str, Any], message: str) -> None:
    """Bad options fail at construction, naming the option and its range."""
    with pytest.raises(ValueError, match=message):
        Retry(**options)


def test_an_infinite_retry_after_hint_gives_up_at_once() -> None:
    """A `retry_after=inf` hint (a request that can never pass) gives up without sleeping."""
    clock = VirtualClock()
    error = RateLimitedError("never", retry_after=math.inf)
    calls = []

    def denied() -> None:
        calls.append(1)
        raise error

    retry = Retry(attempts=5, clock=clock)
    with capture_events(kinds=["retry.exhausted"]) as events, pytest.raises(RateLimitedError):
        retry.call(denied)
    assert 1 == len(calls)
    assert [] == clock.sleeps
    assert "never" == events[0].attributes["reason"]
