"""An SLO's budget remaining and burn rates over time, for charts, counted from the rollups.

One grouped query reads the SLO's operation in chunks of ``r`` seconds, the largest length
dividing the step, every window and the period (so every window boundary falls on a chunk
boundary and the sums stay exact); prefix sums then give any window at any point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from reliant.server.domains import telemetry
from reliant.server.domains.slo import explain
from reliant.server.domains.slo.assess import Counted, assess, good_total, slice_range
from reliant.server.domains.slo.evaluate import picks
from reliant.spec import slo_budget as math_
from reliant.spec.slo_plan import Plan

#: Most points a history may have.
MAX_POINTS = 1440
#: Points when no step is given.
DEFAULT_POINTS = 288


def default_step(since: float, until: float) -> int:
    """A step (a multiple of 10 s) giving about :data:`DEFAULT_POINTS` points."""
    span = max(until - since, 1.0)
    return max(math_.BUCKET, math.ceil(span / DEFAULT_POINTS / math_.BUCKET) * math_.BUCKET)


def check_range(since: float, until: float, step: int) -> None:
    """Refuse a range the history cannot answer.

    Raises:
        ValueError: saying what is wrong and how to fix it.
    """
    if step <= 0 or step % math_.BUCKET:
        raise ValueError(f"step must be a positive multiple of {math_.BUCKET} seconds")
    if until <= since:
        raise ValueError("until must be after since")
    points = math.floor((until - since) / step) + 1
    if points > MAX_POINTS:
        least = math.ceil((until - since) / (MAX_POINTS - 1) / math_.BUCKET) * math_.BUCKET
        raise ValueError(
            f"{points} points asked, at most {MAX_POINTS}: use a larger step "
            f"(at least {least} seconds) or a shorter range"
        )


def _bucketed(seconds: float) -> int:
    # A window [t - L, t) with t on the 10 s grid holds the buckets starting at or after
    # t - 10 * floor(L / 10): windows are whole buckets.
    return max(math_.BUCKET, int(seconds // math_.BUCKET) * math_.BUCKET)


@dataclass(slots=True)
class _Prefix:
    origin: int
    r: int
    good: list[int]
    total: list[int]

    def at(self, t: float) -> int:
        return min(max(0, math.ceil((t - self.origin) / self.r)), len(self.good) - 1)

    def counted(self, since: float, until: float) -> Counted:
        a, b = self.at(since), self.at(until)
        good, total = self.good[b] - self.good[a], self.total[b] - self.total[a]
        return Counted(good, total, total)


def series(
    session: Session, plan: Plan, *, since: float, until: float, step: int
) -> dict[str, Any]:
    """Budget remaining, error ratio, burn rate per window and firing severities per point.

    Points are at ``since`` aligned down to ``step``, then every ``step`` up to ``until``.

    Raises:
        ValueError: a bad range or step (see :func:`check_range`).
    """
    check_range(since, until, step)
    start = math.floor(since / step) * step
    times = [start + k * step for k in range(int((until - start) // step) + 1)]
    lookbacks = [_bucketed(w) for w in plan.lookbacks]
    periods = [plan.period(t) for t in times]
    sizes = [step, *lookbacks]
    if plan.rolling is not None:
        sizes.append(_bucketed(plan.rolling))
    else:
        sizes += [int(p.start) for p in periods]
    if plan.timeslices:
        sizes.append(plan.slice_seconds)
    r = math.gcd(*sizes) or math_.BUCKET
    first = min(min(p.start for p in periods), times[0] - max(lookbacks))
    if plan.timeslices:
        first -= plan.slice_seconds * (
            1 + max(math_.slices_for(w, plan.slice_seconds) for w in plan.lookbacks)
        )
    origin = math.floor(first / r) * r
    prefix = _prefix(session, plan, origin, r, times[-1])
    slices = _Slices(plan, prefix, times[-1])
    points = []
    for t, period in zip(times, periods, strict=True):
        windows = {
            w: prefix.counted(t - b, t) for w, b in zip(plan.lookbacks, lookbacks, strict=True)
        }
        counted = prefix.counted(period.start, t)
        if plan.timeslices:
            counted, windows = slices.judge(period, t, counted, windows)
        a = assess(plan, t, period, counted, windows)
        points.append(
            {
                "time": t,
                "budget_remaining": a.budget.remaining,
                "error_ratio": a.counted.ratio,
                "burn_rates": {
                    explain.window(w): math_.burn_rate(c.ratio, plan.budget)
                    for w, c in a.windows.items()
                },
                "firing": list(a.firing),
            }
        )
    return {
        "name": plan.name,
        "since": start,
        "until": until,
        "step": step,
        "windows": [explain.window(w) for w in plan.lookbacks],
        "points": points,
    }


def _prefix(session: Session, plan: Plan, origin: int, r: int, last: float) -> _Prefix:
    bounds = () if plan.bound is None else (plan.bound,)
    found = telemetry.slice_sums(
        session, since=origin, until=last, origin=origin, step=r, bounds=bounds,
        services=[plan.service], operation=plan.operation,
    ).get((plan.service, plan.operation), {})  # fmt: skip
    chosen = picks(plan, bounds)
    size = max(0, math.ceil((last - origin) / r))
    good, total = [0] * (size + 1), [0] * (size + 1)
    for i in range(size):
        g, n = good_total(found.get(i), chosen)
        good[i + 1], total[i + 1] = good[i] + g, total[i] + n
    return _Prefix(origin, r, good, total)


class _Slices:
    """Bad-slice prefix sums per slice origin (a calendar period starts its own grid)."""

    def __init__(self, plan: Plan, prefix: _Prefix, last: float) -> None:
        self.plan, self.prefix, self.last = plan, prefix, last
        self.grids: dict[int, tuple[int, list[int]]] = {}

    def grid(self, origin: int) -> tuple[int, list[int]]:
        """The first slice index and the running count of bad slices from it."""
        if origin not in self.grids:
            step = self.plan.slice_seconds
            low = math.floor((self.prefix.origin - origin) / step)
            high = math.floor((self.last - origin) / step)
            bad = [0]
            for i in range(low, high):
                s = origin + i * step
                c = self.prefix.counted(s, s + step)
                ok = math_.slice_is_good(c.good, c.total, self.plan.target)
                bad.append(bad[-1] + (0 if ok else 1))
            self.grids[origin] = (low, bad)
        return self.grids[origin]

    def judge(
        self, period: math_.Period, t: float, counted: Counted, windows: dict[float, Counted]
    ) -> tuple[Counted, dict[float, Counted]]:
        """Time slices judged at ``t`` (as ``assess.judge_slices`` does for the cycle)."""
        plan, step = self.plan, self.plan.slice_seconds
        origin = 0 if plan.rolling is not None else int(period.start)
        low, bad = self.grid(origin)
        judged = slice_range(origin, step, period.start, t)
        last = judged.stop

        def bad_in(a: int, b: int) -> int:
            return bad[max(0, b - low)] - bad[max(0, a - low)]

        period_bad = bad_in(judged.start, last) if len(judged) else 0
        out = {}
        for w in plan.lookbacks:
            n = math_.slices_for(w, step)
            out[w] = Counted(n - bad_in(last - n, last), n, windows[w].events)
        return Counted(len(judged) - period_bad, len(judged), counted.events), out
