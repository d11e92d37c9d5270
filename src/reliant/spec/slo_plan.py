"""An SLO compiled for evaluation: what to count, its budget, period and alert conditions. Pure."""

from __future__ import annotations

import functools
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

from reliant._core.durations import parse_duration
from reliant.agent.protocol import LATENCY_BOUNDS
from reliant.spec import slo_budget as math_
from reliant.spec.models import SLOSpec

#: The alert name of both burn-rate alerts of an SLO (``severity`` tells them apart), unless
#: ``alerting.labels`` sets ``alertname``. The Prometheus rules use the same name.
DEFAULT_ALERT_NAME = "SLOErrorBudgetBurn"
#: Why PromQL SLIs have no native evaluation.
PROMQL_REASON = (
    "PromQL SLIs are evaluated by Prometheus, not on the embedded store: generate the "
    "recording and alerting rules with `reliant slo rules`"
)

SLIKind = Literal["ratio", "latency", "prometheus"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """An SLO ready to evaluate.

    Attributes:
        kind: ``ratio``, ``latency`` or ``prometheus`` (not evaluated natively).
        outcomes: ratio: the outcomes that are good; latency: the outcomes whose calls count.
        bound: latency only: the index of the threshold in the histogram's bounds; calls in
            buckets ``0..bound`` are good (exact, since the threshold is a bound).
        budget: ``B = 1 - objective / 100``.
        nominal: the period's length used to scale the default thresholds.
        slice_seconds: time-slice length, rounded to whole 10 s buckets (``0``: occurrences).
        alerts: the burn-rate conditions (also shown when alerting is disabled).
        lookbacks: every distinct window length to count, ascending (1h always included,
            for the forecast at the 1h burn rate).
    """

    name: str
    service: str
    objective: float
    budgeting: str
    kind: SLIKind
    operation: str
    outcomes: frozenset[str]
    bound: int | None
    budget: float
    rolling: float | None
    calendar: str | None
    timezone: str
    nominal: float
    slice_seconds: int
    target: tuple[int, int]
    alerting: bool
    alerts: tuple[math_.AlertWindow, ...]
    min_events: int
    lookbacks: tuple[float, ...]
    slice_written: float
    labels: dict[str, str]
    page_labels: dict[str, str]
    ticket_labels: dict[str, str]
    annotations: dict[str, str]

    @property
    def period_key(self) -> Hashable:
        """Names the period: plans with equal keys share their period's window."""
        if self.rolling is not None:
            return ("rolling", self.rolling)
        return ("calendar", str(self.calendar), self.timezone)

    @property
    def window_keys(self) -> tuple[Hashable, ...]:
        """The windows to count: the period's, then each lookback's ``("rolling", seconds)``."""
        return _window_keys(self.period_key, self.lookbacks)

    @property
    def evaluable(self) -> bool:
        """Whether the server counts this SLI itself."""
        return self.kind != "prometheus"

    @property
    def timeslices(self) -> bool:
        """Whether the budget is counted in time slices."""
        return self.slice_seconds > 0

    def period(self, now: float) -> math_.Period:
        """The compliance period holding ``now``."""
        if self.rolling is not None:
            return math_.rolling_period(self.rolling, now)
        assert self.calendar is not None
        return math_.calendar_period(self.calendar, self.timezone, now)

    def warnings(self, retention: float | None = None) -> list[math_.SLOWarning]:
        """What looks wrong in this SLO (valid, but probably not what was meant)."""
        return math_.warnings(
            budget=self.budget,
            period=self.nominal,
            windows=self.alerts,
            alerting=self.alerting,
            slice_seconds=self.slice_written if self.timeslices else None,
            retention=retention,
        )

    @property
    def sloth_id(self) -> str:
        """Sloth's id of an SLO: ``<service>-<slo>``."""
        return f"{self.service}-{self.name}"

    def alert_labels(self, severity: str) -> dict[str, str]:
        """The labels of the SLO's alert of ``severity`` (its fingerprint)."""
        extra = self.page_labels if severity == "page" else self.ticket_labels
        labels = {
            **self.labels,
            **extra,
            "severity": severity,
            "sloth_id": self.sloth_id,
            "sloth_service": self.service,
            "sloth_slo": self.name,
            "service": self.service,
        }
        labels["alertname"] = (
            self.labels.get("alertname") or extra.get("alertname") or DEFAULT_ALERT_NAME
        )
        return labels


def compile_plan(name: str, spec: SLOSpec) -> Plan:
    """Compile a validated spec into a :class:`Plan`."""
    sli = spec.sli
    kind: SLIKind
    bound = None
    if sli.ratio is not None:
        kind, operation, outcomes = "ratio", sli.ratio.operation, frozenset(sli.ratio.good)
    elif sli.latency is not None:
        kind, operation = "latency", sli.latency.operation
        outcomes = frozenset(sli.latency.outcomes)
        threshold = parse_duration(sli.latency.threshold, option="threshold")
        bound = next(i for i, b in enumerate(LATENCY_BOUNDS) if abs(b - threshold) < 1e-9)
    else:
        kind, operation, outcomes = "prometheus", "", frozenset()
    window = spec.window
    rolling = None if window.rolling is None else parse_duration(window.rolling, option="rolling")
    nominal = rolling if rolling is not None else math_.CALENDAR_NOMINAL[str(window.calendar)]
    budget = math_.error_budget(spec.objective)
    alerts = tuple(
        math_.custom_window(
            w.severity,
            parse_duration(w.long, option="long"),
            parse_duration(w.short, option="short"),
            w.burn_rate,
            nominal,
        )
        for w in spec.alerting.windows
    ) or _default_windows(nominal)
    raw = parse_duration(spec.timeslices.duration, option="timeslices.duration")
    slice_seconds = 0
    if spec.budgeting == "timeslices":
        slice_seconds = max(math_.BUCKET, round(raw / math_.BUCKET) * math_.BUCKET)
    alerting = spec.alerting
    lookbacks = sorted({math_.HOUR, *(w.long for w in alerts), *(w.short for w in alerts)})
    return Plan(
        name=name,
        service=spec.service,
        objective=spec.objective,
        budgeting=spec.budgeting,
        kind=kind,
        operation=operation,
        outcomes=outcomes,
        bound=bound,
        budget=budget,
        rolling=rolling,
        calendar=window.calendar,
        timezone=window.timezone,
        nominal=nominal,
        slice_seconds=slice_seconds,
        target=math_.slice_target(spec.timeslices.target),
        alerting=spec.alerting.enabled,
        alerts=alerts,
        min_events=spec.alerting.min_events,
        lookbacks=_shared(tuple(lookbacks)),
        slice_written=raw,
        labels=dict(alerting.labels),
        page_labels=dict(alerting.page_labels),
        ticket_labels=dict(alerting.ticket_labels),
        annotations=dict(alerting.annotations),
    )


# Thousands of SLOs share a few periods: share their window tuples too (fewer objects for
# the garbage collector to walk in a long-lived plan cache).
@functools.lru_cache(maxsize=64)
def _default_windows(period: float) -> tuple[math_.AlertWindow, ...]:
    return math_.default_windows(period)


@functools.lru_cache(maxsize=256)
def _shared(lookbacks: tuple[float, ...]) -> tuple[float, ...]:
    return lookbacks


@functools.lru_cache(maxsize=256)
def _window_keys(period: Hashable, lookbacks: tuple[float, ...]) -> tuple[Hashable, ...]:
    return (period, *(("rolling", w) for w in lookbacks))


def warning_lines(name: str, spec: SLOSpec, retention: float | None = None) -> list[str]:
    """What ``reliant validate`` prints for an SLO document: one line per warning.

    Example: ``SLO low: warning [never_fires]: page 1h/5m: burn rate 14.4 x budget ...``.
    """
    return [
        f"SLO {name}: warning [{w.code}]: {w.message}"
        for w in compile_plan(name, spec).warnings(retention)
    ]
