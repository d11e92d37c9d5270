"""One evaluation cycle: count every SLO, store snapshots, record transitions, report alerts.

Events are appended on transitions only (a condition starts or stops holding, the budget
runs out or comes back). Alerts go to the alerts domain's facade, ``report(...)``: every
cycle for each condition that holds (which keeps the alert alive and its annotations
fresh), and once with ``active=False`` when it stops holding (which resolves it).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from reliant.server.domains.slo import explain, snapshots
from reliant.server.domains.slo.assess import SEVERITIES, Assessment
from reliant.server.domains.slo.evaluate import Counter, PlanCache, Skipped, assess_all
from reliant.server.events import NewEvent, Severity, append_many
from reliant.spec.slo_plan import PROMQL_REASON, Plan

log = logging.getLogger("reliant.server.slo")

#: The facade whose ``report`` receives the burn-rate alerts.
ALERTS_FACADE = "reliant.server.domains.alerts"
#: ``source`` of the SLO evaluator's events and alerts.
SOURCE = "slo"


class Reporter(Protocol):
    """The alerts facade's ``report`` (see ``docs/slo.md``)."""

    def __call__(
        self,
        session: Session,
        *,
        labels: dict[str, str],
        annotations: dict[str, str],
        active: bool,
        now: float,
        source: str,
        for_seconds: float = 0.0,
        ends_at: float | None = None,
    ) -> None: ...


def alerts_reporter() -> Reporter | None:
    """The alerts domain's ``report``, or ``None`` while that domain does not offer one.

    Looked up at each call, so a server started before the alerts domain existed needs
    no change; an alerts package that fails to import raises (a broken facade is a bug).
    """
    if importlib.util.find_spec(ALERTS_FACADE) is None:
        return None
    report: Reporter | None = getattr(importlib.import_module(ALERTS_FACADE), "report", None)
    return report


@dataclass(frozen=True, slots=True)
class Cycle:
    """What one cycle did."""

    evaluated: int
    skipped: int
    events: int
    reports: int


def run_cycle(
    session: Session,
    now: float,
    *,
    cache: PlanCache | None = None,
    counter: Counter | None = None,
    report: Reporter | Callable[..., None] | None = None,
) -> Cycle:
    """Evaluate every SLO at ``now`` in the caller's transaction.

    Args:
        cache: compiled plans kept between cycles (a fresh one re-reads every spec).
        counter: window sums kept between cycles (a fresh one recounts every window).
        report: where alerts go; default the alerts facade's ``report`` when it exists.
    """
    loaded = (cache or PlanCache()).load(session)
    plans = [p for p in loaded if isinstance(p, Plan) and p.evaluable]
    skipped = [p for p in loaded if isinstance(p, Skipped)]
    skipped += [
        Skipped(p.name, p.service, PROMQL_REASON, p)
        for p in loaded
        if isinstance(p, Plan) and not p.evaluable
    ]
    before = snapshots.previous(session)
    rows, events, pending = [], [], []
    # One SLO at a time: the assessments are dropped as soon as their rows are made, so a
    # cycle over thousands of SLOs keeps few objects alive (and the collector idle).
    for a in assess_all(session, plans, now, counter):
        rows.append(snapshots.values(a))
        was = before.get(a.plan.name, _NEVER)
        if (",".join(a.firing), a.budget.exhausted) != was:
            events += transitions(was, a)
        if a.firing or was[0]:
            pending += alerts(was, a)
    for s in skipped:
        rows.append(snapshots.skipped_values(s, now))
        events += resolved(before.get(s.name, _NEVER), s)
        pending += [(labels, annotations, False) for labels, annotations in unreported(before, s)]
    snapshots.store(session, rows)
    if events:
        append_many(session, events, now=now, source=SOURCE)
    reporter = report if report is not None else alerts_reporter()
    if reporter is not None:
        for labels, annotations, active in pending:
            try:
                with session.begin_nested():  # one refused alert must not undo the cycle
                    reporter(
                        session,
                        labels=labels,
                        annotations=annotations,
                        active=active,
                        now=now,
                        source=SOURCE,
                    )
            except ValueError as exc:  # labels the alerts domain cannot store
                log.warning("alert of SLO %s not reported: %s", labels.get("sloth_slo"), exc)
    snapshots.prune(session)
    return Cycle(len(plans), len(skipped), len(events), len(pending) if reporter else 0)


#: Firing severities (comma-separated) and exhaustion of an SLO never evaluated.
_NEVER = ("", False)


def _event(kind: str, service: str, level: Severity, **attributes: Any) -> NewEvent:
    return NewEvent(kind=kind, service=service, severity=level, attributes=attributes)


def transitions(was: tuple[str, bool], a: Assessment) -> list[NewEvent]:
    """Events for what changed since the last evaluation (nothing when nothing did).

    Args:
        was: the firing severities (comma-separated) and exhaustion at the last one.
    """
    out = []
    was_firing, was_exhausted = was[0].split(","), was[1]
    name, service, left = a.plan.name, a.plan.service, a.budget.remaining
    for severity in SEVERITIES:
        if severity in a.firing and severity not in was_firing:
            holding = [
                {
                    "long": explain.window(c.window.long),
                    "short": explain.window(c.window.short),
                    "burn_rate": c.window.burn_rate,
                    "long_burn_rate": c.long_burn,
                    "short_burn_rate": c.short_burn,
                }
                for c in a.conditions()
                if c.firing and c.window.severity == severity
            ]
            level = Severity.ERROR if severity == "page" else Severity.WARNING
            out.append(
                _event(
                    "slo.burn_rate_high", service, level, slo=name, severity=severity,
                    budget_remaining=left, conditions=holding,
                )
            )  # fmt: skip
        elif severity in was_firing and severity not in a.firing:
            out.append(
                _event(
                    "slo.burn_rate_resolved", service, Severity.INFO, slo=name,
                    severity=severity, budget_remaining=left,
                )
            )  # fmt: skip
    if a.budget.exhausted and not was_exhausted:
        out.append(
            _event(
                "slo.budget_exhausted", service, Severity.ERROR, slo=name,
                budget_remaining=left, period_start=a.period.start, period_end=a.period.end,
            )
        )  # fmt: skip
    elif was_exhausted and not a.budget.exhausted:
        out.append(
            _event("slo.budget_recovered", service, Severity.INFO, slo=name, budget_remaining=left)
        )
    return out


def resolved(was: tuple[str, bool], s: Skipped) -> list[NewEvent]:
    """Events for the conditions of an SLO no longer evaluated here that were holding."""
    return [
        _event(
            "slo.burn_rate_resolved", s.service, Severity.INFO, slo=s.name, severity=gone,
            budget_remaining=None,
        )
        for gone in was[0].split(",")
        if gone
    ]  # fmt: skip


Report = tuple[dict[str, str], dict[str, str], bool]


def alerts(was: tuple[str, bool], a: Assessment) -> list[Report]:
    """``(labels, annotations, active)`` of each alert to report for an assessment."""
    out: list[Report] = []
    was_firing = was[0].split(",")
    for severity in SEVERITIES:
        if severity in a.firing:
            out.append((a.plan.alert_labels(severity), alert_annotations(a, severity), True))
        elif severity in was_firing:
            out.append((a.plan.alert_labels(severity), alert_annotations(a, severity), False))
    return out


def unreported(before: Before, s: Skipped) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Labels and annotations of the alerts to resolve for an SLO no longer evaluated here."""
    if s.plan is None:
        return []
    was = before.get(s.name, _NEVER)[0]
    return [
        (s.plan.alert_labels(gone), dict(s.plan.annotations)) for gone in was.split(",") if gone
    ]


Before = dict[str, tuple[str, bool]]


def alert_annotations(a: Assessment, severity: str) -> dict[str, str]:
    """The SLO's alerting annotations plus ``summary`` and ``description``."""
    return {
        **a.plan.annotations,
        "summary": explain.summary(a, severity),
        "description": explain.describe(a),
    }
