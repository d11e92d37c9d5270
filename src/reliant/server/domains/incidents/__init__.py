"""Incidents: declared by hand or from alerts by rules, with a lifecycle, roles, links,
status updates, follow-up tasks, merges, a live timeline and response metrics.

This facade is all other domains may import::

    from reliant.server.domains.incidents import STATES, SEVERITIES, declare_from_alerts

``SPEC_HANDLER`` is the ``IncidentRule`` kind's handler for ``reliant apply``;
``declare_from_alerts`` runs one pass of the ``incidents.declare`` job (every 5 s), which
reads new alert events from the event log. ``incident_detail`` and ``timeline_page`` read
an incident and its timeline (postmortems build their drafts from them).
``incident_of_event`` finds the incident whose timeline holds an event (the alert that
started a runbook run, say) and ``put_on_timeline`` puts another domain's event on an
incident's timeline whatever its service. See ``docs/incidents.md``.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.incidents.declare import run as declare_from_alerts
from reliant.server.domains.incidents.lifecycle import OPEN, SEVERITIES, STATES
from reliant.server.domains.incidents.metrics import DEFINITIONS
from reliant.server.domains.incidents.models import IncidentEventRow
from reliant.server.domains.incidents.recording import IncidentNotFound, link, require
from reliant.server.domains.incidents.service import Detail
from reliant.server.domains.incidents.service import detail as incident_detail
from reliant.server.domains.incidents.spec import HANDLER
from reliant.server.domains.incidents.timeline import page as timeline_page

#: The ``IncidentRule`` kind's handler for the apply engine.
SPEC_HANDLER = HANDLER


def incident_exists(session: Session, incident_id: int) -> bool:
    """Whether there is an incident with this id (in any state)."""
    try:
        require(session, incident_id)
    except IncidentNotFound:
        return False
    return True


def incident_of_event(session: Session, event_id: int) -> int | None:
    """The incident whose timeline holds this event (the newest, when several do)."""
    query = (
        select(IncidentEventRow.incident_id)
        .where(IncidentEventRow.event_id == event_id)
        .order_by(IncidentEventRow.incident_id.desc())
        .limit(1)
    )
    found: int | None = session.scalar(query)
    return found


def put_on_timeline(session: Session, incident_id: int, event_id: int) -> None:
    """Show an event of the log on an incident's timeline whatever its service (once)."""
    if session.get(IncidentEventRow, (incident_id, event_id)) is None:
        link(session, incident_id, event_id)


__all__ = [
    "DEFINITIONS",
    "OPEN",
    "SEVERITIES",
    "SPEC_HANDLER",
    "STATES",
    "Detail",
    "IncidentNotFound",
    "declare_from_alerts",
    "incident_detail",
    "incident_exists",
    "incident_of_event",
    "put_on_timeline",
    "timeline_page",
]
