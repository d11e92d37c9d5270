"""Tests for reliant.simulate.report: figures, the side-by-side table and JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from reliant.simulate import Scenario, SimulationReport, simulate
from reliant.simulate.report import open_intervals, percentile


@pytest.mark.parametrize(
    ("p", "expected"), [(0, 1.0), (50, 5.0), (90, 9.0), (95, 10.0), (99, 10.0), (100, 10.0)]
)
def test_percentiles_use_the_nearest_rank(p: float, expected: float) -> None:
    """The p-th percentile is the value at rank ceil(p/100 · n): always an observed value."""
    assert expected == percentile([float(v) for v in range(1, 11)], p)


def test_the_percentile_of_nothing_is_none() -> None:
    """No observations, no percentile."""
    assert None is percentile([], 99)


def test_open_intervals_merge_breakers_and_clip_to_the_run() -> None:
    """Open spans of several breakers are merged, and a breaker still open ends with the run."""
    transitions = [
        (1.0, "a", "open"),
        (3.0, "a", "half_open"),
        (2.0, "b", "forced_open"),
        (4.0, "b", "closed"),
        (8.0, "a", "open"),
    ]
    assert [(1.0, 4.0), (8.0, 10.0)] == open_intervals(transitions, 10.0)


def test_an_open_breaker_reopened_from_half_open_counts_once() -> None:
    """Half-open is not open; reopening starts a new span."""
    transitions = [(0.0, "a", "open"), (2.0, "a", "half_open"), (2.5, "a", "open")]
    assert [(0.0, 2.0), (2.5, 5.0)] == open_intervals(transitions, 5.0)


def _report(tiny: Callable[..., Scenario]) -> SimulationReport:
    scenario = tiny(
        dependency={
            "latency": "20ms",
            "incidents": [{"name": "outage", "start": "5s", "end": "10s", "failure_rate": 1}],
        },
        candidates=[
            {"name": "bare"},
            {
                "name": "safe",
                "pipeline": [
                    {"kind": "fallback", "value": None},
                    {"kind": "bulkhead", "max_concurrent": 1},
                    {
                        "kind": "retry",
                        "attempts": 2,
                        "backoff": {"kind": "constant", "delay": 0.15},
                    },
                ],
            },
        ],
    )
    return simulate(scenario)


def test_the_table_puts_candidates_side_by_side(tiny: Callable[..., Scenario]) -> None:
    """The text table has a header, the incidents, and one aligned column per candidate.

    During the outage the bulkhead (held 190 ms by each retried request) turns away every
    other request; the fallback answers both those and the failed ones.
    """
    expected = """\
tiny (seed 1)
  10s of traffic at 10 req/s (uniform)
  incident 5s to 10s: outage

                                bare     safe
requests                         100      100
success rate                  50.0 %   50.0 %
fallbacks served                   0       50
failed                            50        0
timed out                          0        0
rejected                           0        0
latency p50                    20 ms    20 ms
latency p95                    20 ms   190 ms
latency p99                    20 ms   190 ms
load amplification             1.00x    1.00x
peak dependency concurrency        1        1
breaker open                       -        -"""
    assert expected == _report(tiny).format_table()


def test_rejections_get_a_row_per_policy(tiny: Callable[..., Scenario]) -> None:
    """Each rejecting policy gets an indented row, named without the candidate prefix."""
    scenario = tiny(
        dependency={"latency": "150ms"},
        candidates=[{"name": "b", "pipeline": [{"kind": "bulkhead", "max_concurrent": 1}]}],
    )
    rows = simulate(scenario).format_table().splitlines()
    rejected = [row.split() for row in rows if row.startswith(("rejected", "  by "))]
    assert [["rejected", "50"], ["by", "bulkhead", "50"]] == rejected


def test_json_carries_every_figure_and_the_timeline(tiny: Callable[..., Scenario]) -> None:
    """The JSON report parses back and holds the figures, in seconds and shares."""
    report = _report(tiny)
    data = json.loads(report.to_json())
    safe = data["candidates"][1]
    assert {
        "name": "tiny",
        "description": "",
        "seed": 1,
        "duration": 10.0,
        "bucket": 1.0,
        "incidents": [{"start": 5.0, "end": 10.0, "label": "outage"}],
    } == data["scenario"]
    assert (100, 50, 50, 0.5, 1.0, 0.19, 100, None) == (
        safe["requests"],
        safe["succeeded"],
        safe["fallbacks"],
        safe["success_rate"],
        safe["served_rate"],
        safe["latency"]["p99"],
        safe["attempts"],
        safe["breaker_open"],
    )
    assert 10 == len(safe["timeline"])
    assert {
        "start": 9.0,
        "requests": 10,
        "succeeded": 0,
        "fallbacks": 10,
        "success_rate": 0.0,
        "latency_p99": 0.19,
        "attempts": 10,
        "breaker_open": 0.0,
    } == safe["timeline"][-1]


def test_a_candidate_is_found_by_name(tiny: Callable[..., Scenario]) -> None:
    """report.candidate(name) returns that candidate, or a KeyError listing them."""
    report = _report(tiny)
    assert "safe" == report.candidate("safe").name
    with pytest.raises(KeyError, match="candidates: bare, safe"):
        report.candidate("nope")
