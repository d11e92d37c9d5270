"""Who acts, the domain's errors, and how every change of an incident is recorded.

Every change appends one ``incident.*`` event, linked to the incident so that its timeline
shows it whatever services it names, and one audit record. Nothing here commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.auth import audit
from reliant.server.declared import Acting as Acting  # re-exported: the domain's actor
from reliant.server.domains.incidents import lifecycle
from reliant.server.domains.incidents.models import (
    IncidentEventRow,
    IncidentRow,
    IncidentServiceRow,
)
from reliant.server.events import EventRow, Severity, append


class IncidentError(Exception):
    """A request that cannot be done as asked; ``status`` is its HTTP status."""

    status = 400
    title = "Bad Request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


class IncidentNotFound(IncidentError):
    """No such incident, rule, task or timeline entry."""

    status = 404
    title = "Not Found"


class IncidentConflict(IncidentError):
    """A change the incident's state does not allow."""

    status = 409
    title = "Conflict"


class InvalidIncident(IncidentError):
    """A request whose values cannot be used together."""

    status = 422
    title = "Invalid Request"


def require(session: Session, incident_id: int, *, lock: bool = False) -> IncidentRow:
    """The incident with this id.

    Raises:
        IncidentNotFound: there is none.
    """
    row = session.get(IncidentRow, incident_id, with_for_update=lock or None)
    if row is None:
        raise IncidentNotFound(f"no incident #{incident_id}; list them with GET /api/v1/incidents")
    return row


def services_of(session: Session, incident_id: int) -> list[str]:
    """The services an incident affects, by name."""
    query = (
        select(IncidentServiceRow.service)
        .where(IncidentServiceRow.incident_id == incident_id)
        .order_by(IncidentServiceRow.service)
    )
    return list(session.scalars(query))


def snapshot(row: IncidentRow) -> dict[str, Any]:
    """The audited state of an incident."""
    return {
        "title": row.title,
        "summary": row.summary,
        "severity": row.severity,
        "state": row.state,
        "commander": row.commander,
        "communications": row.communications,
        "scribe": row.scribe,
        "merged_into": row.merged_into,
        "subscribers": list(row.subscribers),
    }


def event(
    acting: Acting,
    row: IncidentRow,
    kind: str,
    attributes: dict[str, Any] | None = None,
    *,
    time: float | None = None,
    severity: Severity = Severity.INFO,
) -> EventRow:
    """Append an ``incident.*`` event about ``row`` and link it to the incident's timeline.

    Its service is the first of the incident's services by name (``None`` without any).
    """
    services = services_of(acting.session, row.id)
    appended = append(
        acting.session,
        kind=kind,
        now=acting.now,
        service=services[0] if services else None,
        severity=severity,
        source=acting.event_source,
        attributes={"incident": row.id, **(attributes or {})},
        time=time,
    )
    link(acting.session, row.id, appended.id)
    return appended


def link(session: Session, incident_id: int, event_id: int) -> None:
    """Put an event of the log on an incident's timeline."""
    session.add(IncidentEventRow(incident_id=incident_id, event_id=event_id))


def record_audit(
    acting: Acting,
    action: str,
    row: IncidentRow,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """One audit record of a change of ``row``."""
    audit.record(
        acting.session,
        actor=acting.actor,
        action=action,
        target_kind="incident",
        target_id=str(row.id),
        now=acting.now,
        before=before,
        after=after,
    )


def move(acting: Acting, row: IncidentRow, to: str) -> str:
    """Move an incident to ``to``, setting its transition times; return the old state.

    The caller records the event and audit. ``acknowledged_at`` keeps the first
    acknowledgement; closing resolves an unresolved incident too; a reopen clears the
    mitigation and resolution.

    Raises:
        IncidentConflict: the lifecycle does not allow it (409, naming what it allows).
    """
    try:
        lifecycle.check(row.state, to)
    except lifecycle.TransitionRefused as exc:
        raise IncidentConflict(
            f"incident #{row.id}: {exc}", state=exc.state, allowed=list(exc.allowed)
        ) from None
    old, now = row.state, acting.now
    if to == lifecycle.ACKNOWLEDGED and row.acknowledged_at is None:
        row.acknowledged_at = now
    elif to == lifecycle.MITIGATED:
        row.mitigated_at = now
    elif to == lifecycle.RESOLVED:
        row.resolved_at = now
    elif to == lifecycle.CLOSED:
        row.closed_at = now
        if row.resolved_at is None:
            row.resolved_at = now
    elif to == lifecycle.TRIGGERED:
        row.mitigated_at = row.resolved_at = None
    row.state = to
    row.transitions = [*row.transitions, {"from": old, "to": to, "at": now, "by": acting.actor}]
    row.updated_at = now
    return old
