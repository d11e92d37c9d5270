"""What users would have seen: per-candidate figures, a side-by-side table and JSON.

Latency figures are user-observed: from a request's arrival to its answer, whatever
the answer was (success, fallback, error, timeout or rejection), over all requests.
Percentiles use the nearest-rank method, so every figure is a latency that happened.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reliant.simulate.scenario import Scenario, format_time

#: Outcome codes of one request.
SUCCEEDED, FALLBACK, FAILED, TIMED_OUT, REJECTED = range(5)
#: Breaker states counted as "open" (rejecting calls).
OPEN_STATES = frozenset({"open", "forced_open"})


@dataclass(slots=True, kw_only=True)
class RunRecord:
    """The raw facts of one candidate's run, filled in by the engine."""

    candidate: str
    arrivals: Sequence[float]
    latencies: array[float]
    outcomes: bytearray
    breakers: tuple[str, ...] = ()
    rejected_by: Counter[str] = field(default_factory=Counter)
    #: ``(time, breaker name, new state)`` for every breaker state change.
    transitions: list[tuple[float, str, str]] = field(default_factory=list)
    #: The time of every attempt on the dependency.
    attempts: Sequence[float] = ()
    peak_concurrency: int = 0
    #: The clock when the last request finished.
    end: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """One slice of the timeline; requests belong to the slice they arrived in."""

    start: float
    requests: int
    succeeded: int
    fallbacks: int
    success_rate: float | None
    latency_p99: float | None
    attempts: int
    breaker_open: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateResult:
    """What one candidate pipeline's users saw.

    Attributes:
        success_rate: share of requests answered by the dependency itself.
        served_rate: share answered at all (successes plus fallbacks).
        rejected_by: user-visible rejections per rejecting policy name.
        amplification: dependency attempts per request (1.0 = no extra load).
        breaker_open: seconds within the run that any of the candidate's breakers was
            open (``None`` without a breaker); ``breaker_open_share`` as a share of the run.
    """

    name: str
    description: str
    requests: int
    succeeded: int
    fallbacks: int
    failed: int
    timed_out: int
    rejected: int
    rejected_by: Mapping[str, int]
    success_rate: float | None
    served_rate: float | None
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    attempts: int
    amplification: float | None
    peak_concurrency: int
    breaker_open: float | None
    breaker_open_share: float | None
    timeline: tuple[Bucket, ...]


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """Return the nearest-rank ``p``-th percentile of sorted values (``None`` if empty)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def open_intervals(
    transitions: Iterable[tuple[float, str, str]], end: float
) -> list[tuple[float, float]]:
    """Return the merged intervals, within ``[0, end]``, in which any breaker was open."""
    spans: list[tuple[float, float]] = []
    since: dict[str, float] = {}
    for when, breaker, state in sorted(transitions, key=lambda item: item[0]):
        if state in OPEN_STATES:
            since.setdefault(breaker, when)
        elif breaker in since:
            spans.append((since.pop(breaker), when))
    spans += [(start, end) for start in since.values()]
    merged: list[tuple[float, float]] = []
    for start, stop in sorted((max(0.0, a), min(end, b)) for a, b in spans):
        if stop <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def summarise(record: RunRecord, scenario: Scenario) -> CandidateResult:
    """Turn a run's raw record into the figures of the report."""
    duration, width = scenario.duration, scenario.bucket
    n = len(record.arrivals)
    counts = Counter(record.outcomes)
    slices = max(1, math.ceil(duration / width - 1e-9))
    last = slices - 1
    requests, succeeded, fallbacks, attempts = ([0] * slices for _ in range(4))
    latencies: list[list[float]] = [[] for _ in range(slices)]
    for when, latency, outcome in zip(
        record.arrivals, record.latencies, record.outcomes, strict=True
    ):
        b = min(int(when // width), last)
        requests[b] += 1
        succeeded[b] += outcome == SUCCEEDED
        fallbacks[b] += outcome == FALLBACK
        latencies[b].append(latency)
    for when in record.attempts:
        attempts[min(int(when // width), last)] += 1
    spans = open_intervals(record.transitions, duration)
    open_by_bucket = [0.0] * slices
    for start, stop in spans:
        for b in range(min(int(start // width), last), min(int(stop // width), last) + 1):
            overlap = min(stop, (b + 1) * width) - max(start, b * width)
            open_by_bucket[b] += max(0.0, overlap)
    timeline = tuple(
        Bucket(
            start=b * width,
            requests=requests[b],
            succeeded=succeeded[b],
            fallbacks=fallbacks[b],
            success_rate=_ratio(succeeded[b], requests[b]),
            latency_p99=percentile(sorted(latencies[b]), 99),
            attempts=attempts[b],
            breaker_open=open_by_bucket[b],
        )
        for b in range(slices)
    )
    ordered = sorted(record.latencies)
    open_seconds = sum(stop - start for start, stop in spans) if record.breakers else None
    description = next(c.description for c in scenario.candidates if c.name == record.candidate)
    return CandidateResult(
        name=record.candidate,
        description=description,
        requests=n,
        succeeded=counts[SUCCEEDED],
        fallbacks=counts[FALLBACK],
        failed=counts[FAILED],
        timed_out=counts[TIMED_OUT],
        rejected=counts[REJECTED],
        rejected_by=dict(sorted(record.rejected_by.items())),
        success_rate=_ratio(counts[SUCCEEDED], n),
        served_rate=_ratio(counts[SUCCEEDED] + counts[FALLBACK], n),
        latency_p50=percentile(ordered, 50),
        latency_p95=percentile(ordered, 95),
        latency_p99=percentile(ordered, 99),
        attempts=len(record.attempts),
        amplification=len(record.attempts) / n if n else None,
        peak_concurrency=record.peak_concurrency,
        breaker_open=open_seconds,
        breaker_open_share=None if open_seconds is None else open_seconds / duration,
        timeline=timeline,
    )


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """The outcome of :func:`~reliant.simulate.simulate`: every candidate, side by side."""

    scenario: Scenario
    seed: int
    candidates: tuple[CandidateResult, ...]

    def candidate(self, name: str) -> CandidateResult:
        """Return the result of the candidate called ``name``.

        Raises:
            KeyError: naming the candidates there are.
        """
        for result in self.candidates:
            if result.name == name:
                return result
        known = ", ".join(c.name for c in self.candidates)
        raise KeyError(f"no candidate named {name!r} (candidates: {known})")

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (times in seconds, rates in [0, 1])."""
        scenario = self.scenario
        return {
            "scenario": {
                "name": scenario.name,
                "description": scenario.description,
                "seed": self.seed,
                "duration": scenario.duration,
                "bucket": scenario.bucket,
                "incidents": [
                    {"start": i.start, "end": i.end, "label": i.label}
                    for i in scenario.dependency.incidents
                ],
            },
            "candidates": [_candidate_dict(c) for c in self.candidates],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return the report as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def format_table(self) -> str:
        """Return the report as an aligned text table, one column per candidate."""
        scenario = self.scenario
        head = f"{scenario.name} (seed {self.seed})"
        lines = [head, *(f"  {line}" for line in describe_scenario(scenario)), ""]
        rows = _table_rows(self.candidates)
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
            lines.append("   ".join(cells).rstrip())
        return "\n".join(lines)


def describe_scenario(scenario: Scenario) -> list[str]:
    """Return short lines saying what the scenario runs (traffic, dependency, incidents)."""
    traffic = scenario.traffic
    rate = f"{traffic.rate:g} req/s ({traffic.arrivals})"
    for change in traffic.schedule:
        rate += f", {change.rate:g} req/s from {format_time(change.at)}"
    lines = [f"{format_time(scenario.duration)} of traffic at {rate}"]
    for incident in scenario.dependency.incidents:
        lines.append(
            f"incident {format_time(incident.start)} to {format_time(incident.end)}: "
            f"{incident.label}"
        )
    return lines


def _round(value: float | None, places: int = 6) -> float | None:
    return None if value is None else round(value, places)


def _candidate_dict(c: CandidateResult) -> dict[str, Any]:
    return {
        "name": c.name,
        "description": c.description,
        "requests": c.requests,
        "succeeded": c.succeeded,
        "fallbacks": c.fallbacks,
        "failed": c.failed,
        "timed_out": c.timed_out,
        "rejected": c.rejected,
        "rejected_by": dict(c.rejected_by),
        "success_rate": _round(c.success_rate),
        "served_rate": _round(c.served_rate),
        "latency": {
            "p50": _round(c.latency_p50),
            "p95": _round(c.latency_p95),
            "p99": _round(c.latency_p99),
        },
        "attempts": c.attempts,
        "amplification": _round(c.amplification),
        "peak_concurrency": c.peak_concurrency,
        "breaker_open": None
        if c.breaker_open is None
        else {"seconds": _round(c.breaker_open), "share": _round(c.breaker_open_share)},
        "timeline": [
            {
                "start": b.start,
                "requests": b.requests,
                "succeeded": b.succeeded,
                "fallbacks": b.fallbacks,
                "success_rate": _round(b.success_rate),
                "latency_p99": _round(b.latency_p99),
                "attempts": b.attempts,
                "breaker_open": _round(b.breaker_open),
            }
            for b in c.timeline
        ],
    }


def _count(value: int) -> str:
    return f"{value:,}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _latency(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    ms = seconds * 1000.0
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _open(c: CandidateResult) -> str:
    if c.breaker_open is None:
        return "-"
    return f"{c.breaker_open:.1f} s ({_percent(c.breaker_open_share)})"


def _short(policy: str, candidate: str) -> str:
    return policy.removeprefix(f"{candidate}.")


def _table_rows(candidates: Sequence[CandidateResult]) -> list[list[str]]:
    rows = [
        ["", *(c.name for c in candidates)],
        ["requests", *(_count(c.requests) for c in candidates)],
        ["success rate", *(_percent(c.success_rate) for c in candidates)],
        ["fallbacks served", *(_count(c.fallbacks) for c in candidates)],
        ["failed", *(_count(c.failed) for c in candidates)],
        ["timed out", *(_count(c.timed_out) for c in candidates)],
        ["rejected", *(_count(c.rejected) for c in candidates)],
    ]
    policies = sorted({_short(p, c.name) for c in candidates for p in c.rejected_by})
    for policy in policies:
        row = [f"  by {policy}"]
        for c in candidates:
            count = sum(n for p, n in c.rejected_by.items() if _short(p, c.name) == policy)
            row.append(_count(count) if count else "-")
        rows.append(row)
    rows += [
        ["latency p50", *(_latency(c.latency_p50) for c in candidates)],
        ["latency p95", *(_latency(c.latency_p95) for c in candidates)],
        ["latency p99", *(_latency(c.latency_p99) for c in candidates)],
        [
            "load amplification",
            *("-" if c.amplification is None else f"{c.amplification:.2f}x" for c in candidates),
        ],
        ["peak dependency concurrency", *(_count(c.peak_concurrency) for c in candidates)],
        ["breaker open", *(_open(c) for c in candidates)],
    ]
    return rows
