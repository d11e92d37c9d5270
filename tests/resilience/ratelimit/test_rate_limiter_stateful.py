"""Hypothesis state machines: each algorithm against a plain Fraction reference model.

Every decision (allowed, remaining, retry_after, reset_after) must equal the model's,
retry_after and reset_after must be the exact first instants the model agrees with,
and no window of admitted requests may exceed what the rate allows.
"""

from __future__ import annotations

import asyncio
import copy
import math
from fractions import Fraction

from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from reliant.exceptions import RateLimitedError
from reliant.resilience.ratelimit import Decision, RateLimiter
from reliant.testing import VirtualClock

US = 1_000_000
#: Long periods, and periods of a few µs where T and the window are tiny and every
#: rounding boundary is hit often.
PERS = [0.25, 0.5, 1.0, 2.0, 10.0, 1e-06, 1e-05, 2e-05, 5e-05]


class BucketModel:
    """A token bucket in exact fractions of tokens: GCRA's and the bucket's meaning."""

    def __init__(self, emission_us: int, capacity: int) -> None:
        self.emission = emission_us
        self.capacity = capacity
        self.tokens = Fraction(capacity)
        self.updated = 0

    def level(self, now: int) -> Fraction:
        return min(
            Fraction(self.capacity), self.tokens + Fraction(now - self.updated, self.emission)
        )

    def decide(self, now: int, cost: int) -> tuple[bool, int, float, float]:
        level = self.level(now)
        if level >= cost:
            if cost:
                self.tokens, self.updated = level - cost, now
            left = level - cost
            return True, math.floor(left), 0.0, self.seconds(self.capacity - left)
        retry = math.inf if cost > self.capacity else self.seconds(cost - level)
        return False, math.floor(level), retry, self.seconds(self.capacity - level)

    def seconds(self, tokens: Fraction) -> float:
        return float(tokens * self.emission / US)


class WindowModel:
    """The sliding-window counter formula over exact fractions."""

    def __init__(self, limit: int, window_us: int) -> None:
        self.limit = limit
        self.window = window_us
        self.counts: dict[int, int] = {}  # window index -> admitted cost

    def estimate(self, now: int) -> int:
        index, elapsed = divmod(now, self.window)
        prev, cur = self.counts.get(index - 1, 0), self.counts.get(index, 0)
        return math.floor(prev * Fraction(self.window - elapsed, self.window)) + cur

    def decide(self, now: int, cost: int) -> tuple[bool, int, float, float]:
        used = self.estimate(now)
        if used + cost <= self.limit:
            index = now // self.window
            self.counts[index] = self.counts.get(index, 0) + cost
            return True, self.limit - used - cost, 0.0, self.first(now, 0)
        retry = math.inf if cost > self.limit else self.first(now, self.limit - cost)
        return False, max(0, self.limit - used), retry, self.first(now, 0)

    def first(self, now: int, room: int) -> float:
        """Seconds until the estimate is <= room, found by bisection.

        Without new requests the estimate never rises (at a window start the old
        current count weighs in full, no more than it did), and two windows on it is 0.
        """
        lo, hi = now, now + 2 * self.window
        while lo < hi:
            mid = (lo + hi) // 2
            if self.estimate(mid) <= room:
                hi = mid
            else:
                lo = mid + 1
        return (lo - now) / US


class LimiterMachine(RuleBasedStateMachine):
    """Drive a limiter and its model with the same requests and clock steps."""

    algorithm = "gcra"

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.now = 0
        self.admitted: list[tuple[int, int]] = []  # (time µs, cost)
        self.hints: list[int] = []  # retry_after / reset_after of the last decision, µs

    @initialize(
        rate=st.integers(min_value=1, max_value=12),
        per=st.sampled_from(PERS),
        burst=st.integers(min_value=1, max_value=6),
    )
    def build(self, rate: int, per: float, burst: int) -> None:
        if self.algorithm != "sliding_window":
            assume(rate / per <= 1_000_000)
        self.rate, self.per = rate, per
        if self.algorithm == "sliding_window":
            self.limiter = RateLimiter.sliding_window(rate=rate, per=per, clock=self.clock)
            self.model: BucketModel | WindowModel = WindowModel(rate, round(per * US))
            self.capacity = rate
        else:
            self.limiter = getattr(RateLimiter, self.algorithm)(
                rate=rate, per=per, burst=burst, clock=self.clock
            )
            emission = math.ceil(Fraction(str(per)) * US / rate)
            self.model = BucketModel(emission, burst)
            self.capacity = burst

    @rule(us=st.one_of(st.integers(0, 2_000), st.integers(0, 3 * US), st.integers(0, 30 * US)))
    def advance(self, us: int) -> None:
        self.now += us
        self.clock.advance(us / US)

    @rule(
        which=st.integers(0, 1),
        offset=st.integers(-1, 1),
        cost=st.integers(min_value=0, max_value=8),
    )
    def request_at_hint(self, which: int, offset: int, cost: int) -> None:
        """Step to just before, at or after what the last decision said, and ask again."""
        if which < len(self.hints) and self.hints[which] + offset >= 0:
            self.advance(self.hints[which] + offset)
        self.request(cost, use_async=False)

    @rule(cost=st.integers(min_value=0, max_value=8), use_async=st.booleans())
    def request(self, cost: int, use_async: bool) -> None:
        probe = copy.deepcopy(self.model)
        expected = Decision(*self.model.decide(self.now, cost))
        outcome = self.aacquire(cost) if use_async else self.limiter.try_acquire(cost=cost)
        if isinstance(outcome, RateLimitedError):
            # aacquire with max_wait 0 raises on denial; compare what the error carries.
            assert (False, expected.retry_after) == (expected.allowed, outcome.retry_after)
        else:
            assert expected == outcome
        self.hints = [
            round(h * US) for h in (expected.retry_after, expected.reset_after) if h != math.inf
        ]
        if expected.allowed and cost:
            self.admitted.append((self.now, cost))
        self.check_hints(probe, expected, cost)

    def aacquire(self, cost: int) -> Decision | RateLimitedError:
        try:
            return asyncio.run(self.limiter.aacquire(cost=cost))
        except RateLimitedError as exc:
            return exc

    def check_hints(self, model: BucketModel | WindowModel, decision: Decision, cost: int) -> None:
        """retry_after and reset_after are the first µs at which the model agrees."""
        if not decision.allowed and decision.retry_after != math.inf:
            at = self.now + round(decision.retry_after * US)
            assert copy.deepcopy(model).decide(at, cost)[0]
            assert not copy.deepcopy(model).decide(at - 1, cost)[0]
        after = copy.deepcopy(model)
        if decision.allowed:
            after.decide(self.now, cost)
        at = self.now + round(decision.reset_after * US)
        assert self.capacity == copy.deepcopy(after).decide(at, 0)[1]
        if decision.reset_after > 0:
            assert self.capacity > copy.deepcopy(after).decide(at - 1, 0)[1]

    @invariant()
    def never_over_admits(self) -> None:
        if not hasattr(self, "rate"):
            return
        per_us = Fraction(str(self.per)) * US
        times = self.admitted
        for i, (start, _) in enumerate(times):
            total = 0
            for end, cost in times[i:]:
                total += cost
                if self.algorithm == "sliding_window":
                    if end - start < per_us:
                        assert total <= 2 * self.rate
                    if start // round(self.per * US) == end // round(self.per * US):
                        assert total <= self.rate
                else:
                    assert total <= self.capacity + (end - start) * self.rate / per_us


class GcraMachine(LimiterMachine):
    algorithm = "gcra"


class TokenBucketMachine(LimiterMachine):
    algorithm = "token_bucket"


class SlidingWindowMachine(LimiterMachine):
    algorithm = "sliding_window"


SETTINGS = settings(max_examples=100, stateful_step_count=50, deadline=None)
TestGcra = GcraMachine.TestCase
TestGcra.settings = SETTINGS
TestTokenBucket = TokenBucketMachine.TestCase
TestTokenBucket.settings = SETTINGS
TestSlidingWindow = SlidingWindowMachine.TestCase
TestSlidingWindow.settings = SETTINGS
