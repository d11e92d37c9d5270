"""Use cases of incidents: declare, read, move through the lifecycle, edit, roles, links.

Writers take an :class:`~reliant.server.domains.incidents.recording.Acting` and record each
change three ways: an ``incident.*`` event on the incident's timeline, an audit record, and
(for state changes) a notification to its receivers. Status updates and tasks are in
``followups.py``, merges in ``merge.py``. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reliant.server.domains import alerts
from reliant.server.domains.incidents import lifecycle, notifications
from reliant.server.domains.incidents.models import (
    IncidentAlertRow,
    IncidentRow,
    IncidentServiceRow,
    IncidentSLORow,
    IncidentTaskRow,
    IncidentUpdateRow,
)
from reliant.server.domains.incidents.recording import (
    Acting,
    IncidentNotFound,
    record_audit,
    require,
    services_of,
    snapshot,
)
from reliant.server.domains.incidents.recording import event as record_event
from reliant.server.domains.incidents.recording import move as move_state

#: The roles an incident has, each a free-text person name.
ROLES = ("commander", "communications", "scribe")
#: What an incident links to: services, alerts (fingerprints) and SLOs.
LINK_KINDS = ("services", "alerts", "slos")
#: The audit action of a move to each state.
ACTIONS = {
    lifecycle.ACKNOWLEDGED: "incident.acknowledge",
    lifecycle.MITIGATED: "incident.mitigate",
    lifecycle.RESOLVED: "incident.resolve",
    lifecycle.CLOSED: "incident.close",
    lifecycle.TRIGGERED: "incident.reopen",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Detail:
    """An incident with everything linked to it."""

    row: IncidentRow
    services: list[str]
    slos: list[str]
    alerts: list[IncidentAlertRow]
    updates: list[IncidentUpdateRow]
    tasks: list[IncidentTaskRow]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAlert:
    """An alert to link at declaration: fingerprint, name and labels."""

    fingerprint: str
    alertname: str
    labels: dict[str, str]
    firing: bool = True


def declare(
    acting: Acting,
    *,
    title: str,
    severity: str,
    summary: str = "",
    services: Sequence[str] = (),
    slos: Sequence[str] = (),
    alerts: Sequence[NewAlert] = (),
    roles: dict[str, str | None] | None = None,
    subscribers: Sequence[str] = (),
    rule: str | None = None,
    group_hash: str | None = None,
    group_labels: dict[str, str] | None = None,
) -> IncidentRow:
    """Declare an incident (``triggered``), record it and notify its receivers."""
    now = acting.now
    row = IncidentRow(
        title=title,
        summary=summary,
        severity=severity,
        state=lifecycle.TRIGGERED,
        merged_into=None,
        rule=rule,
        group_hash=group_hash,
        group_labels=dict(group_labels or {}),
        subscribers=sorted(set(subscribers)),
        transitions=[],
        created_at=now,
        created_by=acting.actor,
        updated_at=now,
        **{role: (roles or {}).get(role) or None for role in ROLES},
    )
    session = acting.session
    session.add(row)
    session.flush()
    for name in sorted(set(services)):
        session.add(IncidentServiceRow(incident_id=row.id, service=name))
    for name in sorted(set(slos)):
        session.add(IncidentSLORow(incident_id=row.id, slo=name))
    for alert in {a.fingerprint: a for a in alerts}.values():
        session.add(_alert_row(row.id, alert, now))
    session.flush()
    attributes = {
        "title": title,
        "severity": severity,
        "services": sorted(set(services)),
        "alerts": sorted({a.fingerprint for a in alerts}),
        "rule": rule,
    }
    severity_of = lifecycle.EVENT_SEVERITY[severity]
    record_event(acting, row, "incident.declared", attributes, severity=severity_of)
    record_audit(acting, "incident.declare", row, before=None, after=snapshot(row))
    notifications.send(acting, row, change="declared")
    return row


def _alert_row(incident_id: int, alert: NewAlert, now: float) -> IncidentAlertRow:
    return IncidentAlertRow(
        incident_id=incident_id,
        fingerprint=alert.fingerprint,
        alertname=alert.alertname[:256],
        labels=dict(alert.labels),
        state="firing" if alert.firing else "resolved",
        linked_at=now,
        resolved_at=None if alert.firing else now,
    )


def page(
    session: Session,
    *,
    states: Sequence[str] = (),
    severities: Sequence[str] = (),
    service: str | None = None,
    limit: int,
    before: int | None = None,
) -> tuple[list[IncidentRow], bool]:
    """Incidents, newest first, filtered; and whether more follow."""
    query = select(IncidentRow).order_by(IncidentRow.id.desc())
    if states:
        query = query.where(IncidentRow.state.in_(list(states)))
    if severities:
        query = query.where(IncidentRow.severity.in_(list(severities)))
    if service is not None:
        linked = select(IncidentServiceRow.incident_id).where(IncidentServiceRow.service == service)
        query = query.where(IncidentRow.id.in_(linked))
    if before is not None:
        query = query.where(IncidentRow.id < before)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def services_by_incident(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    """The services of each of these incidents."""
    found: dict[int, list[str]] = {i: [] for i in ids}
    query = (
        select(IncidentServiceRow.incident_id, IncidentServiceRow.service)
        .where(IncidentServiceRow.incident_id.in_(list(ids)))
        .order_by(IncidentServiceRow.service)
    )
    for incident_id, service in session.execute(query):
        found[int(incident_id)].append(service)
    return found


def detail(session: Session, incident_id: int) -> Detail:
    """One incident with its links, status updates (oldest first) and tasks.

    Raises:
        IncidentNotFound: there is no such incident.
    """
    row = require(session, incident_id)
    slos = select(IncidentSLORow.slo).where(IncidentSLORow.incident_id == row.id)
    linked = select(IncidentAlertRow).where(IncidentAlertRow.incident_id == row.id)
    updates = select(IncidentUpdateRow).where(IncidentUpdateRow.incident_id == row.id)
    tasks = select(IncidentTaskRow).where(IncidentTaskRow.incident_id == row.id)
    return Detail(
        row=row,
        services=services_of(session, row.id),
        slos=sorted(session.scalars(slos)),
        alerts=list(session.scalars(linked.order_by(IncidentAlertRow.linked_at))),
        updates=list(session.scalars(updates.order_by(IncidentUpdateRow.id))),
        tasks=list(session.scalars(tasks.order_by(IncidentTaskRow.id))),
    )


def transition(acting: Acting, incident_id: int, to: str) -> IncidentRow:
    """Move an incident to ``to`` (``triggered`` reopens a resolved one).

    Raises:
        IncidentNotFound: there is no such incident.
        IncidentConflict: the lifecycle does not allow the move (naming what it allows).
    """
    row = require(acting.session, incident_id, lock=True)
    return change_state(acting, row, to)


def change_state(acting: Acting, row: IncidentRow, to: str) -> IncidentRow:
    """Move a (locked) incident to ``to``; record, audit and notify the change."""
    before = snapshot(row)
    old = move_state(acting, row, to)
    record_event(
        acting,
        row,
        lifecycle.EVENT_KINDS[to],
        {"from": old, "to": to, "title": row.title, "severity": row.severity},
    )
    record_audit(acting, ACTIONS[to], row, before=before, after=snapshot(row))
    notifications.send(acting, row, change="reopened" if to == lifecycle.TRIGGERED else to)
    return row


def edit(
    acting: Acting,
    incident_id: int,
    *,
    title: str | None = None,
    summary: str | None = None,
    severity: str | None = None,
) -> IncidentRow:
    """Change an incident's title, summary or severity (those given)."""
    row = require(acting.session, incident_id, lock=True)
    before = snapshot(row)
    changed = []
    for name, value in (("title", title), ("summary", summary), ("severity", severity)):
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    if not changed:
        return row
    row.updated_at = acting.now
    attributes = {"changed": changed, "title": row.title, "severity": row.severity}
    record_event(acting, row, "incident.edited", attributes)
    record_audit(acting, "incident.edit", row, before=before, after=snapshot(row))
    return row


def assign(acting: Acting, incident_id: int, role: str, person: str | None) -> IncidentRow:
    """Give a role to a person (``None`` leaves it unassigned)."""
    if role not in ROLES:
        raise IncidentNotFound(f"no role {role!r}; roles are {', '.join(ROLES)}")
    row = require(acting.session, incident_id, lock=True)
    previous = getattr(row, role)
    if previous == person:
        return row
    before = snapshot(row)
    setattr(row, role, person)
    row.updated_at = acting.now
    attributes = {"role": role, "person": person, "previous": previous}
    record_event(acting, row, "incident.role_assigned", attributes)
    record_audit(acting, "incident.assign", row, before=before, after=snapshot(row))
    return row


def set_subscribers(acting: Acting, incident_id: int, receivers: Sequence[str]) -> IncidentRow:
    """Replace the receivers told of this incident besides the server's and the rule's."""
    row = require(acting.session, incident_id, lock=True)
    wanted = sorted(set(receivers))
    if wanted == list(row.subscribers):
        return row
    before = snapshot(row)
    row.subscribers = wanted
    row.updated_at = acting.now
    record_event(acting, row, "incident.subscribers_changed", {"subscribers": wanted})
    record_audit(acting, "incident.subscribe", row, before=before, after=snapshot(row))
    return row


def link(acting: Acting, incident_id: int, kind: str, name: str) -> bool:
    """Link a service, alert (fingerprint) or SLO to an incident.

    Returns:
        Whether it was not linked yet.

    Raises:
        IncidentNotFound: no such incident, or no alert with that fingerprint.
    """
    session = acting.session
    row = require(session, incident_id, lock=True)
    model, column = _link_table(kind)
    key = {"incident_id": row.id, column: name}
    if session.get(model, key) is not None:
        return False
    if kind == "alerts":
        alert = alerts.get_alert(session, name)
        if alert is None:
            raise IncidentNotFound(f"no alert with fingerprint {name!r}; see GET /api/v1/alerts")
        firing = alert.state in ("firing", "suppressed", "pending")
        labels = {str(k): str(v) for k, v in alert.labels.items()}
        new = NewAlert(fingerprint=name, alertname=alert.alertname, labels=labels, firing=firing)
        session.add(_alert_row(row.id, new, acting.now))
    else:
        session.add(model(**key))
    session.flush()
    _record_link(acting, row, "incident.linked", kind, name)
    return True


def unlink(acting: Acting, incident_id: int, kind: str, name: str) -> None:
    """Remove a link.

    Raises:
        IncidentNotFound: no such incident, or it does not link ``name``.
    """
    session = acting.session
    row = require(session, incident_id, lock=True)
    model, column = _link_table(kind)
    found = session.get(model, {"incident_id": row.id, column: name})
    if found is None:
        raise IncidentNotFound(f"incident #{row.id} does not link {kind} {name!r}")
    session.delete(found)
    session.flush()
    _record_link(acting, row, "incident.unlinked", kind, name)


def _record_link(acting: Acting, row: IncidentRow, kind: str, what: str, name: str) -> None:
    row.updated_at = acting.now
    record_event(acting, row, kind, {"kind": what, "name": name})
    verb = "link" if kind == "incident.linked" else "unlink"
    after: dict[str, Any] = {"kind": what, "name": name}
    record_audit(acting, f"incident.{verb}", row, before=None, after=after)


def _link_table(kind: str) -> tuple[Any, str]:
    if kind == "services":
        return IncidentServiceRow, "service"
    if kind == "slos":
        return IncidentSLORow, "slo"
    if kind == "alerts":
        return IncidentAlertRow, "fingerprint"
    raise IncidentNotFound(f"incidents link {', '.join(LINK_KINDS)}, not {kind!r}")


def drop_links(session: Session, incident_id: int) -> None:
    """Remove every service, SLO and alert link of an incident (after a merge moved them)."""
    for model in (IncidentServiceRow, IncidentSLORow, IncidentAlertRow):
        session.execute(delete(model).where(model.incident_id == incident_id))
