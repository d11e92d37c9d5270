"""From counted events to an SLO's state: budget, burn rates, conditions, forecast. Pure.

The evaluator (and the status endpoint, from a stored snapshot) gives the counts; these
functions decide everything else, so the same numbers always give the same answer.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from reliant.spec import slo_budget as math_
from reliant.spec.slo_plan import Plan

SEVERITIES: tuple[math_.Severity, ...] = ("page", "ticket")


class Counted(NamedTuple):
    """What a window holds: good and total units (events, or slices), and the calls seen.

    For occurrence budgeting ``good``/``total`` are calls (``events == total``); for time
    slices they are good and judged slices, and ``events`` the calls in the window.
    """

    good: int
    total: int
    events: int

    @property
    def ratio(self) -> float | None:
        """Bad over total units, or ``None`` when there were none."""
        return math_.error_ratio(self.good, self.total)


NOTHING = Counted(0, 0, 0)


#: Reads one count (good or total calls) out of an operation's sums list.
Picker = Callable[[Sequence[int]], int]
#: The pickers of good calls and of all calls.
Picks = tuple[Picker, Picker]


def picker(positions: Sequence[int]) -> Picker:
    """A function summing the sums list at ``positions`` (one index, a run, or any)."""
    chosen = sorted(positions)
    if len(chosen) == 1:
        return operator.itemgetter(chosen[0])
    first, last = chosen[0], chosen[-1] + 1
    if chosen == list(range(first, last)):
        return lambda sums: sum(sums[first:last])
    get = operator.itemgetter(*chosen)
    return lambda sums: sum(get(sums))


def good_total(sums: Sequence[int] | None, picks: Picks) -> tuple[int, int]:
    """Good and total calls of one window from an operation's sums (``None``: no calls).

    The picks say where good calls and all calls are: for a ratio SLI the calls of the
    good outcomes and of every outcome; for a latency SLI, among the counted outcomes, the
    calls at most the threshold (exact: a histogram bound) and all of them.
    """
    if sums is None:
        return 0, 0
    return picks[0](sums), picks[1](sums)


def slice_range(origin: float, step: int, since: float, now: float) -> range:
    """Indices of the whole slices from ``origin`` that start at or after ``since`` and end by
    ``now`` (a slice still in progress is not judged yet)."""
    first = -(-(since - origin) // step)  # ceil
    last = (now - origin) // step  # exclusive: slice i ends at origin + (i + 1) * step
    return range(int(first), int(last))


def judge_slices(
    plan: Plan,
    slices: Mapping[int, tuple[int, int]],
    *,
    origin: float,
    now: float,
    period: math_.Period,
    events: Mapping[float, int],
    period_events: int,
) -> tuple[Counted, dict[float, Counted]]:
    """The period's and each alert window's good/judged slices (time-slice budgeting).

    Args:
        slices: slice index (from ``origin``) → good and total calls; absent = no traffic.
        events: calls per window length (for the minimum-traffic guard and display).

    Returns:
        the period's counts, and each window length's counts over its last whole slices.
    """
    step = plan.slice_seconds
    judged = slice_range(origin, step, period.start, now)
    quiet = (0, 0)
    bad = math_.bad_slices((slices.get(i, quiet) for i in judged), plan.target)
    period_counted = Counted(len(judged) - bad, len(judged), period_events)
    last = judged.stop
    windows = {}
    for lookback in plan.lookbacks:
        n = math_.slices_for(lookback, step)
        chosen = range(last - n, last)
        bad_n = math_.bad_slices((slices.get(i, quiet) for i in chosen), plan.target)
        windows[lookback] = Counted(n - bad_n, n, events.get(lookback, 0))
    return period_counted, windows


@dataclass(frozen=True, slots=True)
class Condition:
    """One alert condition as evaluated now."""

    window: math_.AlertWindow
    threshold: float
    long: Counted
    short: Counted
    long_burn: float | None
    short_burn: float | None
    firing: bool


@dataclass(frozen=True, slots=True)
class Assessment:
    """An SLO's state at ``now``.

    Attributes:
        counted: the period so far.
        windows: window length → its counts.
        firing: severities with a condition holding (alerting enabled only).
        burn_1h, burn_period: burn rates over the last hour and over the period so far.
        exhaustion_1h, exhaustion_period: seconds until the budget runs out at those
            rates (0 when it has; ``None`` when it never does at that rate).
    """

    plan: Plan
    now: float
    period: math_.Period
    counted: Counted
    budget: math_.Budget
    windows: Mapping[float, Counted]
    firing: tuple[math_.Severity, ...]
    burn_1h: float | None
    burn_period: float | None
    exhaustion_1h: float | None
    exhaustion_period: float | None

    def conditions(self) -> tuple[Condition, ...]:
        """Every alert condition with both windows' counts and burn rates."""
        plan, b = self.plan, self.plan.budget
        out = []
        for w in plan.alerts:
            long, short = self.windows.get(w.long, NOTHING), self.windows.get(w.short, NOTHING)
            out.append(
                Condition(
                    window=w,
                    threshold=w.threshold(b),
                    long=long,
                    short=short,
                    long_burn=math_.burn_rate(long.ratio, b),
                    short_burn=math_.burn_rate(short.ratio, b),
                    firing=_holds(plan, w, long, short),
                )
            )
        return tuple(out)


def _holds(plan: Plan, w: math_.AlertWindow, long: Counted, short: Counted) -> bool:
    return plan.alerting and math_.fires(
        long.ratio, short.ratio, long.events, w.threshold(plan.budget), plan.min_events
    )


def assess(
    plan: Plan,
    now: float,
    period: math_.Period,
    counted: Counted,
    windows: Mapping[float, Counted],
) -> Assessment:
    """Judge an SLO from its counts.

    Args:
        period: the compliance period holding ``now``.
        counted: the period so far.
        windows: counts per window length (``plan.lookbacks``); a missing one counts nothing.
    """
    b = plan.budget
    if plan.timeslices:
        budget = math_.timeslice_budget(
            counted.total - counted.good, plan.slice_seconds, b, period.length
        )
    else:
        budget = math_.occurrence_budget(
            counted.good, counted.total, b, period.covered(now), period.length
        )
    held: set[str] = set()
    if plan.alerting:
        # budget.fires, inlined: this runs for every condition of every SLO each cycle.
        for w in plan.alerts:
            if w.severity in held:
                continue
            long, short = windows.get(w.long, NOTHING), windows.get(w.short, NOTHING)
            if long.total <= 0 or short.total <= 0 or long.events < plan.min_events:
                continue
            threshold = w.burn_rate * b
            if (long.total - long.good) / long.total > threshold and (
                short.total - short.good
            ) / short.total > threshold:
                held.add(w.severity)
    firing = tuple(s for s in SEVERITIES if s in held)
    burn_1h = math_.burn_rate(windows.get(math_.HOUR, NOTHING).ratio, b)
    burn_period = math_.burn_rate(counted.ratio, b)
    return Assessment(
        plan=plan,
        now=now,
        period=period,
        counted=counted,
        budget=budget,
        windows=windows,
        firing=firing,
        burn_1h=burn_1h,
        burn_period=burn_period,
        exhaustion_1h=math_.exhaustion_seconds(budget.remaining, burn_1h, period.length),
        exhaustion_period=math_.exhaustion_seconds(budget.remaining, burn_period, period.length),
    )
