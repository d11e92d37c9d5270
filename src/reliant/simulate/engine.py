"""The run: seeded arrivals, one asyncio task per request, all on a virtual clock.

Every candidate runs alone on a fresh :class:`~reliant.testing.VirtualClock` with the
same seed, so all of them see the same arrivals and the same dependency luck.
"""

from __future__ import annotations

import asyncio
import copy
import random
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from reliant._core.clock import VirtualClock
from reliant._core.events import Event, subscribe
from reliant.exceptions import RejectedError
from reliant.resilience.pipeline import Pipeline
from reliant.resilience.registry import build_pipeline
from reliant.simulate.dependency import RESPONSE, ScriptedDependency
from reliant.simulate.report import (
    FAILED,
    FALLBACK,
    REJECTED,
    SUCCEEDED,
    TIMED_OUT,
    RunRecord,
    SimulationReport,
    summarise,
)
from reliant.simulate.scenario import Candidate, Scenario, Traffic

_STATE_CHANGED = "circuit_breaker.state_changed"


def name_specs(candidate: str, specs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return copies of ``specs`` where every policy has a name, ``candidate.kind`` by default.

    A second policy of the same kind gets ``candidate.kind.2``, and so on. Names given
    in the scenario are kept.
    """
    named: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for spec in specs:
        item = copy.deepcopy(dict(spec))
        kind = str(item.get("kind", "policy"))
        seen[kind] += 1
        if not item.get("name"):
            item["name"] = (
                f"{candidate}.{kind}" if seen[kind] == 1 else f"{candidate}.{kind}.{seen[kind]}"
            )
        named.append(item)
    return named


def build_candidate(
    candidate: str,
    specs: Sequence[Mapping[str, Any]],
    *,
    seed: int,
    clock: VirtualClock | None = None,
) -> tuple[Pipeline, list[dict[str, Any]]]:
    """Build a candidate's pipeline with named policies.

    Returns:
        The pipeline and the named specs it was built from.

    Raises:
        ValueError: from the registry, naming the bad option by its path
            (``pipeline 'name'[1].backoff...``).
    """
    named = name_specs(candidate, specs)
    pipeline = build_pipeline(
        named, name=candidate, clock=clock or VirtualClock(), rng=random.Random(seed)
    )
    return pipeline, named


def arrival_times(traffic: Traffic, duration: float, rng: random.Random) -> list[float]:
    """Return the request arrival times in ``[0, duration)``, in order.

    ``poisson`` draws exponential gaps at the rate in effect (restarting at each rate
    change, which the process's lack of memory allows); ``uniform`` spaces arrivals
    exactly ``1 / rate`` apart from the start of each rate period.
    """
    starts = [0.0, *(change.at for change in traffic.schedule)]
    rates = [traffic.rate, *(change.rate for change in traffic.schedule)]
    ends = [*starts[1:], duration]
    times: list[float] = []
    for start, end, rate in zip(starts, ends, rates, strict=True):
        if rate <= 0:
            continue
        if traffic.arrivals == "uniform":
            k = 0
            while (t := start + k / rate) < end:
                times.append(t)
                k += 1
        else:
            t = start + rng.expovariate(rate)
            while t < end:
                times.append(t)
                t += rng.expovariate(rate)
    return times


def simulate(scenario: Scenario, *, seed: int | None = None) -> SimulationReport:
    """Run every candidate of ``scenario`` and report what its users would have seen.

    Args:
        scenario: the validated scenario.
        seed: overrides ``scenario.seed``.

    Returns:
        The report, candidates in scenario order; the same seed gives the same report.
    """
    seed = scenario.seed if seed is None else seed
    arrivals = arrival_times(scenario.traffic, scenario.duration, random.Random(seed))
    records = [
        _Run(scenario, candidate, seed, arrivals).execute() for candidate in scenario.candidates
    ]
    return SimulationReport(
        scenario=scenario,
        seed=seed,
        candidates=tuple(summarise(record, scenario) for record in records),
    )


class _Run:
    """One candidate's run: builds its pipeline, drives the requests, records what happened."""

    def __init__(
        self, scenario: Scenario, candidate: Candidate, seed: int, arrivals: list[float]
    ) -> None:
        self.scenario = scenario
        self.clock = VirtualClock()
        self.pipeline, specs = build_candidate(
            candidate.name, candidate.pipeline, seed=seed, clock=self.clock
        )
        self.breakers = tuple(s["name"] for s in specs if s.get("kind") == "circuit_breaker")
        self.dependency = ScriptedDependency(scenario.dependency, self.clock)
        self.arrivals = arrivals
        self.record = RunRecord(
            candidate=candidate.name,
            arrivals=arrivals,
            latencies=array("d", bytes(8 * len(arrivals))),
            outcomes=bytearray(len(arrivals)),
            breakers=self.breakers,
        )
        # Per-request streams: attempt k of request i draws the same numbers in every run.
        self._stream_base = seed << 32

    def execute(self) -> RunRecord:
        """Run all requests to completion and return the record."""
        with subscribe(self._on_state_changed, kinds=(_STATE_CHANGED,)):
            self.clock.run(self._main())
        self.record.attempts = self.dependency.call_times
        self.record.peak_concurrency = self.dependency.peak_concurrency
        self.record.end = self.clock.now()
        return self.record

    def _on_state_changed(self, event: Event) -> None:
        if event.policy in self.breakers:
            state = event.attributes.get("to_state")
            self.record.transitions.append(
                (event.time, event.policy, str(getattr(state, "value", state)))
            )

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Task[None]] = set()

        arrivals = self.arrivals

        def arrive(index: int) -> None:
            task = loop.create_task(self._request(index))
            pending.add(task)
            task.add_done_callback(pending.discard)
            # Chain the arrivals: one timer at a time keeps the loop's heap small.
            if index + 1 < len(arrivals):
                loop.call_at(arrivals[index + 1], arrive, index + 1)

        if arrivals:
            loop.call_at(arrivals[0], arrive, 0)
        await asyncio.sleep(self.scenario.duration)
        while pending:  # let in-flight requests finish, however long their retries take
            await asyncio.wait(set(pending))

    async def _request(self, index: int) -> None:
        record = self.record
        now = self.clock.now
        start = now()
        stream = random.Random(self._stream_base + index)
        try:
            result = await self.pipeline.acall(self.dependency.call, stream)
        except RejectedError as exc:
            outcome = REJECTED
            record.rejected_by[exc.policy or type(exc).__name__] += 1
        except TimeoutError:
            outcome = TIMED_OUT
        except Exception:
            outcome = FAILED
        else:
            outcome = SUCCEEDED if result is RESPONSE else FALLBACK
        record.latencies[index] = now() - start
        record.outcomes[index] = outcome
