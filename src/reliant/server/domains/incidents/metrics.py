"""Response metrics of incidents — MTTA, MTTR, MTBF — over a period, per group. Pure.

Each metric states the definition it computes (``DEFINITIONS``), and the API repeats it in
every answer. Incidents merged into another are left out: they are duplicates.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

MTTA = (
    "Mean time to acknowledge (PagerDuty): the mean, over the incidents declared in the "
    "period that were acknowledged, of (first acknowledgement - declaration). Incidents "
    "never acknowledged are excluded, and counted in 'excluded'."
)
MTTR = (
    "Mean time to resolve (PagerDuty): the mean, over the incidents declared in the period "
    "that are resolved, of (resolution - declaration), i.e. from creation to resolution. "
    "Unresolved incidents are excluded, and counted in 'excluded'."
)
MTBF = (
    "Mean time between failures (Atlassian): total uptime / number of failures over the "
    "period. Uptime is the period's length minus the time covered by the group's incidents "
    "(declaration to resolution, or to the period's end while unresolved; overlapping "
    "incidents count once); failures are the incidents declared in the period. null when "
    "there were none."
)
#: Metric name → the definition it computes.
DEFINITIONS = {"mtta": MTTA, "mttr": MTTR, "mtbf": MTBF}
#: Seconds per trend bucket, and where buckets are aligned (UTC midnight; Monday 00:00 UTC).
BUCKETS = {"day": (86400.0, 0.0), "week": (604800.0, 4 * 86400.0)}
#: Most trend buckets one answer may hold.
MAX_BUCKETS = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What the metrics need of one incident, and the groups it counts in."""

    id: int
    created_at: float
    acknowledged_at: float | None
    resolved_at: float | None
    groups: tuple[str | None, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mean:
    """A mean duration: ``seconds`` over ``count`` incidents; ``excluded`` left out."""

    seconds: float | None
    count: int
    excluded: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Mtbf:
    """Mean time between failures: ``uptime`` seconds over ``failures``."""

    seconds: float | None
    failures: int
    uptime: float
    downtime: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupMetrics:
    """The metrics of one group (a service, team or severity; ``None``: none)."""

    group: str | None
    incidents: int
    mtta: Mean
    mttr: Mean
    mtbf: Mtbf


def compute(facts: Sequence[Facts], *, since: float, until: float) -> list[GroupMetrics]:
    """The metrics of every group over ``[since, until)``, groups sorted (``None`` last).

    Args:
        facts: the incidents declared before ``until`` and not resolved before ``since``
            (those declared earlier only count towards downtime).
    """
    groups: dict[str | None, list[Facts]] = defaultdict(list)
    for fact in facts:
        for group in fact.groups:
            groups[group].append(fact)
    order = sorted(groups, key=lambda g: (g is None, g or ""))
    return [_group(g, groups[g], since=since, until=until) for g in order]


def _group(group: str | None, items: list[Facts], *, since: float, until: float) -> GroupMetrics:
    declared = [f for f in items if since <= f.created_at < until]
    acked = [f.acknowledged_at - f.created_at for f in declared if f.acknowledged_at is not None]
    fixed = [f.resolved_at - f.created_at for f in declared if f.resolved_at is not None]
    downtime = covered(
        [(f.created_at, until if f.resolved_at is None else f.resolved_at) for f in items],
        since=since,
        until=until,
    )
    uptime = (until - since) - downtime
    return GroupMetrics(
        group=group,
        incidents=len(declared),
        mtta=Mean(seconds=_mean(acked), count=len(acked), excluded=len(declared) - len(acked)),
        mttr=Mean(seconds=_mean(fixed), count=len(fixed), excluded=len(declared) - len(fixed)),
        mtbf=Mtbf(
            seconds=uptime / len(declared) if declared else None,
            failures=len(declared),
            uptime=uptime,
            downtime=downtime,
        ),
    )


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def covered(intervals: Sequence[tuple[float, float]], *, since: float, until: float) -> float:
    """Seconds of ``[since, until)`` inside at least one of ``intervals``."""
    clipped = sorted(
        (max(start, since), min(end, until))
        for start, end in intervals
        if start < until and end > since
    )
    total, reach = 0.0, since
    for start, end in clipped:
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def buckets(since: float, until: float, size: str) -> list[tuple[float, float]]:
    """The trend buckets of ``[since, until)``: UTC days, or ISO weeks (from Monday), the
    first and last cut to the period.

    Raises:
        ValueError: an unknown size, or more than :data:`MAX_BUCKETS` buckets.
    """
    if size not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}, got {size!r}")
    width, origin = BUCKETS[size]
    first = origin + math.floor((since - origin) / width) * width
    count = math.ceil((until - first) / width)
    if count > MAX_BUCKETS:
        raise ValueError(
            f"{count} {size} buckets is too many (at most {MAX_BUCKETS}): shorten the period "
            "or use a larger bucket"
        )
    return [
        (max(first + i * width, since), min(first + (i + 1) * width, until)) for i in range(count)
    ]
