"""RateLimiter: options, waiting in acquire, the deadline bound, call forms, events."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from reliant._core.deadline import deadline_scope
from reliant.exceptions import RateLimitedError
from reliant.resilience.ratelimit import Decision, MemoryBackend, RateLimiter
from reliant.testing import VirtualClock, capture_events

MODES = ["sync", "async"]
ALGORITHMS = ["gcra", "token_bucket", "sliding_window"]


def acquire(mode: str, rl: RateLimiter, clock: VirtualClock, **kw: Any) -> Decision:
    """Run acquire or aacquire (on the clock's virtual-time loop)."""
    if mode == "sync":
        return rl.acquire(**kw)
    return clock.run(rl.aacquire(**kw))


def call(mode: str, rl: RateLimiter, clock: VirtualClock, fn: Callable[..., Any], *a: Any) -> Any:
    """Run fn through rl.call, or an async twin of fn through rl.acall."""
    if mode == "sync":
        return rl.call(fn, *a)

    async def afn(*args: Any) -> Any:
        return fn(*args)

    return clock.run(rl.acall(afn, *a))


def one_per_100ms(clock: VirtualClock, **options: Any) -> RateLimiter:
    return RateLimiter.gcra(rate=10, burst=1, clock=clock, **options)


# -- waiting --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_acquire_sleeps_until_admitted(mode: str) -> None:
    """Within max_wait, acquire sleeps exactly retry_after and then admits."""
    clock = VirtualClock()
    rl = one_per_100ms(clock, max_wait=1.0)
    acquire(mode, rl, clock)
    assert Decision(True, 0, 0.0, 0.1) == acquire(mode, rl, clock)
    assert [0.1] == clock.sleeps
    assert pytest.approx(0.1) == clock.now()


@pytest.mark.parametrize("mode", MODES)
def test_acquire_fails_fast_when_the_wait_is_too_long(mode: str) -> None:
    """retry_after beyond max_wait raises at once, without sleeping, carrying retry_after."""
    clock = VirtualClock()
    rl = one_per_100ms(clock, max_wait=0.05, name="api")
    acquire(mode, rl, clock)
    with pytest.raises(RateLimitedError) as info:
        acquire(mode, rl, clock)
    assert ("api", 0.1, []) == (info.value.policy, info.value.retry_after, clock.sleeps)
    assert "api: rate limit exceeded for key ''; retry after 0.1s" == str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_default_max_wait_rejects_at_once(mode: str) -> None:
    """max_wait defaults to 0: a denied acquire raises immediately."""
    clock = VirtualClock()
    rl = one_per_100ms(clock)
    acquire(mode, rl, clock)
    with pytest.raises(RateLimitedError):
        acquire(mode, rl, clock)
    assert [] == clock.sleeps


@pytest.mark.parametrize("mode", MODES)
def test_per_call_max_wait_overrides_the_limiter(mode: str) -> None:
    """acquire(max_wait=...) replaces the limiter's max_wait for that call."""
    clock = VirtualClock()
    rl = one_per_100ms(clock)
    acquire(mode, rl, clock)
    assert acquire(mode, rl, clock, max_wait=0.1).allowed
    with pytest.raises(RateLimitedError):
        acquire(mode, rl, clock, max_wait=0.09)
    assert [0.1] == clock.sleeps


@pytest.mark.parametrize("mode", MODES)
def test_never_admissible_cost_fails_even_with_unbounded_wait(mode: str) -> None:
    """cost beyond the burst raises at once with retry_after = inf, whatever max_wait."""
    clock = VirtualClock()
    rl = one_per_100ms(clock, max_wait=math.inf)
    with pytest.raises(RateLimitedError) as info:
        acquire(mode, rl, clock, cost=2)
    assert (math.inf, []) == (info.value.retry_after, clock.sleeps)
    assert "can never be admitted" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_unbounded_wait_waits_as_long_as_needed(mode: str) -> None:
    """max_wait=inf sleeps through any finite retry_after."""
    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=1, per=3600.0, burst=1, clock=clock, max_wait=math.inf)
    acquire(mode, rl, clock)
    assert acquire(mode, rl, clock).allowed
    assert [3600.0] == clock.sleeps


@pytest.mark.parametrize("mode", MODES)
def test_deadline_shorter_than_retry_after_fails_without_sleeping(mode: str) -> None:
    """A current deadline caps the wait: never sleep past it."""
    clock = VirtualClock()
    rl = one_per_100ms(clock, max_wait=1.0)
    acquire(mode, rl, clock)
    with deadline_scope(0.05, clock), pytest.raises(RateLimitedError):
        acquire(mode, rl, clock)
    assert [] == clock.sleeps


@pytest.mark.parametrize("mode", MODES)
def test_deadline_longer_than_retry_after_lets_it_wait(mode: str) -> None:
    """A deadline beyond retry_after does not stop the wait."""
    clock = VirtualClock()
    rl = one_per_100ms(clock, max_wait=1.0)
    acquire(mode, rl, clock)
    with deadline_scope(0.5, clock):
        assert acquire(mode, rl, clock).allowed
    assert [0.1] == clock.sleeps


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_waits_for_its_own_retry_after(mode: str, algorithm: str) -> None:
    """acquire sleeps the algorithm's retry_after, then the request passes."""
    clock = VirtualClock()
    rl = getattr(RateLimiter, algorithm)(rate=2, per=1.0, clock=clock, max_wait=2.0)
    for _ in range(2):
        acquire(mode, rl, clock)
    denied = rl.try_acquire()
    assert not denied.allowed
    assert acquire(mode, rl, clock).allowed
    assert [denied.retry_after] == clock.sleeps


# -- call forms and keys ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_call_runs_the_function_or_rejects_without_calling(mode: str) -> None:
    """call/acall return the result when admitted and never call fn when denied."""
    clock = VirtualClock()
    rl = one_per_100ms(clock)
    calls: list[int] = []

    def fn(x: int) -> int:
        calls.append(x)
        return x * 2

    assert 42 == call(mode, rl, clock, fn, 21)
    with pytest.raises(RateLimitedError):
        call(mode, rl, clock, fn, 1)
    assert [21] == calls


@pytest.mark.parametrize("mode", MODES)
def test_key_option_partitions_calls(mode: str) -> None:
    """key=(args, kwargs) -> str gives each partition its own allowance."""
    clock = VirtualClock()
    rl = one_per_100ms(clock, key=lambda args, kwargs: f"user-{args[0]}")
    assert ["a", "b"] == [call(mode, rl, clock, str, u) for u in ("a", "b")]
    with pytest.raises(RateLimitedError) as info:
        call(mode, rl, clock, str, "a")
    assert "key 'user-a'" in str(info.value)


def test_decorates_sync_and_async_functions() -> None:
    """As a decorator the limiter guards every call of a sync or async function."""
    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=10, burst=2, clock=clock)

    @rl
    def ping() -> str:
        return "pong"

    @rl
    async def aping() -> str:
        return "apong"

    assert ("pong", "apong") == (ping(), clock.run(aping()))
    with pytest.raises(RateLimitedError):
        ping()


# -- events -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_events_report_allowed_and_rejected(mode: str) -> None:
    """rate_limiter.allowed / .rejected carry key, remaining and retry_after."""
    clock = VirtualClock()
    rl = RateLimiter.gcra(rate=10, burst=2, clock=clock, name="api")
    with capture_events(kinds=["rate_limiter"]) as events:
        acquire(mode, rl, clock, key="k")
        rl.try_acquire("k")
        with pytest.raises(RateLimitedError):
            acquire(mode, rl, clock, key="k")
    assert [
        ("rate_limiter.allowed", "api", {"key": "k", "remaining": 1, "retry_after": 0.0}),
        ("rate_limiter.allowed", "api", {"key": "k", "remaining": 0, "retry_after": 0.0}),
        ("rate_limiter.rejected", "api", {"key": "k", "remaining": 0, "retry_after": 0.1}),
    ] == [(e.kind, e.policy, dict(e.attributes)) for e in events]


# -- backends ---------------------------------------------------------------------------


class RecordingBackend:
    """A backend that records the parameters it is asked to decide with."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def gcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        self.calls.append(("gcra", key, emission_us, tolerance_us, cost))
        return Decision(True, 0, 0.0, 0.0)

    def token_bucket(self, key: str, emission_us: int, capacity: int, cost: int) -> Decision:
        self.calls.append(("token_bucket", key, emission_us, capacity, cost))
        return Decision(True, 0, 0.0, 0.0)

    def sliding_window(self, key: str, limit: int, window_us: int, cost: int) -> Decision:
        self.calls.append(("sliding_window", key, limit, window_us, cost))
        return Decision(True, 0, 0.0, 0.0)

    async def agcra(self, *a: Any) -> Decision:
        return self.gcra(*a)

    async def atoken_bucket(self, *a: Any) -> Decision:
        return self.token_bucket(*a)

    async def asliding_window(self, *a: Any) -> Decision:
        return self.sliding_window(*a)


@pytest.mark.parametrize("mode", MODES)
def test_backend_receives_integer_parameters_and_a_namespaced_key(mode: str) -> None:
    """A given backend gets name:key and the algorithm's µs parameters."""
    backend = RecordingBackend()
    clock = VirtualClock()
    for algorithm in ALGORITHMS:
        rl = getattr(RateLimiter, algorithm)(rate=4, per=2.0, backend=backend, name="api")
        acquire(mode, rl, clock, key="u1", cost=2)
    assert [
        ("gcra", "api:u1", 500_000, 2_000_000, 2),
        ("token_bucket", "api:u1", 500_000, 4, 2),
        ("sliding_window", "api:u1", 4, 2_000_000, 2),
    ] == backend.calls


def test_limiters_sharing_a_memory_backend_keep_apart_by_name() -> None:
    """Two limiters on one backend do not share keys unless they share a name."""
    clock = VirtualClock()
    backend = MemoryBackend(clock=clock)
    a = RateLimiter.gcra(rate=1, burst=1, backend=backend, name="a")
    b = RateLimiter.gcra(rate=1, burst=1, backend=backend, name="b")
    a_twin = RateLimiter.gcra(rate=1, burst=1, backend=backend, name="a")
    assert [True, True, False] == [rl.try_acquire("k").allowed for rl in (a, b, a_twin)]
    assert clock is a.clock


def test_describe_reports_options() -> None:
    """describe() gives kind, name, algorithm options and the backend type."""
    rl = RateLimiter.gcra(rate=5, per=60.0, name="api")
    assert {
        "kind": "RateLimiter",
        "name": "api",
        "algorithm": "gcra",
        "rate": 5,
        "per": 60.0,
        "burst": 5,
        "max_wait": 0.0,
        "max_keys": 100_000,
        "backend": "MemoryBackend",
    } == rl.describe()
    assert "RateLimiter.gcra(rate=5, per=60.0, name='api')" == repr(rl)
    assert None is RateLimiter.sliding_window(rate=5).options.burst
    assert "ratelimiter" == RateLimiter.sliding_window(rate=5).name


# -- bad options --------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": 0}, "rate must be a finite number > 0, got 0"),
        ({"rate": -1}, "rate must be a finite number > 0, got -1"),
        ({"rate": math.inf}, "rate must be a finite number > 0, got inf"),
        ({"rate": 1, "per": 0}, "per must be a finite number > 0, got 0"),
        ({"rate": 1, "per": -2.0}, "per must be a finite number > 0, got -2.0"),
        ({"rate": 1, "max_wait": -1}, "max_wait must be a number >= 0, got -1"),
        ({"rate": 1, "max_keys": 0}, "max_keys must be an integer >= 1, got 0"),
    ],
)
def test_bad_options_name_option_and_range(
    algorithm: str, options: dict[str, Any], message: str
) -> None:
    """Invalid options raise ValueError naming the class, the option and the range."""
    with pytest.raises(ValueError, match=f"^RateLimiter.{algorithm}: {message}"):
        getattr(RateLimiter, algorithm)(**options)


@pytest.mark.parametrize("algorithm", ["gcra", "token_bucket"])
@pytest.mark.parametrize("burst", [0, -1, 1.5, True])
def test_burst_below_one_is_rejected(algorithm: str, burst: object) -> None:
    """burst must be an integer >= 1."""
    with pytest.raises(ValueError, match=f"RateLimiter.{algorithm}: burst must be an integer >= 1"):
        getattr(RateLimiter, algorithm)(rate=1, burst=burst)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"algorithm": "sliding_window", "rate": 2.5},
            "RateLimiter.sliding_window: rate must be a whole number >= 1, got 2.5",
        ),
        (
            {"algorithm": "sliding_window", "rate": 2, "burst": 2},
            "RateLimiter.sliding_window: burst must be None",
        ),
        (
            {"algorithm": "sliding_window", "rate": 2, "per": 1e-7},
            r"RateLimiter.sliding_window: per must be >= 1e-06 seconds",
        ),
        ({"rate": 2_000_000}, r"RateLimiter.gcra: rate / per must be <= 1000000 per second"),
        ({"algorithm": "leaky", "rate": 1}, "RateLimiter: algorithm must be one of 'gcra'"),
        ({"rate": 1, "backend": object()}, "RateLimiter.gcra: backend must be a RateLimitBackend"),
        (
            {"rate": 1, "backend": MemoryBackend(), "max_keys": 5},
            "RateLimiter.gcra: max_keys must be None when a backend is given",
        ),
        (
            {"rate": 1, "backend": MemoryBackend(), "clock": VirtualClock()},
            "RateLimiter.gcra: clock must be the memory backend's clock",
        ),
        ({"rate": 1, "key": "user"}, "RateLimiter.gcra: key must be a callable"),
    ],
)
def test_inconsistent_options_are_rejected(options: dict[str, Any], message: str) -> None:
    """Options that cannot work together are rejected at construction."""
    with pytest.raises(ValueError, match=message):
        RateLimiter(**options)


@pytest.mark.parametrize("cost", [-1, 1.0, True, "1"])
def test_bad_cost_raises(cost: object) -> None:
    """cost must be an integer >= 0."""
    rl = RateLimiter.gcra(rate=1)
    with pytest.raises(ValueError, match="RateLimiter: cost must be an integer >= 0"):
        rl.try_acquire(cost=cost)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_bad_cost_and_key_raise_in_acquire(mode: str) -> None:
    """acquire validates cost, key and max_wait like try_acquire."""
    clock = VirtualClock()
    rl = one_per_100ms(clock)
    with pytest.raises(ValueError, match="cost must be an integer >= 0, got -2"):
        acquire(mode, rl, clock, cost=-2)
    with pytest.raises(TypeError, match="RateLimiter: key must be a string, got 7"):
        acquire(mode, rl, clock, key=7)
    acquire(mode, rl, clock)
    with pytest.raises(ValueError, match=r"RateLimiter\.acquire: max_wait must be a number >= 0"):
        acquire(mode, rl, clock, max_wait=-1.0)


def test_non_string_key_raises_type_error() -> None:
    """try_acquire rejects a key that is not a string."""
    with pytest.raises(TypeError, match="key must be a string, got None"):
        RateLimiter.gcra(rate=1).try_acquire(None)  # type: ignore[arg-type]
