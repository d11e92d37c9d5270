"""Error-budget and burn-rate math of SLOs. Pure: no I/O, the time is always an argument.

Notation (the SRE workbook's, see ``docs/slo.md``): objective ``SLO`` as a fraction, error
budget ``B = 1 - SLO``, period ``P``, alert windows long ``L`` / short ``S``. A window's
burn rate is its error ratio over ``B``: at a constant burn rate ``BR`` the whole budget
lasts ``P / BR``. A condition that spends the fraction ``p`` of the budget within ``L``
has the threshold ``BR = p * P / L`` (Sloth's ``getBurnRateFactor``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

Severity = Literal["page", "ticket"]

HOUR = 3600.0
DAY = 86400.0
#: The period the workbook's thresholds are written for.
WORKBOOK_PERIOD = 30 * DAY
#: The workbook's four conditions: severity, long window, short window, budget percent
#: spent within the long window when it fires (14.4/6/3/1 over 30 days).
WORKBOOK_WINDOWS: tuple[tuple[Severity, float, float, float], ...] = (
    ("page", HOUR, 5 * 60.0, 2.0),
    ("page", 6 * HOUR, 30 * 60.0, 5.0),
    ("ticket", DAY, 2 * HOUR, 10.0),
    ("ticket", 3 * DAY, 6 * HOUR, 10.0),
)
#: Nominal lengths of the calendar periods, used to scale the default burn-rate thresholds
#: (the budget itself uses the actual length of the current week or month).
CALENDAR_NOMINAL = {"week": 7 * DAY, "month": 30 * DAY}
#: A budget worth less than this many seconds of total outage over its period gets a warning.
TINY_BUDGET = 60.0
#: Rollups are written per bucket of this many seconds; time slices should be multiples.
BUCKET = 10


# -- periods -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """The compliance period holding ``now``: ``[start, end)`` in epoch seconds.

    A rolling period ends at the time it was computed for; a calendar one at the start
    of the next week or month, so only ``[start, now)`` has happened yet.
    """

    start: float
    end: float

    @property
    def length(self) -> float:
        """Seconds in the whole period (a calendar month across a DST change included)."""
        return self.end - self.start

    def covered(self, now: float) -> float:
        """Seconds of the period that have happened by ``now``."""
        return max(0.0, min(now, self.end) - self.start)


def rolling_period(length: float, now: float) -> Period:
    """The rolling period of ``length`` seconds ending at ``now``."""
    return Period(now - length, now)


def calendar_period(unit: str, timezone: str, now: float) -> Period:
    """The calendar week (from Monday 00:00) or month holding ``now``, in ``timezone``.

    Boundaries are local midnights: a month holding a DST change lasts an hour more or
    less than its days times 24 hours. A midnight that does not exist (a DST gap) starts
    the day at the gap's end.

    Raises:
        ValueError: ``unit`` is neither ``week`` nor ``month``.
    """
    zone = ZoneInfo(timezone)
    today = datetime.fromtimestamp(now, zone).date()
    if unit == "week":
        first = today - timedelta(days=today.weekday())
        following = first + timedelta(days=7)
    elif unit == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"calendar period must be 'week' or 'month', got {unit!r}")
    return Period(_midnight(first, zone), _midnight(following, zone))


def _midnight(day: date, zone: ZoneInfo) -> float:
    # fold=0 maps a wall time inside a DST gap with the offset before the gap, which lands
    # exactly on the gap's end: the first instant the day really has.
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


# -- budgets and burn rates --------------------------------------------------------------


def error_budget(objective: float) -> float:
    """``B = 1 - objective / 100`` for an objective in percent (``99.9`` gives ``0.001``).

    Computed on the objective's decimal form, so 99.9 gives exactly the float nearest
    0.001 (plain float arithmetic gives 0.00099999999999989, and a ratio of exactly
    0.1% would then count as above a 1x threshold).
    """
    return float(1 - Fraction(repr(objective)) / 100)


def error_ratio(good: int, total: int) -> float | None:
    """Bad over all events, or ``None`` when nothing was counted."""
    return None if total <= 0 else (total - good) / total


def burn_rate(ratio: float | None, budget: float) -> float | None:
    """How many times faster than sustainable the budget burns (``ratio / B``)."""
    return None if ratio is None else ratio / budget


def burn_rate_factor(budget_percent: float, period: float, long: float) -> float:
    """The threshold spending ``budget_percent`` of the budget within ``long`` seconds.

    As Sloth's ``getBurnRateFactor``: ``hours = percent * P_h / 100``, ``factor = hours / L_h``
    (30 days: 2% in 1h gives 14.4; 28 days: 13.44).
    """
    hours = budget_percent * (period / HOUR) / 100.0
    return hours / (long / HOUR)


def detection_seconds(budget: float, ratio: float, long: float, factor: float) -> float:
    """The workbook's detection time: ``(B / error_ratio) * L * BR`` from the start of errors.

    Valid when the long window held only good events before (and traffic is steady).
    """
    return budget / ratio * long * factor


@dataclass(frozen=True, slots=True)
class AlertWindow:
    """One multiwindow condition: both windows' error ratios above ``burn_rate * B``.

    Attributes:
        budget_percent: the share of the budget spent within ``long`` when it fires at its
            threshold (``burn_rate * long / P``, in percent).
    """

    severity: Severity
    long: float
    short: float
    burn_rate: float
    budget_percent: float

    def threshold(self, budget: float) -> float:
        """The error ratio both windows must exceed."""
        return self.burn_rate * budget


def default_windows(period: float) -> tuple[AlertWindow, ...]:
    """The workbook's four conditions, their thresholds scaled to ``period`` seconds."""
    return tuple(
        AlertWindow(severity, long, short, burn_rate_factor(pct, period, long), pct)
        for severity, long, short, pct in WORKBOOK_WINDOWS
    )


def custom_window(
    severity: Severity, long: float, short: float, factor: float, period: float
) -> AlertWindow:
    """A condition given by its burn rate, used as given."""
    return AlertWindow(severity, long, short, factor, 100.0 * factor * long / period)


def fires(
    long_ratio: float | None,
    short_ratio: float | None,
    long_events: int,
    threshold: float,
    min_events: int,
) -> bool:
    """Whether a condition holds: both ratios above ``threshold``, enough events in the long."""
    return (
        long_ratio is not None
        and short_ratio is not None
        and long_events >= min_events
        and long_ratio > threshold
        and short_ratio > threshold
    )


@dataclass(frozen=True, slots=True)
class Budget:
    """How much of the period's error budget is left.

    Attributes:
        remaining: the fraction left (1 untouched, 0 exhausted, negative overspent).
        allowed: bad events (``unit="events"``) or bad slices the whole period may hold;
            for a calendar period, events are projected from the traffic so far.
        spent: bad events or slices so far.
        minutes_left: for events, minutes of total outage the remaining budget allows at
            the traffic so far; for slices, the remaining bad slices' duration.
    """

    remaining: float
    allowed: float
    spent: float
    minutes_left: float
    unit: Literal["events", "slices"]

    @property
    def left(self) -> float:
        """Bad events or slices still allowed (negative when overspent)."""
        return self.allowed - self.spent

    @property
    def exhausted(self) -> bool:
        """Nothing is left."""
        return self.remaining <= 0.0


def occurrence_budget(
    good: int, total: int, budget: float, covered: float, length: float
) -> Budget:
    """The budget counted in events: exact good and total counts over the period so far.

    The period's allowed bad events are ``B`` times its events; for a calendar period only
    ``covered`` of ``length`` seconds have happened, so its events are projected at the
    rate so far and the consumed fraction is ``burn_rate * covered / length``.
    """
    if total <= 0 or covered <= 0:
        return Budget(1.0, 0.0, 0.0, budget * length / 60.0, "events")
    bad = total - good
    allowed = budget * total * length / covered
    remaining = 1.0 - bad / allowed
    return Budget(remaining, allowed, float(bad), remaining * budget * length / 60.0, "events")


def timeslice_budget(bad_slices: int, slice_seconds: float, budget: float, length: float) -> Budget:
    """The budget counted in time slices: ``B`` of the period's slices may be bad."""
    allowed = budget * length / slice_seconds
    remaining = 1.0 - bad_slices / allowed
    minutes = (allowed - bad_slices) * slice_seconds / 60.0
    return Budget(remaining, allowed, float(bad_slices), minutes, "slices")


def exhaustion_seconds(remaining: float, rate: float | None, length: float) -> float | None:
    """Seconds until the budget runs out at burn rate ``rate``; ``None``: it never does.

    At burn rate ``BR`` the fraction ``BR / P`` of the budget goes every second.
    """
    if remaining <= 0.0:
        return 0.0
    if rate is None or rate <= 0.0:
        return None
    return remaining * length / rate


# -- time slices -------------------------------------------------------------------------


def slice_target(target: float) -> tuple[int, int]:
    """``target`` as an exact fraction ``(numerator, denominator)`` of its decimal form."""
    exact = Fraction(repr(target))
    return exact.numerator, exact.denominator


def slice_is_good(good: int, total: int, target: tuple[int, int]) -> bool:
    """A slice is good when its good ratio reaches the target; one without traffic is good.

    Compared in integers (``good / total >= n / d``), so a ratio equal to the target is good.
    """
    n, d = target
    return total <= 0 or good * d >= n * total


def bad_slices(slices: Iterable[tuple[int, int]], target: tuple[int, int]) -> int:
    """How many of the ``(good, total)`` slices miss the target."""
    return sum(1 for good, total in slices if not slice_is_good(good, total, target))


def slices_for(window: float, slice_seconds: float) -> int:
    """How many whole slices stand for a window (at least one)."""
    return max(1, round(window / slice_seconds))


# -- validation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SLOWarning:
    """Something in an SLO that is valid but almost certainly not what was meant."""

    code: str
    message: str


def warnings(
    *,
    budget: float,
    period: float,
    windows: Sequence[AlertWindow],
    alerting: bool,
    slice_seconds: float | None = None,
    retention: float | None = None,
) -> list[SLOWarning]:
    """Check an SLO's budget and conditions for things that cannot work as intended.

    Args:
        budget: ``B``.
        period: the period's length in seconds (nominal for calendar periods).
        windows: the alert conditions.
        alerting: whether alerting is enabled (conditions are checked only then).
        slice_seconds: the slice length when budgeting by time slices.
        retention: seconds of telemetry kept; a longer period or window cannot be counted.
    """
    found: list[SLOWarning] = []
    outage = budget * period
    if outage < TINY_BUDGET:
        found.append(
            SLOWarning(
                "tiny_budget",
                f"the error budget is {outage:.3g} s of total outage over the period "
                f"(under {TINY_BUDGET:g} s): one short incident spends it all; lower the "
                "objective or lengthen the period",
            )
        )
    if slice_seconds is not None and slice_seconds % BUCKET:
        found.append(
            SLOWarning(
                "slice_not_bucket_multiple",
                f"timeslices.duration {_human(slice_seconds)} is not a multiple of the "
                f"{BUCKET} s telemetry buckets: slices are rounded to whole buckets",
            )
        )
    if retention is not None and period > retention:
        found.append(
            SLOWarning(
                "period_beyond_retention",
                f"the period ({_human(period)}) is longer than the telemetry kept "
                f"({_human(retention)}): only the last {_human(retention)} are counted",
            )
        )
    for w in windows if alerting else ():
        name = f"{w.severity} {_human(w.long)}/{_human(w.short)}"
        if w.threshold(budget) >= 1.0:
            found.append(
                SLOWarning(
                    "never_fires",
                    f"{name}: burn rate {w.burn_rate:.4g} x budget {budget:.4g} = "
                    f"{w.threshold(budget):.4g} >= 1, so no error ratio can exceed it and "
                    "it can never fire; lower the burn rate or raise the objective",
                )
            )
        if w.short >= w.long:
            found.append(
                SLOWarning(
                    "short_not_shorter",
                    f"{name}: the short window should be shorter than the long one "
                    "(the workbook uses 1/12 of it)",
                )
            )
        if slice_seconds is not None and w.short < slice_seconds:
            found.append(
                SLOWarning(
                    "window_shorter_than_slice",
                    f"{name}: the short window is shorter than one time slice "
                    f"({_human(slice_seconds)}); it is judged on the last whole slice",
                )
            )
        if retention is not None and w.long > retention:
            found.append(
                SLOWarning(
                    "window_beyond_retention",
                    f"{name}: the long window is longer than the telemetry kept "
                    f"({_human(retention)})",
                )
            )
    return found


def _human(seconds: float) -> str:
    for unit, size in (("d", DAY), ("h", HOUR), ("m", 60.0)):
        if seconds >= size and math.isclose(seconds % size, 0.0, abs_tol=1e-9):
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
