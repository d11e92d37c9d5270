"""Reading what a service's health is made of: events, telemetry and overrides.

Reads go through the event log layer and the ``telemetry`` and ``config`` facades only; the
judgement itself is ``health.assess`` (pure).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, not_, or_, select
from sqlalchemy.orm import Session

from reliant.server.domains import config, telemetry
from reliant.server.events import EventFilter, EventRow, Severity
from reliant.server.events import query as event_query
from reliant.server.web.health import (
    CONTROL_PLANE_PREFIXES,
    LIMITER_REJECTED,
    POLICY_KINDS,
    STALE_AFTER,
    WINDOW,
    Health,
    PolicyState,
    assess,
    policy_states,
)

#: Policy reports read per service (newest first) to find each policy's last state.
REPORTS = 300
#: Limiter rejections read per service in the window, to count them per limiter.
REJECTIONS = 1000
_ERRORS = (str(Severity.ERROR), str(Severity.CRITICAL))
_WARNINGS = (str(Severity.WARNING),)


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What the pages show about a service's state.

    Attributes:
        name: the service.
        health: the verdict.
        policies: its breakers, limiters and faults.
        summary: its telemetry over the last ``WINDOW`` seconds.
        warnings: warning events in the window.
        errors: error and critical events in the window.
        last_event_at: the time of its newest report (within ``STALE_AFTER``; the control
            plane's own changes do not count).
    """

    name: str
    health: Health
    policies: list[PolicyState]
    summary: telemetry.Summary
    warnings: int
    errors: int
    last_event_at: float | None


def statuses(session: Session, names: Sequence[str], *, now: float) -> list[ServiceStatus]:
    """The status of each of ``names``, in that order."""
    if not names:
        return []
    counts = _severity_counts(session, names, since=now - WINDOW)
    last = _last_events(session, names, since=now - STALE_AFTER)
    out = []
    for name in names:
        policies = policies_of(session, name, now=now)
        summary = telemetry.summary(session, name, now - WINDOW, now)
        warnings = sum(counts[(name, s)] for s in _WARNINGS)
        errors = sum(counts[(name, s)] for s in _ERRORS)
        health = assess(
            policies=policies,
            now=now,
            requests=summary.requests,
            error_ratio=summary.error_ratio,
            warnings=warnings,
            errors=errors,
            last_event_at=last.get(name),
        )
        out.append(ServiceStatus(name, health, policies, summary, warnings, errors, last.get(name)))
    return out


def status(session: Session, name: str, *, now: float) -> ServiceStatus:
    """The status of one service."""
    return statuses(session, [name], now=now)[0]


def policies_of(session: Session, service: str, *, now: float) -> list[PolicyState]:
    """The service's breakers, limiters and faults: last reports merged with overrides."""
    flt = EventFilter(services=(service,), kinds=POLICY_KINDS)
    rows, _ = event_query.page(session, flt, limit=REPORTS)
    reports = [{"kind": r.kind, "time": r.time, "attributes": r.attributes} for r in rows]
    rejected = select(EventRow.attributes).where(
        EventRow.service == service,
        EventRow.kind == LIMITER_REJECTED,
        EventRow.time >= now - WINDOW,
    )
    rejections = Counter(
        str(attributes.get("name") or "")
        for attributes in session.scalars(rejected.order_by(EventRow.id.desc()).limit(REJECTIONS))
    )
    rejections.pop("", None)
    overrides: list[dict[str, Any]] = [
        {
            "kind": row.kind,
            "name": row.name,
            "value": row.value,
            "updated_by": row.updated_by,
            "updated_at": row.updated_at,
        }
        for row in config.overrides(session, service)
    ]
    return policy_states(reports, overrides, rejections)


def _severity_counts(
    session: Session, names: Sequence[str], *, since: float
) -> Counter[tuple[str, str]]:
    query = (
        select(EventRow.service, EventRow.severity, func.count())
        .where(
            EventRow.service.in_(names),
            EventRow.time >= since,
            EventRow.severity.in_(_WARNINGS + _ERRORS),
        )
        .group_by(EventRow.service, EventRow.severity)
    )
    counts: Counter[tuple[str, str]] = Counter()
    for service, severity, n in session.execute(query):
        counts[(str(service), str(severity))] = int(n)
    return counts


def _last_events(session: Session, names: Sequence[str], *, since: float) -> dict[str, float]:
    query = (
        select(EventRow.service, func.max(EventRow.time))
        .where(
            EventRow.service.in_(names),
            EventRow.time >= since,
            not_(or_(*(EventRow.kind.startswith(p) for p in CONTROL_PLANE_PREFIXES))),
        )
        .group_by(EventRow.service)
    )
    return {str(service): float(t) for service, t in session.execute(query)}
