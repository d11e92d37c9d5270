"""Tests for reliant.simulate.dependency: the scripted dependency's failures, latency and load."""

from __future__ import annotations

import asyncio
import random
import statistics
from typing import Any

import pytest

from reliant.simulate import DependencyError, DependencyOverloaded
from reliant.simulate.dependency import RESPONSE, ScriptedDependency, latency_sampler
from reliant.simulate.scenario import Dependency, Latency
from reliant.testing import VirtualClock


def _dependency(clock: VirtualClock, **spec: Any) -> ScriptedDependency:
    return ScriptedDependency(Dependency.model_validate(spec), clock)


@pytest.mark.parametrize(
    ("spec", "low", "high"),
    [
        ({"distribution": "constant", "value": 0.04}, 0.04, 0.04),
        ({"distribution": "uniform", "min": 0.01, "max": 0.03}, 0.01, 0.03),
        ({"distribution": "exponential", "mean": 0.0}, 0.0, 0.0),
    ],
)
def test_latency_samples_stay_in_their_range(spec: dict[str, Any], low: float, high: float) -> None:
    """Constant, uniform and zero-mean exponential latencies stay within their bounds."""
    sample = latency_sampler(Latency.model_validate(spec))
    rng = random.Random(1)
    draws = [sample(rng) for _ in range(1000)]
    assert (True, True) == (min(draws) >= low, max(draws) <= high)


def test_lognormal_latency_matches_its_median_and_p99() -> None:
    """The lognormal is fitted so its median and 99th percentile are the ones given."""
    sample = latency_sampler(
        Latency.model_validate({"distribution": "lognormal", "median": 0.04, "p99": 0.4})
    )
    rng = random.Random(7)
    draws = sorted(sample(rng) for _ in range(40_000))
    assert statistics.median(draws) == pytest.approx(0.04, rel=0.03)
    assert draws[int(0.99 * len(draws))] == pytest.approx(0.4, rel=0.08)


def test_exponential_latency_has_its_mean() -> None:
    """An exponential latency averages its mean."""
    sample = latency_sampler(Latency.model_validate({"distribution": "exponential", "mean": 0.1}))
    rng = random.Random(3)
    assert statistics.fmean(sample(rng) for _ in range(20_000)) == pytest.approx(0.1, rel=0.03)


def test_incidents_apply_within_start_inclusive_end_exclusive() -> None:
    """An incident's behaviour holds in [start, end), the base behaviour elsewhere."""
    dep = _dependency(
        VirtualClock(),
        failure_rate=0.1,
        latency=0.02,
        incidents=[
            {"start": 10, "end": 20, "failure_rate": 1.0},
            {"start": 30, "end": 40, "latency_factor": 5},
        ],
    )
    rng = random.Random(0)
    seen = [
        (dep.regime_at(t).failure_rate, dep.regime_at(t).latency(rng))
        for t in (0, 10, 19.99, 20, 30, 40)
    ]
    assert [
        (0.1, 0.02),
        (1.0, 0.02),
        (1.0, 0.02),
        (0.1, 0.02),
        (0.1, pytest.approx(0.1)),
        (0.1, 0.02),
    ] == seen


def test_a_call_takes_its_latency_and_returns_the_response() -> None:
    """A successful call sleeps its latency on the clock and returns RESPONSE."""
    clock = VirtualClock()
    dep = _dependency(clock, latency=0.25)
    result = clock.run(dep.call(random.Random(0)))
    assert (RESPONSE, 0.25, 1, [0.0]) == (result, clock.now(), dep.calls, dep.call_times)


def test_a_failing_call_raises_after_its_latency() -> None:
    """A scripted failure is a DependencyError (a ConnectionError) raised after the latency."""
    clock = VirtualClock()
    dep = _dependency(clock, latency=0.25, failure_rate=1.0)
    with pytest.raises(DependencyError) as caught:
        clock.run(dep.call(random.Random(0)))
    assert (True, 0.25) == (isinstance(caught.value, ConnectionError), clock.now())


def test_the_same_stream_gives_the_same_luck() -> None:
    """Two dependencies fed equal streams fail and wait identically, attempt by attempt."""

    async def outcomes(dep: ScriptedDependency, stream: random.Random) -> list[str]:
        found = []
        for _ in range(50):
            try:
                await dep.call(stream)
                found.append("ok")
            except DependencyError:
                found.append("error")
        return found

    runs = []
    for _ in range(2):
        clock = VirtualClock()
        dep = _dependency(
            clock,
            failure_rate=0.5,
            latency={"distribution": "lognormal", "median": 0.04, "p99": 0.4},
        )
        runs.append((clock.run(outcomes(dep, random.Random(99))), clock.now()))
    assert runs[0] == runs[1]


async def _concurrently(dep: ScriptedDependency, n: int) -> list[object]:
    calls = [dep.call(random.Random(i)) for i in range(n)]
    return await asyncio.gather(*calls, return_exceptions=True)


def test_overload_fail_refuses_calls_beyond_capacity() -> None:
    """With overload: fail, calls beyond max_concurrent fail at once and are not in flight."""
    clock = VirtualClock()
    dep = _dependency(clock, latency=0.1, capacity={"max_concurrent": 2, "overload": "fail"})
    results = clock.run(_concurrently(dep, 3))
    assert [RESPONSE, RESPONSE, DependencyOverloaded] == [
        r if r is RESPONSE else type(r) for r in results
    ]
    assert (2, 3) == (dep.peak_concurrency, dep.calls)


def test_overload_slow_stretches_latency_by_the_excess() -> None:
    """With overload: slow, latency grows by in_flight / max_concurrent."""
    clock = VirtualClock()
    dep = _dependency(clock, latency=0.1, capacity={"max_concurrent": 2, "overload": "slow"})

    async def timed(i: int) -> float:
        await dep.call(random.Random(i))
        return clock.now()

    async def main() -> list[float]:
        return list(await asyncio.gather(*(timed(i) for i in range(4))))

    assert [0.1, 0.1, pytest.approx(0.15), pytest.approx(0.2)] == clock.run(main())
    assert 4 == dep.peak_concurrency


def test_an_abandoned_call_keeps_its_slot_until_its_work_is_done() -> None:
    """A client timeout cancels the wait, but the dependency stays busy for the full latency."""
    clock = VirtualClock()
    dep = _dependency(clock, latency=1.0)
    seen: list[tuple[float, int]] = []

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await dep.call(random.Random(0))
        seen.append((clock.now(), dep.in_flight))
        await asyncio.sleep(0.9)
        seen.append((clock.now(), dep.in_flight))

    clock.run(main())
    assert [(0.2, 1), (pytest.approx(1.1), 0)] == seen
