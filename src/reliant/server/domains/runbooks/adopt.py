"""Automatic runs join the incident their alert is part of, whichever job ran first.

``runbooks.trigger`` starts a run from an ``alert.firing`` event; ``incidents.declare``
puts the same event on an incident's timeline. The two jobs run independently, so the
run may start before the incident exists. Each trigger pass therefore looks at recent
automatic runs without an incident: once their alert's event is on an incident's
timeline, the run belongs to that incident, and its journal so far is put on the
incident's timeline too (later entries are put there as they are written).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.incidents import incident_of_event, put_on_timeline
from reliant.server.domains.runbooks.models import RunRow
from reliant.server.events import EventRow

#: Runs created longer ago than this are not adopted any more (seconds).
ADOPT_WITHIN = 600.0


def adopt(session: Session, now: float) -> list[int]:
    """Link recent automatic runs to their alert's incident; return the runs linked."""
    query = select(RunRow).where(
        RunRow.automatic.is_(True),
        RunRow.incident.is_(None),
        RunRow.created_at >= now - ADOPT_WITHIN,
    )
    adopted = []
    for run in session.scalars(query):
        event_id = (run.trigger or {}).get("event")
        if not isinstance(event_id, int) or isinstance(event_id, bool):
            continue
        incident = incident_of_event(session, event_id)
        if incident is None:
            continue
        run.incident = incident
        for event_id in _journal(session, run):
            put_on_timeline(session, incident, event_id)
        adopted.append(run.id)
    return adopted


def _journal(session: Session, run: RunRow) -> list[int]:
    """The ids of the run's ``runbook.*`` events so far."""
    service = EventRow.service.is_(None) if run.service is None else EventRow.service == run.service
    query = select(EventRow).where(
        EventRow.kind.startswith("runbook.", autoescape=True),
        EventRow.time >= run.created_at - 1.0,
        service,
    )
    return [e.id for e in session.scalars(query) if e.attributes.get("run") == run.id]
