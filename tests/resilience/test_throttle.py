"""Throttle: the SRE book's client-side throttling, its window and its random draw."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from reliant.exceptions import ThrottledError
from reliant.resilience.throttle import Throttle
from reliant.testing import VirtualClock, capture_events

MODES = ["sync", "async"]


class Overloaded(Exception):
    """The backend refused the call."""


def call(mode: str, throttle: Throttle, exc: BaseException | None = None) -> Any:
    """Make one call through ``throttle`` that raises ``exc`` or returns "ok"; return the
    outcome (``"ok"`` or the exception raised)."""

    def body() -> str:
        if exc is not None:
            raise exc
        return "ok"

    async def abody() -> str:
        await asyncio.sleep(0)
        return body()

    try:
        if mode == "sync":
            return throttle.call(body)
        return asyncio.run(throttle.acall(abody))
    except BaseException as raised:
        return raised


def expected_p(requests: int, accepts: int, k: float = 2.0) -> float:
    return max(0.0, (requests - k * accepts) / (requests + 1))


# -- the formula -------------------------------------------------------------------------


def test_defaults() -> None:
    """k is 2 over a 120 s window of 60 buckets; any Exception is an overload."""
    o = Throttle().options
    assert (o.k, o.window, o.buckets, o.overload) == (2.0, 120.0, 60, (Exception,))


@pytest.mark.parametrize("mode", MODES)
def test_no_rejection_while_backend_accepts(mode: str) -> None:
    """While every call succeeds the probability stays 0 and nothing is shed."""
    throttle = Throttle(clock=VirtualClock(), rng=random.Random(1))
    outcomes = [call(mode, throttle) for _ in range(50)]
    assert (outcomes, throttle.probability) == (["ok"] * 50, 0.0)
    assert (throttle.requests, throttle.accepts) == (50, 50)


@pytest.mark.parametrize("mode", MODES)
def test_probability_matches_formula_exactly(mode: str) -> None:
    """After r requests and a accepts, P = max(0, (r − k·a)/(r + 1)), exactly."""
    throttle = Throttle(clock=VirtualClock(), rng=random.Random(2))
    for _ in range(10):
        call(mode, throttle)
    for _ in range(40):
        call(mode, throttle, Overloaded())
    requests, accepts = throttle.requests, throttle.accepts
    assert (requests, accepts) == (50, 10)
    assert throttle.probability == (50 - 2.0 * 10) / 51


@pytest.mark.parametrize("k", [1.0, 1.5, 3.0])
def test_k_scales_the_accepts(k: float) -> None:
    """k multiplies the accepts in the formula."""
    throttle = Throttle(k=k, clock=VirtualClock(), rng=random.Random(3))
    for _ in range(4):
        call("sync", throttle)
    for _ in range(16):
        call("sync", throttle, Overloaded())
    assert throttle.probability == expected_p(20, 4, k)


@pytest.mark.parametrize("mode", MODES)
def test_rejections_follow_the_seeded_draws(mode: str) -> None:
    """A call is shed exactly when the rng's draw falls below the current probability."""
    throttle = Throttle(clock=VirtualClock(), rng=random.Random(4))
    twin = random.Random(4)  # makes the same draws, only when P > 0
    for _ in range(30):
        p = throttle.probability
        shed = p > 0 and twin.random() < p
        outcome = call(mode, throttle, Overloaded())
        assert isinstance(outcome, ThrottledError if shed else Overloaded)


@pytest.mark.parametrize("mode", MODES)
def test_locally_rejected_calls_count_as_requests(mode: str) -> None:
    """A call shed by the throttle still counts as a request, never as an accept."""
    throttle = Throttle(k=1.0, clock=VirtualClock(), rng=random.Random(5))
    outcomes = [call(mode, throttle, Overloaded()) for _ in range(40)]
    shed = sum(isinstance(o, ThrottledError) for o in outcomes)
    assert shed > 0
    assert (throttle.requests, throttle.accepts) == (40, 0)


def test_non_overload_exceptions_count_as_accepted() -> None:
    """With overload=(Overloaded,), a ValueError means the backend did answer."""
    throttle = Throttle(overload=Overloaded, clock=VirtualClock(), rng=random.Random(6))
    call("sync", throttle, ValueError())
    call("sync", throttle, Overloaded())
    assert (throttle.requests, throttle.accepts) == (2, 1)


def test_rejection_frequency_matches_probabilities() -> None:
    """Over many calls the shed count lies within 4σ of the sum of the probabilities."""
    clock = VirtualClock()
    rng = random.Random(7)
    throttle = Throttle(window=1e6, clock=clock, rng=rng)
    backend = random.Random(8)
    expected = variance = 0.0
    shed = 0
    for _ in range(4000):
        p = throttle.probability
        expected += p
        variance += p * (1 - p)
        error = Overloaded() if backend.random() < 0.7 else None
        shed += isinstance(call("sync", throttle, error), ThrottledError)
    assert expected > 500  # the backend refuses 70 %, so k = 2 sheds a good share
    assert abs(shed - expected) < 4 * math.sqrt(variance)


# -- the window ---------------------------------------------------------------------------


def test_counts_expire_after_the_window() -> None:
    """Once the window has passed, old requests and accepts no longer count."""
    clock = VirtualClock()
    throttle = Throttle(window=10.0, buckets=10, clock=clock, rng=random.Random(9))
    for _ in range(5):
        call("sync", throttle, Overloaded())
    before = throttle.probability
    clock.advance(10.0)
    assert (before, throttle.probability, throttle.requests) == (expected_p(5, 0), 0.0, 0)


def test_buckets_expire_one_at_a_time() -> None:
    """Each bucket leaves the window on its own: 1 s buckets over 3 s."""
    clock = VirtualClock()
    throttle = Throttle(window=3.0, buckets=3, clock=clock, rng=random.Random(10))
    counts = []
    for _ in range(3):
        call("sync", throttle, Overloaded())
        counts.append(throttle.requests)
        clock.advance(1.0)
    for _ in range(3):
        counts.append(throttle.requests)
        clock.advance(1.0)
    assert counts == [1, 2, 3, 2, 1, 0]


def test_long_idle_gap_clears_every_bucket() -> None:
    """A gap of many windows empties the window in one step."""
    clock = VirtualClock(start=5.0)
    throttle = Throttle(window=2.0, buckets=4, clock=clock, rng=random.Random(11))
    call("sync", throttle, Overloaded())
    call("sync", throttle)
    clock.advance(1000.0)
    call("sync", throttle)
    assert (throttle.requests, throttle.accepts) == (1, 1)


# -- events, errors, options ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_rejection_raises_and_emits_event(mode: str) -> None:
    """A shed call raises ThrottledError and emits throttle.rejected with the probability."""
    throttle = Throttle(k=1.0, name="api", clock=VirtualClock(), rng=random.Random(12))
    with capture_events(kinds=["throttle"]) as events:
        outcomes = [call(mode, throttle, Overloaded()) for _ in range(20)]
    shed = [o for o in outcomes if isinstance(o, ThrottledError)]
    assert len(shed) == len(events) > 0
    assert {(e.policy, o.policy, o.retry_after) for e, o in zip(events, shed, strict=True)} == {
        ("api", "api", None)
    }
    assert all(0 < e.attributes["probability"] < 1 for e in events)


def test_describe() -> None:
    """describe() gives kind, name and options."""
    assert Throttle(name="api", k=1.5, window=60.0, buckets=6).describe() == {
        "kind": "Throttle",
        "name": "api",
        "k": 1.5,
        "window": 60.0,
        "buckets": 6,
        "overload": ["Exception"],
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 0.5}, "k must be a finite number >= 1"),
        ({"k": math.inf}, "k must be a finite number >= 1"),
        ({"k": "2"}, "k must be a number"),
        ({"window": 0}, "window must be a finite number > 0"),
        ({"window": -1.0}, "window must be a finite number > 0"),
        ({"buckets": 0}, "buckets must be an integer >= 1"),
        ({"overload": 42}, "overload must be an exception class"),
        ({"rng": 1}, "rng must be a random.Random"),
    ],
)
def test_bad_options_raise_value_error(options: dict[str, Any], message: str) -> None:
    """Invalid options fail at construction, naming Throttle, the option and its range."""
    with pytest.raises(ValueError, match="Throttle") as caught:
        Throttle(**options)
    assert message in str(caught.value)


# -- a state machine over the counts ----------------------------------------------------------


class ThrottleCounts(RuleBasedStateMachine):
    """Random calls and clock moves; the counts always match a model of the window."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.throttle = Throttle(
            k=1.5, window=4.0, buckets=4, clock=self.clock, rng=random.Random(0)
        )
        # (bucket index, was it accepted) for every request made.
        self.history: list[tuple[int, bool]] = []

    def _bucket(self) -> int:
        return int(self.clock.now() // 1.0)

    def _model(self) -> tuple[int, int]:
        current = self._bucket()
        live = [accepted for bucket, accepted in self.history if bucket > current - 4]
        return len(live), sum(live)

    @rule(overloaded=st.booleans())
    def make_call(self, overloaded: bool) -> None:
        outcome = call("sync", self.throttle, Overloaded() if overloaded else None)
        self.history.append((self._bucket(), outcome == "ok"))

    @rule(seconds=st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.75, 3.0, 4.0, 9.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def counts_match_the_model(self) -> None:
        assert (self.throttle.requests, self.throttle.accepts) == self._model()

    @invariant()
    def counts_never_negative_and_probability_in_range(self) -> None:
        requests, accepts = self.throttle.requests, self.throttle.accepts
        assert requests >= accepts >= 0
        assert 0.0 <= self.throttle.probability < 1.0
        assert self.throttle.probability == expected_p(requests, accepts, 1.5)


ThrottleCounts.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_throttle_counts = ThrottleCounts.TestCase
