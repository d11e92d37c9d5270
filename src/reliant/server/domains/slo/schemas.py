"""API shapes of SLOs; request bodies are ``reliant.spec.models.SLOSpec``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from reliant.server.domains.slo import explain
from reliant.server.domains.slo.assess import Assessment, Condition
from reliant.server.domains.slo.models import SLOStatusRow
from reliant.server.domains.slo.service import SLORecord, Status
from reliant.spec.models import SLOSpec
from reliant.spec.slo_budget import SLOWarning

Severity = Literal["page", "ticket"]


class WarningOut(BaseModel):
    """Something valid that is almost certainly not what was meant."""

    code: str = Field(description="stable identifier, e.g. never_fires, tiny_budget")
    message: str


class StatusSummary(BaseModel):
    """The latest evaluation in brief (``null`` before the first one)."""

    evaluated_at: float
    evaluated: bool
    budget_remaining: float
    firing: list[Severity]
    exhausted: bool


class SLOOut(BaseModel):
    """A stored SLO with its warnings and latest evaluation."""

    name: str
    service: str
    spec: SLOSpec
    managed_by: Literal["api", "spec"]
    created_at: float
    updated_at: float
    updated_by: str
    warnings: list[WarningOut]
    status: StatusSummary | None


class SLOPage(BaseModel):
    """A page of SLOs by name; ``next`` is the cursor of the following page."""

    items: list[SLOOut]
    next: str | None


class PeriodOut(BaseModel):
    """The compliance period holding the evaluation time (``[start, end)``, epoch seconds)."""

    kind: Literal["rolling", "calendar"]
    start: float
    end: float
    length: float = Field(description="seconds")


class BudgetOut(BaseModel):
    """The error budget of the period."""

    error_budget: float = Field(description="B = 1 - objective/100")
    remaining: float = Field(description="fraction left; negative when overspent")
    consumed: float
    unit: Literal["events", "slices"]
    allowed: float = Field(description="bad events (or slices) the whole period may hold")
    spent: float
    left: float
    minutes_left: float = Field(description="total-outage minutes (or bad slices' minutes) left")
    exhausted: bool


class CountsOut(BaseModel):
    """What a window held: good and total units (events or slices) and calls."""

    good: int
    total: int
    events: int
    error_ratio: float | None


class WindowOut(CountsOut):
    """One window ending at the evaluation time."""

    window: str
    seconds: float
    burn_rate: float | None


class ConditionOut(BaseModel):
    """One burn-rate condition: fires when both windows burn faster than ``burn_rate``."""

    severity: Severity
    long: str
    short: str
    burn_rate: float = Field(description="threshold, in multiples of the sustainable rate")
    threshold: float = Field(description="error ratio both windows must exceed")
    budget_percent: float = Field(description="budget spent within the long window at it")
    long_burn_rate: float | None
    short_burn_rate: float | None
    long_events: int
    firing: bool
    can_fire: bool
    explanation: str


class ForecastOut(BaseModel):
    """When the budget runs out (seconds from ``evaluated_at``; null: never at that rate)."""

    burn_rate_1h: float | None
    exhausted_in_1h: float | None
    exhausted_at_1h: float | None
    burn_rate_period: float | None
    exhausted_in_period: float | None
    exhausted_at_period: float | None


class ExplanationOut(BaseModel):
    """The state in plain words."""

    budget: str
    burn_rate: str
    forecast: str


class StatusOut(BaseModel):
    """An SLO's budget, burn rates per alert window, forecast, warnings and explanation.

    ``evaluated`` is false for SLIs the server does not count (PromQL), with ``reason``;
    the other fields are then null or empty.
    """

    name: str
    service: str
    evaluated: bool
    reason: str | None
    evaluated_at: float
    objective: float
    sli: Literal["ratio", "latency", "prometheus"]
    budgeting: Literal["occurrences", "timeslices"]
    period: PeriodOut | None = None
    counts: CountsOut | None = None
    budget: BudgetOut | None = None
    windows: list[WindowOut]
    conditions: list[ConditionOut]
    firing: list[Severity]
    forecast: ForecastOut | None = None
    explanation: ExplanationOut | None = None
    warnings: list[WarningOut]


class HistoryPoint(BaseModel):
    """The state at ``time``: budget left, error ratio over the period, burn rates."""

    time: float
    budget_remaining: float
    error_ratio: float | None
    burn_rates: dict[str, float | None]
    firing: list[Severity]


class HistoryOut(BaseModel):
    """Budget-remaining and burn-rate series (empty for an SLO the server does not count)."""

    name: str
    evaluated: bool
    reason: str | None
    since: float
    until: float
    step: int
    windows: list[str]
    points: list[HistoryPoint]


def warnings_out(found: list[SLOWarning]) -> list[WarningOut]:
    """Warnings as the API shows them."""
    return [WarningOut(code=w.code, message=w.message) for w in found]


def summary_out(row: SLOStatusRow | None) -> StatusSummary | None:
    """A snapshot in brief."""
    if row is None:
        return None
    return StatusSummary(
        evaluated_at=row.evaluated_at,
        evaluated=row.evaluated,
        budget_remaining=row.budget_remaining,
        firing=[s for s in ("page", "ticket") if s in row.firing.split(",")],
        exhausted=row.exhausted,
    )


def slo_out(record: SLORecord, found: list[SLOWarning], snapshot: SLOStatusRow | None) -> SLOOut:
    """A stored SLO as the API shows it."""
    return SLOOut(
        name=record.name,
        service=record.spec.service,
        spec=record.spec,
        managed_by="spec" if record.managed_by == "spec" else "api",
        created_at=record.created_at,
        updated_at=record.updated_at,
        updated_by=record.updated_by,
        warnings=warnings_out(found),
        status=summary_out(snapshot),
    )


def _condition(a: Assessment, c: Condition) -> ConditionOut:
    w = c.window
    return ConditionOut(
        severity=w.severity,
        long=explain.window(w.long),
        short=explain.window(w.short),
        burn_rate=w.burn_rate,
        threshold=c.threshold,
        budget_percent=w.budget_percent,
        long_burn_rate=c.long_burn,
        short_burn_rate=c.short_burn,
        long_events=c.long.events,
        firing=c.firing,
        can_fire=c.threshold < 1.0,
        explanation=explain.condition_text(a, c),
    )


def _at(now: float, seconds: float | None) -> float | None:
    return None if seconds is None else now + seconds


def status_out(found: Status) -> StatusOut:
    """A status as the API shows it."""
    plan, a = found.plan, found.assessment
    body: dict[str, Any] = {
        "name": plan.name,
        "service": plan.service,
        "evaluated_at": found.evaluated_at,
        "objective": plan.objective,
        "sli": plan.kind,
        "budgeting": plan.budgeting,
        "warnings": warnings_out(found.warnings),
        "evaluated": a is not None,
        "reason": found.reason if a is None else None,
        "windows": [],
        "conditions": [],
        "firing": [],
    }
    if a is not None:
        body.update(_evaluated(a))
    return StatusOut.model_validate(body)


def _evaluated(a: Assessment) -> dict[str, Any]:
    plan, b = a.plan, a.budget
    return {
        "period": PeriodOut(
            kind="rolling" if plan.rolling is not None else "calendar",
            start=a.period.start,
            end=a.period.end,
            length=a.period.length,
        ),
        "counts": CountsOut(
            good=a.counted.good,
            total=a.counted.total,
            events=a.counted.events,
            error_ratio=a.counted.ratio,
        ),
        "budget": BudgetOut(
            error_budget=plan.budget,
            remaining=b.remaining,
            consumed=1.0 - b.remaining,
            unit=b.unit,
            allowed=b.allowed,
            spent=b.spent,
            left=b.left,
            minutes_left=b.minutes_left,
            exhausted=b.exhausted,
        ),
        "windows": [
            WindowOut(
                window=explain.window(w),
                seconds=w,
                good=c.good,
                total=c.total,
                events=c.events,
                error_ratio=c.ratio,
                burn_rate=None if c.ratio is None else c.ratio / plan.budget,
            )
            for w, c in sorted(a.windows.items())
        ],
        "conditions": [_condition(a, c) for c in a.conditions()],
        "firing": list(a.firing),
        "forecast": ForecastOut(
            burn_rate_1h=a.burn_1h,
            exhausted_in_1h=a.exhaustion_1h,
            exhausted_at_1h=_at(a.now, a.exhaustion_1h),
            burn_rate_period=a.burn_period,
            exhausted_in_period=a.exhaustion_period,
            exhausted_at_period=_at(a.now, a.exhaustion_period),
        ),
        "explanation": ExplanationOut(
            budget=explain.budget_text(a),
            burn_rate=explain.burn_text(a),
            forecast=explain.forecast_text(a),
        ),
    }
