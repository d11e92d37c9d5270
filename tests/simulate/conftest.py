"""Shared helpers for the simulator tests: tiny scenarios and the example reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reliant.simulate import Scenario, SimulationReport, simulate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


def _tiny(**overrides: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "tiny",
        "seed": 1,
        "duration": "10s",
        "bucket": "1s",
        "traffic": {"rate": 10, "arrivals": "uniform"},
        "dependency": {"latency": "50ms", "failure_rate": 0.0},
        "candidates": [{"name": "bare"}],
    }
    data.update(overrides)
    return Scenario.from_mapping(data)


@pytest.fixture
def tiny() -> Callable[..., Scenario]:
    """Build a hand-checkable scenario: 100 evenly spaced requests over 10 s, 50 ms each,
    no errors, one bare candidate; keyword arguments replace top-level keys."""
    return _tiny


@pytest.fixture(scope="session")
def example_report() -> Callable[[str], SimulationReport]:
    """Run an example scenario once per test session and hand out its report."""
    cache: dict[str, SimulationReport] = {}

    def run(name: str) -> SimulationReport:
        if name not in cache:
            cache[name] = simulate(Scenario.from_yaml(EXAMPLES / f"{name}.yaml"))
        return cache[name]

    return run
