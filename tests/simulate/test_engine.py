"""Tests for reliant.simulate.engine: runs on virtual time, with figures checkable by hand."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from reliant._core.events import BUS
from reliant.simulate import Scenario, simulate
from reliant.simulate.engine import arrival_times, name_specs
from reliant.simulate.scenario import Traffic

Tiny = Callable[..., Scenario]


def _one(tiny: Tiny, pipeline: list[dict[str, Any]], **dependency: Any) -> Any:
    scenario = tiny(
        dependency={"latency": "50ms", **dependency},
        candidates=[{"name": "c", "pipeline": pipeline}],
    )
    return simulate(scenario).candidate("c")


def test_uniform_arrivals_are_evenly_spaced_and_follow_the_schedule() -> None:
    """Uniform arrivals come exactly 1/rate apart, restarting at each rate change."""
    traffic = Traffic.model_validate(
        {"rate": 2, "arrivals": "uniform", "schedule": [{"at": 2, "rate": 0}, {"at": 3, "rate": 4}]}
    )
    assert [0.0, 0.5, 1.0, 1.5, 3.0, 3.25, 3.5, 3.75] == arrival_times(
        traffic, 4.0, random.Random(0)
    )


def test_poisson_arrivals_are_seeded_and_average_the_rate() -> None:
    """Poisson arrivals repeat with the seed and number about rate × duration."""
    traffic = Traffic.model_validate({"rate": 50})
    first = arrival_times(traffic, 200.0, random.Random(5))
    assert first == arrival_times(traffic, 200.0, random.Random(5))
    assert len(first) == pytest.approx(10_000, rel=0.03)
    assert (True, True) == (first == sorted(first), 0 <= first[0] and first[-1] < 200)


def test_a_healthy_dependency_gives_exact_figures(tiny: Tiny) -> None:
    """100 requests at 50 ms each: all succeed, every percentile is 50 ms, one call at a time."""
    c = simulate(tiny()).candidate("bare")
    assert (100, 100, 0, 0, 0, 0, {}) == (
        c.requests,
        c.succeeded,
        c.fallbacks,
        c.failed,
        c.timed_out,
        c.rejected,
        c.rejected_by,
    )
    assert (1.0, 1.0, 100, 1.0, 1, None, None) == (
        c.success_rate,
        c.served_rate,
        c.attempts,
        c.amplification,
        c.peak_concurrency,
        c.breaker_open,
        c.breaker_open_share,
    )
    assert [pytest.approx(0.05)] * 3 == [c.latency_p50, c.latency_p95, c.latency_p99]
    assert [(float(i), 10, 10, 10) for i in range(10)] == [
        (b.start, b.requests, b.succeeded, b.attempts) for b in c.timeline
    ]


def test_retries_against_a_dead_dependency_triple_the_load(tiny: Tiny) -> None:
    """Three attempts 150 ms apart at 20 ms each: 300 calls, all fail, 360 ms per request."""
    c = _one(
        tiny,
        [{"kind": "retry", "attempts": 3, "backoff": {"kind": "constant", "delay": "150ms"}}],
        latency="20ms",
        failure_rate=1.0,
    )
    assert (100, 0, 300, 3.0, 0.0, 1) == (
        c.failed,
        c.succeeded,
        c.attempts,
        c.amplification,
        c.success_rate,
        c.peak_concurrency,
    )
    assert pytest.approx(0.36) == c.latency_p99


def test_a_timeout_answers_at_its_deadline(tiny: Tiny) -> None:
    """A 30 ms timeout over a 50 ms dependency: every request times out after 30 ms."""
    c = _one(tiny, [{"kind": "timeout", "seconds": "30ms"}])
    assert (100, 0, pytest.approx(0.03)) == (c.timed_out, c.succeeded, c.latency_p50)


def test_rejections_are_counted_per_policy(tiny: Tiny) -> None:
    """A bulkhead of one over 150 ms calls arriving every 100 ms admits every other request."""
    c = _one(tiny, [{"kind": "bulkhead", "max_concurrent": 1}], latency="150ms")
    assert (50, 50, {"c.bulkhead": 50}) == (c.succeeded, c.rejected, c.rejected_by)


def test_fallbacks_are_served_not_succeeded(tiny: Tiny) -> None:
    """A fallback over a dead dependency serves every request without a single success."""
    c = _one(tiny, [{"kind": "fallback", "value": "stale"}], failure_rate=1.0)
    assert (0, 100, 0.0, 1.0) == (c.succeeded, c.fallbacks, c.success_rate, c.served_rate)


def test_breaker_open_time_matches_its_state_changes(tiny: Tiny) -> None:
    """A breaker on a dead dependency: open from 0.91 s, probed every 2 s, 9.05 s open in all.

    The tenth failure (at 0.91 s) opens it; after 2 s the next arrival probes it, fails
    10 ms later and reopens it: open spans [0.91, 3.0], [3.01, 5.1], [5.11, 7.2],
    [7.21, 9.3] and [9.31, 10].
    """
    breaker = {
        "kind": "circuit_breaker",
        "window": {"kind": "count", "size": 10},
        "min_calls": 10,
        "half_open_calls": 1,
        "open_for": "2s",
    }
    c = _one(tiny, [breaker], latency="10ms", failure_rate=1.0)
    assert (pytest.approx(9.05), pytest.approx(0.905)) == (c.breaker_open, c.breaker_open_share)
    assert (14, 14, {"c.circuit_breaker": 86}) == (c.failed, c.attempts, c.rejected_by)
    assert pytest.approx(0.09) == c.timeline[0].breaker_open


def _busy(seed: int = 11) -> Scenario:
    return Scenario.from_mapping(
        {
            "name": "busy",
            "seed": seed,
            "duration": "1m",
            "traffic": {"rate": 15},
            "dependency": {
                "latency": {"distribution": "lognormal", "median": "30ms", "p99": "300ms"},
                "failure_rate": 0.2,
                "incidents": [{"start": "20s", "end": "30s", "failure_rate": 1.0}],
            },
            "candidates": [
                {"name": "bare"},
                {
                    "name": "retry",
                    "pipeline": [
                        {"kind": "timeout", "seconds": "1s"},
                        {"kind": "retry", "attempts": 2, "backoff": {"initial": "50ms"}},
                    ],
                },
            ],
        }
    )


def test_the_same_seed_gives_the_same_report() -> None:
    """Two runs with one seed agree to the last figure; another seed differs."""
    assert simulate(_busy()).to_dict() == simulate(_busy()).to_dict()
    assert simulate(_busy()).to_dict() != simulate(_busy(), seed=12).to_dict()
    assert simulate(_busy(), seed=12).to_dict() == simulate(_busy(12)).to_dict()


def test_candidates_meet_the_same_first_attempts() -> None:
    """Each request's first attempt has the same luck under every candidate.

    So with one retry per failure, the retry candidate's extra calls are exactly the
    requests that failed without it.
    """
    scenario = _busy()
    report = simulate(scenario)
    bare, retry = report.candidate("bare"), report.candidate("retry")
    assert (bare.requests, bare.failed) == (retry.requests, retry.attempts - retry.requests)


def test_the_run_leaves_no_event_listener_behind() -> None:
    """After a simulation, the event bus is idle again (no cost left on the hot path)."""
    simulate(_busy())
    assert False is BUS.active


def test_policies_get_candidate_scoped_names() -> None:
    """Unnamed policies are called candidate.kind, repeats get a number, given names stay."""
    specs = [
        {"kind": "retry"},
        {"kind": "timeout", "seconds": 1},
        {"kind": "retry", "name": "mine"},
    ]
    specs.append({"kind": "timeout", "seconds": 2})
    assert ["c.retry", "c.timeout", "mine", "c.timeout.2"] == [
        s["name"] for s in name_specs("c", specs)
    ]
    assert "name" not in specs[0]


def test_no_traffic_reports_no_figures(tiny: Tiny) -> None:
    """With a rate of zero there are no requests, and rates and percentiles are None."""
    c = simulate(tiny(traffic={"rate": 0})).candidate("bare")
    assert (0, None, None, None, 0) == (
        c.requests,
        c.success_rate,
        c.latency_p99,
        c.amplification,
        c.attempts,
    )
