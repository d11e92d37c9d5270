"""Counting SLIs on the embedded store: every SLO's windows from a few grouped queries.

One cycle reads the rollups through the telemetry facade with a few statements grouped by
``service, operation, outcome`` and time interval: for every ratio SLO at once, for every
latency SLO at once (calls at most each threshold summed from the histograms in SQL), and
one per slicing of the time-slice SLOs — never a query per SLO or per window. Between
cycles the sums are kept (:mod:`.counting`), so a cycle reads only what changed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains import telemetry
from reliant.server.domains.slo.assess import (
    Assessment,
    Counted,
    Picks,
    assess,
    good_total,
    judge_slices,
    picker,
)
from reliant.server.domains.slo.counting import SliceSums, Windows, WindowSums
from reliant.server.domains.slo.models import SLORow
from reliant.spec import slo_budget as math_
from reliant.spec.models import SLOSpec
from reliant.spec.slo_plan import Plan, compile_plan

#: Specs read per statement when the plan cache is refreshed.
SPEC_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Skipped:
    """An SLO the server does not evaluate (a PromQL SLI, or a spec that no longer loads)."""

    name: str
    service: str
    reason: str
    plan: Plan | None


@dataclass(slots=True)
class PlanCache:
    """Compiled plans by SLO name, re-read only when an SLO's ``revision`` changes."""

    plans: dict[str, tuple[int, Plan | Skipped]] = field(default_factory=dict)

    def load(self, session: Session) -> list[Plan | Skipped]:
        """Every SLO's plan (or why it has none), by name."""
        revisions = dict(session.execute(select(SLORow.name, SLORow.revision)).all())
        for gone in self.plans.keys() - revisions.keys():
            del self.plans[gone]
        stale = sorted(n for n, r in revisions.items() if self.plans.get(n, (None,))[0] != r)
        for i in range(0, len(stale), SPEC_CHUNK):
            query = select(SLORow.name, SLORow.revision, SLORow.spec).where(
                SLORow.name.in_(stale[i : i + SPEC_CHUNK])
            )
            for name, revision, spec in session.execute(query):
                self.plans[name] = (revision, plan_or_skip(name, spec))
        return [self.plans[name][1] for name in sorted(revisions)]


def plan_or_skip(name: str, spec: dict[str, object]) -> Plan | Skipped:
    """Compile a stored spec; one that no longer validates is skipped with the reason."""
    try:
        return compile_plan(name, SLOSpec.model_validate(spec))
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        service = str(spec.get("service", ""))
        return Skipped(name, service, f"the stored spec does not validate: {where}", None)


@dataclass(slots=True)
class Counter:
    """What the evaluator keeps between cycles: running window sums and kept slices."""

    windows: WindowSums = field(default_factory=WindowSums)
    slices: dict[tuple[int, int, str], SliceSums] = field(default_factory=dict)


def _period_id(plan: Plan) -> Hashable:
    return plan.period_key


def count(
    session: Session, plans: Sequence[Plan], now: float, counter: Counter | None = None
) -> list[Assessment]:
    """Assess every evaluable plan at ``now`` from the rollups (a few grouped queries).

    Args:
        counter: the sums kept since the last cycle (a fresh one counts from scratch).
    """
    return list(assess_all(session, plans, now, counter))


def assess_all(
    session: Session, plans: Sequence[Plan], now: float, counter: Counter | None = None
) -> Iterator[Assessment]:
    """As :func:`count`, one assessment at a time (the queries run before the first)."""
    counter = counter or Counter()
    periods: dict[Hashable, math_.Period] = {}
    for p in plans:
        if _period_id(p) not in periods:
            periods[_period_id(p)] = p.period(now)
    starts: dict[Hashable, int] = {}
    for lookbacks in {p.lookbacks for p in plans}:
        for w in lookbacks:
            starts[("rolling", w)] = math.ceil(now - w)
    for key, period in periods.items():
        starts[key] = math.ceil(period.start)
    # One statement for every SLO: the latency SLIs' thresholds add "calls at most" sums.
    windows = counter.windows.advance(
        session,
        starts,
        bounds=sorted({p.bound for p in plans if p.bound is not None}),
        services={p.service for p in plans},
        now=now,
    )
    bounds = counter.windows.bounds
    counted: dict[str, tuple[Counted, dict[float, Counted]]] = {}
    sliced = [p for p in plans if p.timeslices]
    if sliced:
        for p in sliced:
            counted[p.name] = _counted(p, windows, picks(p, bounds))
        counted.update(_timeslices(session, sliced, periods, counted, counter, now))
    for p in plans:
        found = counted.get(p.name) or _counted(p, windows, picks(p, bounds))
        yield assess(p, now, periods[_period_id(p)], *found)


def picks(plan: Plan, bounds: tuple[int, ...]) -> Picks:
    """Where a plan's good and total calls are in sums laid out for ``bounds``."""
    return _picks(plan.kind, plan.outcomes, plan.bound, bounds)


@functools.lru_cache(maxsize=1024)
def _picks(
    kind: str, outcomes: frozenset[str], bound: int | None, bounds: tuple[int, ...]
) -> Picks:
    position = {cell: i for i, cell in enumerate(telemetry.layout(bounds))}
    if kind == "ratio":
        every = [position[(o, None)] for o in telemetry.OUTCOMES]
        return picker([position[(o, None)] for o in outcomes]), picker(every)
    counted = [position[(o, None)] for o in outcomes]
    return picker([position[(o, bound)] for o in outcomes]), picker(counted)


def _counted(plan: Plan, windows: Windows, chosen: Picks) -> tuple[Counted, dict[float, Counted]]:
    operation = (plan.service, plan.operation)
    tail_good, tail_total = good_total(windows.recent(operation), chosen)
    counted = []
    for window in plan.window_keys:  # the period first, then each lookback
        sums, with_tail = windows.parts(window, operation)
        good, total = good_total(sums, chosen)
        if with_tail:
            good, total = good + tail_good, total + tail_total
        counted.append(Counted(good, total, total))
    return counted[0], dict(zip(plan.lookbacks, counted[1:], strict=True))


def _timeslices(
    session: Session,
    plans: Sequence[Plan],
    periods: dict[Hashable, math_.Period],
    occurrences: dict[str, tuple[Counted, dict[float, Counted]]],
    counter: Counter,
    now: float,
) -> dict[str, tuple[Counted, dict[float, Counted]]]:
    """Re-count the time-slice plans in slices (their events per window stay as counted)."""
    groups: dict[tuple[int, int, str], list[Plan]] = {}
    for p in plans:
        period = periods[_period_id(p)]
        origin = 0 if p.rolling is not None else int(period.start)
        groups.setdefault((p.slice_seconds, origin, p.kind), []).append(p)
    out = {}
    for key, group in groups.items():
        step, origin, _ = key
        first = min(_first_slice(p, periods[_period_id(p)], origin, now) for p in group)
        state = counter.slices.setdefault(key, SliceSums())
        found = state.advance(
            session,
            origin=origin,
            step=step,
            first=first,
            bounds=sorted({p.bound for p in group if p.bound is not None}),
            services={p.service for p in group},
            now=now,
        )
        for p in group:
            chosen = picks(p, state.bounds)
            slices = {
                i: good_total(sums, chosen)
                for i, sums in found.get((p.service, p.operation), {}).items()
            }
            period_counted, events = occurrences[p.name]
            out[p.name] = judge_slices(
                p,
                slices,
                origin=origin,
                now=now,
                period=periods[_period_id(p)],
                events={w: c.events for w, c in events.items()},
                period_events=period_counted.events,
            )
    for gone in counter.slices.keys() - groups.keys():
        del counter.slices[gone]
    return out


def _first_slice(plan: Plan, period: math_.Period, origin: int, now: float) -> int:
    """The index of the oldest slice the plan needs (its period's or its windows')."""
    step = plan.slice_seconds
    last = int((now - origin) // step)
    longest = max(math_.slices_for(w, step) for w in plan.lookbacks)
    return min(math.ceil((period.start - origin) / step), last - longest)
