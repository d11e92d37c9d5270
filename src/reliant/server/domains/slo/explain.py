"""Plain-language explanations of an SLO's state: what the burn rate means, when the budget
runs out, why a condition fires or not. Pure: the text is built from an assessment.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reliant.server.domains.slo.assess import Assessment, Condition


def duration(seconds: float) -> str:
    """A short human duration: ``52s``, ``14.2 min``, ``3.1 h``, ``2.08 days``."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    if seconds < 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} days"


def window(seconds: float) -> str:
    """A window length as written in specs: ``5m``, ``1h``, ``30d``."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def moment(epoch: float, timezone: str) -> str:
    """A time in the SLO's zone: ``2027-01-17 15:04 UTC``."""
    local = datetime.fromtimestamp(epoch, ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"


def _rate(rate: float | None) -> str:
    return "no traffic" if rate is None else f"{rate:.3g}x"


def period_text(a: Assessment) -> str:
    """``a rolling 30d window`` or ``the calendar month (Europe/Paris)``."""
    plan = a.plan
    if plan.rolling is not None:
        return f"a rolling {window(plan.rolling)} window"
    return f"the calendar {plan.calendar} ({plan.timezone})"


def budget_text(a: Assessment) -> str:
    """What the budget is and how much of it is left."""
    plan, b = a.plan, a.budget
    outage = duration(plan.budget * a.period.length)
    head = (
        f"The objective {plan.objective:g}% over {period_text(a)} allows "
        f"{_percent(plan.budget)} of "
        f"{'time slices' if plan.timeslices else 'events'} to be bad "
        f"({outage} of total outage)."
    )
    if b.unit == "slices":
        detail = (
            f" {b.spent:g} of {b.allowed:.4g} allowed bad {window(plan.slice_seconds)} slices "
            f"are spent: {_percent(max(b.remaining, 0.0))} of the budget is left "
            f"({duration(max(b.minutes_left, 0.0) * 60)})."
        )
    elif a.counted.total == 0:
        detail = " No events were counted in the period yet: the whole budget is left."
    else:
        detail = (
            f" {int(b.spent):,} of {a.counted.total:,} events were bad "
            f"({_percent(a.counted.ratio or 0.0)}); the period allows {b.allowed:,.1f}: "
            f"{_percent(max(b.remaining, 0.0))} of the budget is left."
        )
    if b.exhausted:
        detail += f" The budget is exhausted (overspent by {_percent(-b.remaining)})."
    return head + detail


def burn_text(a: Assessment) -> str:
    """What the current burn rate means."""
    length = window(a.plan.nominal) if a.plan.rolling is not None else a.plan.calendar
    if a.burn_1h is None:
        return "No traffic in the last hour: the budget is not burning."
    lasts = "forever" if a.burn_1h <= 0 else duration(a.period.length / a.burn_1h)
    return (
        f"Over the last hour the budget burns at {_rate(a.burn_1h)}. A burn rate of 1x "
        f"spends exactly the whole budget over the {length} period; at "
        f"{_rate(a.burn_1h)} it lasts {lasts}."
    )


def _forecast_one(a: Assessment, label: str, rate: float | None, seconds: float | None) -> str:
    if seconds == 0.0:
        return f"The budget is already spent ({label})."
    if seconds is None:
        return f"At {label} ({_rate(rate)}) the budget never runs out."
    at = a.now + seconds
    if a.plan.calendar is not None and at >= a.period.end:
        return (
            f"At {label} ({_rate(rate)}) the budget lasts until the {a.plan.calendar} resets "
            f"({moment(a.period.end, a.plan.timezone)})."
        )
    return (
        f"At {label} ({_rate(rate)}) the budget runs out in {duration(seconds)} "
        f"({moment(at, a.plan.timezone)})."
    )


def forecast_text(a: Assessment) -> str:
    """When the budget runs out at the last hour's rate and at the period's rate."""
    return " ".join(
        [
            _forecast_one(a, "the last hour's burn rate", a.burn_1h, a.exhaustion_1h),
            _forecast_one(a, "the rate over the period so far", a.burn_period, a.exhaustion_period),
        ]
    )


def condition_text(a: Assessment, c: Condition) -> str:
    """Why one condition fires or not."""
    w = c.window
    name = f"{w.severity} {window(w.long)}/{window(w.short)}"
    rule = (
        f"fires when both windows burn faster than {w.burn_rate:.4g}x "
        f"(error ratio above {_percent(c.threshold)}), which spends "
        f"{w.budget_percent:.3g}% of the budget in {window(w.long)}"
    )
    now = (
        f"now {window(w.long)} at {_rate(c.long_burn)} and {window(w.short)} at "
        f"{_rate(c.short_burn)}"
    )
    if not a.plan.alerting:
        state = "alerting is disabled"
    elif c.firing:
        state = "FIRING"
    elif c.long.events < a.plan.min_events:
        state = (
            f"not firing: {c.long.events} events in {window(w.long)}, fewer than "
            f"min_events ({a.plan.min_events})"
        )
    else:
        state = "not firing"
    if w.threshold(a.plan.budget) >= 1.0:
        state += "; it can never fire (the threshold is above a 100% error ratio)"
    return f"{name}: {rule}; {now}; {state}."


def summary(a: Assessment, severity: str) -> str:
    """One line for an alert's ``summary`` annotation."""
    worst = max(
        (c for c in a.conditions() if c.firing and c.window.severity == severity),
        key=lambda c: c.long_burn or 0.0,
        default=None,
    )
    if worst is None:
        return f"SLO {a.plan.name} of {a.plan.service}: {severity} burn rate back to normal"
    w = worst.window
    return (
        f"SLO {a.plan.name} of {a.plan.service} burns its error budget at "
        f"{_rate(worst.long_burn)} over {window(w.long)} and {_rate(worst.short_burn)} over "
        f"{window(w.short)} (threshold {w.burn_rate:.4g}x)"
    )


def describe(a: Assessment) -> str:
    """The whole explanation: budget, burn rate, forecast."""
    return " ".join([budget_text(a), burn_text(a), forecast_text(a)])
