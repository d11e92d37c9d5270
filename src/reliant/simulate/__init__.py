"""The policy simulator: run candidate pipelines against a scripted dependency on virtual time.

::

    from reliant.simulate import Scenario, simulate

    report = simulate(Scenario.from_yaml("examples/scenarios/hard-outage.yaml"))
    print(report.format_table())

Not part of ``import reliant``: it needs pydantic and PyYAML (and matplotlib for charts).
"""

from __future__ import annotations

from reliant.simulate.dependency import DependencyError, DependencyOverloaded, ScriptedDependency
from reliant.simulate.engine import simulate
from reliant.simulate.errors import ScenarioError
from reliant.simulate.report import Bucket, CandidateResult, SimulationReport
from reliant.simulate.scenario import Scenario

__all__ = [
    "Bucket",
    "CandidateResult",
    "DependencyError",
    "DependencyOverloaded",
    "Scenario",
    "ScenarioError",
    "ScriptedDependency",
    "SimulationReport",
    "simulate",
]
