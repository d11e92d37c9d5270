"""Tests for reliant.resilience.backoff: the delay before each retry.

Formulas follow the AWS Architecture Blog's "Exponential Backoff and Jitter"
(reference/resilience.md §3), with retries counted from 1: the wait before retry ``n``
is ``min(max, initial·multiplier^(n−1))`` before jitter.
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliant.resilience.backoff import (
    DEFAULT_INITIAL,
    DEFAULT_MAX,
    DEFAULT_MULTIPLIER,
    Backoff,
)


def schedule(backoff: Backoff, retries: int, rng: random.Random | None = None) -> list[float]:
    """Return the delays before retries 1..retries, feeding each back as ``previous``."""
    rng = rng or random.Random(0)
    delays: list[float] = []
    previous = 0.0
    for n in range(1, retries + 1):
        previous = backoff.delay(n, previous, rng)
        delays.append(previous)
    return delays


def test_constant_waits_the_same_every_time() -> None:
    """constant(d) waits exactly d before every retry."""
    assert [0.5] * 5 == schedule(Backoff.constant(0.5), 5)


def test_linear_adds_a_step_per_retry() -> None:
    """linear(initial, step) waits initial + step·(n − 1)."""
    assert [1.0, 1.5, 2.0, 2.5] == schedule(Backoff.linear(1.0, 0.5), 4)


def test_linear_is_capped_at_max() -> None:
    """A linear schedule stops growing at max."""
    assert [1.0, 2.0, 3.0, 3.5, 3.5] == schedule(Backoff.linear(1.0, 1.0, max=3.5), 5)


def test_exponential_without_jitter_follows_the_formula() -> None:
    """exponential(initial, multiplier, max, 'none') waits min(max, initial·multiplier^(n−1))."""
    backoff = Backoff.exponential(initial=0.5, multiplier=3.0, max=20.0, jitter="none")
    assert [0.5, 1.5, 4.5, 13.5, 20.0, 20.0] == schedule(backoff, 6)


def test_exponential_base_two_matches_aws() -> None:
    """With multiplier 2 the AWS formula min(cap, base·2^k) appears, k = n − 1."""
    backoff = Backoff.exponential(initial=0.1, multiplier=2.0, max=1.0, jitter="none")
    expected = [min(1.0, 0.1 * 2**k) for k in range(6)]
    assert expected == schedule(backoff, 6)


def test_full_jitter_draws_uniformly_below_the_exponential_value() -> None:
    """Full jitter is uniform(0, t): the same draws as the AWS formula with the same seed."""
    backoff = Backoff.exponential(initial=0.1, multiplier=2.0, max=1.0, jitter="full")
    reference = random.Random(7)
    expected = [reference.uniform(0.0, min(1.0, 0.1 * 2 ** (n - 1))) for n in range(1, 9)]
    assert expected == schedule(backoff, 8, random.Random(7))


def test_full_jitter_stays_within_bounds() -> None:
    """Every full-jittered delay lies in [0, t] and averages about t/2."""
    backoff = Backoff.exponential(initial=1.0, multiplier=2.0, max=8.0, jitter="full")
    rng = random.Random(11)
    draws = [backoff.delay(4, 0.0, rng) for _ in range(5000)]
    assert all(0.0 <= d <= 8.0 for d in draws)
    assert 4.0 == pytest.approx(statistics.fmean(draws), abs=0.2)


def test_equal_jitter_keeps_half_and_jitters_half() -> None:
    """Equal jitter is t/2 + uniform(0, t/2): in [t/2, t], averaging 3t/4."""
    backoff = Backoff.exponential(initial=1.0, multiplier=2.0, max=8.0, jitter="equal")
    rng = random.Random(5)
    draws = [backoff.delay(3, 0.0, rng) for _ in range(5000)]
    assert all(2.0 <= d <= 4.0 for d in draws)
    assert 3.0 == pytest.approx(statistics.fmean(draws), abs=0.1)


def test_equal_jitter_matches_the_formula_for_a_seed() -> None:
    """The exact equal-jitter draws for a seed are t/2 + uniform(0, t/2)."""
    backoff = Backoff.exponential(initial=1.0, multiplier=2.0, max=8.0, jitter="equal")
    reference = random.Random(3)
    expected = []
    for n in range(1, 6):
        t = min(8.0, 2.0 ** (n - 1))
        expected.append(t / 2 + reference.uniform(0.0, t / 2))
    assert expected == schedule(backoff, 5, random.Random(3))


def test_jitter_applies_to_constant_and_linear_too() -> None:
    """Constant and linear schedules accept full and equal jitter."""
    rng = random.Random(1)
    assert all(0.0 <= d <= 2.0 for d in schedule(Backoff.constant(2.0, jitter="full"), 50, rng))
    linear = Backoff.linear(1.0, 1.0, max=4.0, jitter="equal")
    assert all(0.5 <= d <= 4.0 for d in schedule(linear, 50, rng))


def test_decorrelated_follows_the_aws_recurrence() -> None:
    """Decorrelated: sleep = min(cap, uniform(base, 3·previous)), previous starting at base."""
    backoff = Backoff.decorrelated(initial=0.1, max=5.0)
    reference = random.Random(9)
    expected, previous = [], 0.1
    for _ in range(12):
        previous = min(5.0, reference.uniform(0.1, 3 * previous))
        expected.append(previous)
    assert expected == schedule(backoff, 12, random.Random(9))


def test_decorrelated_stays_within_bounds() -> None:
    """Each decorrelated delay lies in [initial, min(max, 3·previous)]."""
    backoff = Backoff.decorrelated(initial=0.2, max=3.0)
    rng = random.Random(21)
    previous = 0.0
    for n in range(1, 500):
        delay = backoff.delay(n, previous, rng)
        upper = min(3.0, 3 * (previous or 0.2))
        assert 0.2 <= delay <= upper
        previous = delay


def test_cap_survives_huge_retry_numbers() -> None:
    """A capped exponential never overflows, however many retries."""
    backoff = Backoff.exponential(initial=0.1, multiplier=2.0, max=30.0, jitter="none")
    assert 30.0 == backoff.delay(5000, 0.0, random.Random(0))


def test_uncapped_zero_initial_stays_zero() -> None:
    """initial 0 with no cap gives 0, even where the power overflows."""
    backoff = Backoff.exponential(initial=0.0, multiplier=2.0, max=None, jitter="none")
    assert 0.0 == backoff.delay(5000, 0.0, random.Random(0))


def test_uncapped_exponential_keeps_growing() -> None:
    """max=None removes the cap."""
    backoff = Backoff.exponential(initial=1.0, multiplier=10.0, max=None, jitter="none")
    assert 1e6 == backoff.delay(7, 0.0, random.Random(0))


def test_documented_defaults() -> None:
    """exponential() is 0.1 s × 2 up to 10 s with full jitter; the others default to none."""
    backoff = Backoff.exponential()
    assert (DEFAULT_INITIAL, DEFAULT_MULTIPLIER, DEFAULT_MAX, "full") == (
        backoff.initial,
        backoff.multiplier,
        backoff.max,
        backoff.jitter,
    )
    assert (0.1, 2.0, 10.0) == (DEFAULT_INITIAL, DEFAULT_MULTIPLIER, DEFAULT_MAX)
    assert "none" == Backoff.constant(1.0).jitter
    assert "none" == Backoff.linear(1.0, 1.0).jitter
    assert (0.1, 10.0) == (Backoff.decorrelated().initial, Backoff.decorrelated().max)


def test_options_are_stored_as_floats() -> None:
    """Integer options become floats, so every delay is a float."""
    backoff = Backoff.constant(2)
    delay = backoff.delay(1, 0.0, random.Random(0))
    assert 2.0 == delay
    assert float is type(delay)


def test_backoff_is_frozen() -> None:
    """A Backoff is an immutable value."""
    backoff = Backoff.constant(1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        backoff.initial = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Backoff.constant(-1.0), r"Backoff\.constant: delay must be .*>= 0"),
        (lambda: Backoff.constant(math.nan), r"Backoff\.constant: delay must be a number"),
        (lambda: Backoff.constant(True), r"Backoff\.constant: delay must be a number"),
        (lambda: Backoff.linear(1.0, -1.0), r"Backoff\.linear: step must be"),
        (lambda: Backoff.exponential(initial=-0.1), r"Backoff\.exponential: initial must be"),
        (lambda: Backoff.exponential(multiplier=0.5), r"multiplier must be a finite number >= 1"),
        (lambda: Backoff.exponential(multiplier=math.inf), r"multiplier must be a finite"),
        (lambda: Backoff.exponential(initial=2.0, max=1.0), r"max must be >= initial \(2\.0\)"),
        (lambda: Backoff.exponential(max=math.inf), r"max must be a finite number >= 0"),
        (lambda: Backoff.exponential(jitter="gaussian"), r"jitter must be one of 'none'"),  # type: ignore[arg-type]
        (lambda: Backoff.constant(1.0, jitter="half"), r"jitter must be one of"),  # type: ignore[arg-type]
        (lambda: Backoff.decorrelated(initial=1.0, max=0.5), r"Backoff\.decorrelated: max"),
        (
            lambda: Backoff(kind="decorrelated", initial=0.1, max=1.0, jitter="full"),
            r"jitter must be 'none'",
        ),
        (lambda: Backoff(kind="fibonacci", initial=0.1), r"kind must be one of"),  # type: ignore[arg-type]
    ],
)
def test_invalid_options_name_the_option(build: object, message: str) -> None:
    """Bad options fail at construction with a message naming the schedule and option."""
    assert callable(build)
    with pytest.raises(ValueError, match=message):
        build()


@given(
    retry=st.integers(min_value=1, max_value=2000),
    initial=st.floats(min_value=0.0, max_value=10.0),
    multiplier=st.floats(min_value=1.0, max_value=10.0),
    jitter=st.sampled_from(["none", "full", "equal"]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_exponential_stays_within_the_jitter_bounds(
    retry: int, initial: float, multiplier: float, jitter: str, seed: int
) -> None:
    """none gives t exactly, full a value in [0, t], equal one in [t/2, t]; t is capped."""
    cap = initial + 10.0
    backoff = Backoff.exponential(
        initial=initial,
        multiplier=multiplier,
        max=cap,
        jitter=jitter,  # type: ignore[arg-type]
    )
    try:
        t = min(cap, initial * multiplier ** (retry - 1))
    except OverflowError:
        t = cap if initial > 0 else 0.0
    delay = backoff.delay(retry, 0.0, random.Random(seed))
    if jitter == "none":
        assert t == delay
    elif jitter == "full":
        assert 0.0 <= delay <= t
    else:
        assert t / 2 <= delay <= t
