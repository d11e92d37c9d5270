"""The example scenarios under examples/scenarios run, and show what they claim to show."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reliant.simulate import CandidateResult, SimulationReport

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"

Run = Callable[[str], SimulationReport]


def _window(c: CandidateResult, start: float, end: float) -> tuple[int, int]:
    buckets = [b for b in c.timeline if start <= b.start < end]
    return sum(b.requests for b in buckets), sum(b.attempts for b in buckets)


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_each_example_runs(example_report: Run, name: str) -> None:
    """Every example loads, runs, and gives every candidate the same requests."""
    report = example_report(name)
    assert name == report.scenario.name
    assert 1 == len({c.requests for c in report.candidates})
    assert all(c.requests > 1000 for c in report.candidates)


def test_retries_multiply_the_load_during_the_outage(example_report: Run) -> None:
    """hard-outage: blind retries make about five calls per request while it is down."""
    retry = example_report("hard-outage").candidate("retry")
    requests, attempts = _window(retry, 120.0, 210.0)
    assert attempts / requests > 4.5
    before, before_attempts = _window(retry, 0.0, 120.0)
    assert before_attempts / before < 1.05


def test_the_breaker_opens_during_the_outage(example_report: Run) -> None:
    """hard-outage: the breakers spend most of the 90 s outage open, and little time outside it."""
    report = example_report("hard-outage")
    for name in ("breaker", "breaker-fallback"):
        c = report.candidate(name)
        assert 80.0 < (c.breaker_open or 0.0) < 110.0
        assert (c.amplification or 1.0) < 0.8
    assert 1.0 == report.candidate("breaker-fallback").served_rate


def test_retries_hide_random_failures(example_report: Run) -> None:
    """flaky-dependency: retries lift the success rate from about 80 % to about 99 %."""
    report = example_report("flaky-dependency")
    bare, retry = report.candidate("bare"), report.candidate("retry")
    assert (bare.success_rate or 1.0) < 0.85 < 0.98 < (retry.success_rate or 0.0)


def test_a_retry_storm_outlasts_the_slow_down(example_report: Run) -> None:
    """slow-down: unbudgeted retries keep the dependency overloaded; a budget does not."""
    report = example_report("slow-down")
    storm, budgeted = report.candidate("retry-storm"), report.candidate("budgeted")
    assert storm.timeline[-1].success_rate == pytest.approx(0.0, abs=0.05)
    assert budgeted.timeline[-1].success_rate == pytest.approx(1.0, abs=0.05)
    assert (storm.amplification or 0.0) > 2.0
    assert (budgeted.amplification or 9.0) < 1.1
