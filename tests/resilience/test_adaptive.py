"""AdaptiveLimit: admission at the limit, RTT samples, drops, events; sync and asyncio."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from reliant.exceptions import CircuitOpenError, ConcurrencyLimitError, TimeoutExceeded
from reliant.resilience.adaptive import AdaptiveLimit
from reliant.testing import VirtualClock, capture_events

MODES = ["sync", "async"]


@dataclass(frozen=True)
class Call:
    """A scripted call: nested calls made while in flight, then ``rtt`` of clock time.

    Attributes:
        rtt: virtual seconds the call takes (after its nested calls).
        exc: raised at the end instead of returning ``"ok"``.
        inside: calls made (one after another) while this one is in flight.
        probe: called while in flight, before the nested calls.
    """

    rtt: float = 0.0
    exc: BaseException | None = None
    inside: tuple[Call, ...] = ()
    probe: Callable[[], object] | None = None


def run(mode: str, policy: AdaptiveLimit, clock: VirtualClock, *calls: Call) -> list[Any]:
    """Run ``calls`` in order through ``policy``; return each outcome in start order.

    An outcome is ``"ok"`` or the exception the call raised.
    """
    log: list[Any] = []

    def sync_call(call: Call) -> None:
        def body() -> str:
            if call.probe is not None:
                call.probe()
            for child in call.inside:
                sync_call(child)
            clock.advance(call.rtt)
            if call.exc is not None:
                raise call.exc
            return "ok"

        index = len(log)
        log.append(None)
        try:
            log[index] = policy.call(body)
        except BaseException as exc:
            log[index] = exc

    async def async_call(call: Call) -> None:
        async def body() -> str:
            if call.probe is not None:
                call.probe()
            for child in call.inside:
                await async_call(child)
            await clock.asleep(call.rtt)
            if call.exc is not None:
                raise call.exc
            return "ok"

        index = len(log)
        log.append(None)
        try:
            log[index] = await policy.acall(body)
        except BaseException as exc:
            log[index] = exc

    async def async_all() -> None:
        for call in calls:
            await async_call(call)

    if mode == "sync":
        for call in calls:
            sync_call(call)
    else:
        asyncio.run(async_all())
    return log


def nested(depth: int, innermost: Call) -> Call:
    """Return ``depth`` calls each holding the next in flight, ending with ``innermost``."""
    call = innermost
    for _ in range(depth):
        call = Call(inside=(call,))
    return call


def aimd(clock: VirtualClock, **options: Any) -> AdaptiveLimit:
    options.setdefault("initial", 2)
    options.setdefault("min_limit", 1)
    return AdaptiveLimit(algorithm="aimd", name="db", clock=clock, **options)


# -- admission -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("algorithm", ["aimd", "gradient2", "vegas"])
def test_rejects_at_the_limit(mode: str, algorithm: str) -> None:
    """With ``limit`` calls in flight the next is rejected with ConcurrencyLimitError."""
    clock = VirtualClock()
    policy = AdaptiveLimit(algorithm=algorithm, initial=2, min_limit=1, name="db", clock=clock)
    outcomes = run(mode, policy, clock, nested(2, Call()))
    rejected = outcomes[2]
    assert outcomes[:2] == ["ok", "ok"]
    assert isinstance(rejected, ConcurrencyLimitError)
    assert (rejected.policy, rejected.retry_after) == ("db", None)
    assert policy.inflight == 0


@pytest.mark.parametrize("mode", MODES)
def test_admits_again_once_calls_finish(mode: str) -> None:
    """After the in-flight calls finish, a new call is admitted."""
    clock = VirtualClock()
    policy = aimd(clock, max_limit=2)
    outcomes = run(mode, policy, clock, nested(2, Call()), Call())
    assert outcomes[-1] == "ok"
    assert isinstance(outcomes[2], ConcurrencyLimitError)


@pytest.mark.parametrize("mode", MODES)
def test_inflight_counts_calls_in_progress(mode: str) -> None:
    """inflight is 1, then 2 inside a nested call, and 0 after."""
    clock = VirtualClock()
    policy = aimd(clock, initial=5)
    seen: list[int] = []
    probe = Call(probe=lambda: seen.append(policy.inflight))
    run(mode, policy, clock, Call(probe=lambda: seen.append(policy.inflight), inside=(probe,)))
    assert (seen, policy.inflight) == ([1, 2], 0)


@pytest.mark.parametrize("mode", MODES)
def test_rejection_emits_event(mode: str) -> None:
    """A rejection emits adaptive_limit.rejected with the limit and inflight count."""
    clock = VirtualClock()
    policy = aimd(clock, initial=1, max_limit=1)
    with capture_events(kinds=["adaptive_limit.rejected"]) as events:
        run(mode, policy, clock, nested(1, Call()))
    assert [(e.kind, e.policy, dict(e.attributes)) for e in events] == [
        ("adaptive_limit.rejected", "db", {"limit": 1, "inflight": 1})
    ]


# -- samples and drops -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_success_with_enough_inflight_grows_aimd(mode: str) -> None:
    """A successful call that saw half the limit in flight grows AIMD by one."""
    clock = VirtualClock()
    policy = aimd(clock)
    assert run(mode, policy, clock, Call(rtt=0.1)) == ["ok"]
    assert policy.limit == 3


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "exc", [TimeoutError("t"), TimeoutExceeded("t", timeout=1.0), CircuitOpenError("open")]
)
def test_drops_shrink_the_limit_and_propagate(mode: str, exc: BaseException) -> None:
    """TimeoutError and an inner policy's rejection are drops; the exception is re-raised."""
    clock = VirtualClock()
    policy = aimd(clock, initial=10)
    assert [exc] == run(mode, policy, clock, Call(rtt=0.1, exc=exc))
    assert policy.limit == 9


@pytest.mark.parametrize("mode", MODES)
def test_other_exceptions_are_ordinary_samples(mode: str) -> None:
    """A ValueError is a sample, not a drop: AIMD grows as on a success."""
    clock = VirtualClock()
    policy = aimd(clock)
    error = ValueError("bad request")
    assert [error] == run(mode, policy, clock, Call(rtt=0.1, exc=error))
    assert (policy.limit, policy.inflight) == (3, 0)


@pytest.mark.parametrize("mode", MODES)
def test_drop_on_is_configurable(mode: str) -> None:
    """Exceptions listed in drop_on are drops; TimeoutError then is not."""
    clock = VirtualClock()
    policy = aimd(clock, initial=10, drop_on=ConnectionError)
    run(mode, policy, clock, Call(exc=ConnectionError()), Call(exc=TimeoutError()))
    assert policy.limit == 9


@pytest.mark.parametrize("mode", MODES)
def test_rtt_is_measured_on_the_clock(mode: str) -> None:
    """An AIMD call slower than timeout (clock time) counts as a drop."""
    clock = VirtualClock()
    policy = aimd(clock, initial=10, timeout=1.0)
    run(mode, policy, clock, Call(rtt=0.5))  # 2·1 < 10: unchanged
    run(mode, policy, clock, Call(rtt=1.5))  # slower than 1 s: floor(0.9·10)
    assert policy.limit == 9


@pytest.mark.parametrize("mode", MODES)
def test_interrupted_call_leaves_no_sample(mode: str) -> None:
    """A BaseException such as KeyboardInterrupt frees the slot without moving the limit."""
    clock = VirtualClock()
    policy = aimd(clock)
    interrupt = KeyboardInterrupt()
    assert [interrupt] == run(mode, policy, clock, Call(rtt=0.1, exc=interrupt))
    assert (policy.limit, policy.inflight) == (2, 0)


def test_cancelled_task_leaves_no_sample() -> None:
    """Cancelling an awaiting call frees its slot and leaves the limit alone."""
    clock = VirtualClock()
    policy = aimd(clock)

    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.ensure_future(policy.acall(slow))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    clock.run(main())
    assert (policy.limit, policy.inflight) == (2, 0)


@pytest.mark.parametrize("mode", MODES)
def test_limit_changes_emit_events(mode: str) -> None:
    """Each change of the integer limit emits adaptive_limit.limit_changed once."""
    clock = VirtualClock()
    policy = aimd(clock, initial=10)
    with capture_events(kinds=["adaptive_limit.limit_changed"]) as events:
        run(mode, policy, clock, Call(exc=TimeoutError()), Call(rtt=0.1), Call(exc=TimeoutError()))
    assert [dict(e.attributes) for e in events] == [{"old": 10, "new": 9}, {"old": 9, "new": 8}]


@pytest.mark.parametrize("mode", MODES)
def test_gradient2_does_not_grow_while_underused(mode: str) -> None:
    """Sequential calls (inflight 1 of 20) never grow the default Gradient2 limit."""
    clock = VirtualClock()
    policy = AdaptiveLimit(clock=clock)
    run(mode, policy, clock, *[Call(rtt=0.01) for _ in range(50)])
    assert policy.limit == 20


def test_recovers_after_drops_when_load_returns() -> None:
    """Drops shrink the AIMD limit; busy successful calls grow it back."""
    clock = VirtualClock()
    policy = aimd(clock, initial=6, max_limit=6)
    run("sync", policy, clock, *[Call(exc=TimeoutError()) for _ in range(4)])
    shrunk = policy.limit  # 6 → 5 → 4 → 3 → 2
    outcomes: list[Any] = []
    for _ in range(10):  # each round fills the limit; the busiest calls grow it
        outcomes += run("sync", policy, clock, nested(policy.limit - 1, Call()))
    assert (shrunk, policy.limit) == (2, 6)
    assert all(outcome == "ok" for outcome in outcomes)


def test_threads_run_concurrently_up_to_the_limit() -> None:
    """Three threads are inside their calls at once (no lock around the call); a fourth is shed."""
    policy = AdaptiveLimit(algorithm="aimd", initial=3, min_limit=3, max_limit=3)
    gate = threading.Event()
    entered = threading.Semaphore(0)
    results: list[Any] = []

    def body() -> str:
        entered.release()
        gate.wait(10)
        return "ok"

    threads = [threading.Thread(target=lambda: results.append(policy.call(body))) for _ in range(3)]
    for thread in threads:
        thread.start()
    all_inside = all(entered.acquire(timeout=10) for _ in range(3))
    with pytest.raises(ConcurrencyLimitError):
        policy.call(body)
    inflight = policy.inflight
    gate.set()
    for thread in threads:
        thread.join(10)
    assert (all_inside, inflight, results, policy.inflight) == (True, 3, ["ok"] * 3, 0)


# -- options -----------------------------------------------------------------------------


def test_defaults() -> None:
    """The default is Gradient2 at 20 in [20, 200], dropping on TimeoutError."""
    policy = AdaptiveLimit()
    o = policy.options
    assert ("gradient2", 20, 20, 200, (TimeoutError,)) == (
        o.algorithm,
        o.initial,
        o.min_limit,
        o.max_limit,
        o.drop_on,
    )
    assert (
        o.smoothing,
        o.queue_size,
        o.tolerance,
        o.timeout,
        o.backoff_ratio,
    ) == (0.2, 4, 1.5, None, None)
    assert (policy.limit, policy.inflight) == (20, 0)


@pytest.mark.parametrize(
    ("algorithm", "bounds"), [("aimd", (20, 200)), ("vegas", (1, 1000)), ("gradient2", (20, 200))]
)
def test_bounds_default_per_algorithm(algorithm: str, bounds: tuple[int, int]) -> None:
    """min_limit and max_limit default to the algorithm's own."""
    o = AdaptiveLimit(algorithm=algorithm).options
    assert bounds == (o.min_limit, o.max_limit)


def test_algorithm_options_pass_through() -> None:
    """Options of the chosen algorithm reach it."""
    policy = AdaptiveLimit(algorithm="aimd", backoff_ratio=0.5, timeout=2.0, initial=30)
    assert policy.describe() == {
        "kind": "AdaptiveLimit",
        "name": "adaptivelimit",
        "algorithm": "aimd",
        "drop_on": ["TimeoutError"],
        "initial": 30,
        "min_limit": 20,
        "max_limit": 200,
        "backoff_ratio": 0.5,
        "timeout": 2.0,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithm": "bbr"}, "algorithm must be one of 'aimd', 'gradient2', 'vegas'"),
        ({"algorithm": "gradient2", "backoff_ratio": 0.5}, "backoff_ratio does not apply"),
        ({"algorithm": "aimd", "smoothing": 0.5}, "smoothing does not apply"),
        ({"algorithm": "vegas", "queue_size": 2}, "queue_size does not apply"),
        ({"algorithm": "aimd", "backoff_ratio": 1.5}, "backoff_ratio must be in [0.5, 1)"),
        ({"initial": 500}, "initial must be in [min_limit, max_limit]"),
        ({"min_limit": 0}, "min_limit must be an integer >= 1"),
        ({"drop_on": "TimeoutError"}, "drop_on must be an exception class"),
        ({"rng": 42}, "rng must be a random.Random"),
        ({"name": 3}, "name must be a string"),
    ],
)
def test_bad_options_raise_value_error(options: dict[str, Any], message: str) -> None:
    """Invalid or misplaced options fail at construction, naming AdaptiveLimit and the option."""
    with pytest.raises(ValueError, match="AdaptiveLimit") as caught:
        AdaptiveLimit(**options)
    assert message in str(caught.value)


def test_decorator_keeps_working() -> None:
    """Used as a decorator, the policy passes arguments through and counts the call."""
    clock = VirtualClock()
    policy = aimd(clock)

    @policy
    def add(a: int, b: int) -> int:
        return a + b

    assert (add(1, 2), policy.limit) == (3, 3)
