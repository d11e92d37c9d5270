"""Incidents: declared by hand or from alerts by rules, with a lifecycle, roles, links,
status updates, follow-up tasks, merges, a live timeline and response metrics.

This facade is all other domains may import::

    from reliant.server.domains.incidents import STATES, SEVERITIES, declare_from_alerts

``SPEC_HANDLER`` is the ``IncidentRule`` kind's handler for ``reliant apply``;
``declare_from_alerts`` runs one pass of the ``incidents.declare`` job (every 5 s), which
reads new alert events from the event log. ``incident_detail`` and ``timeline_page`` read
an incident and its timeline (postmortems build their drafts from them). See
``docs/incidents.md``.
"""

from sqlalchemy.orm import Session

from reliant.server.domains.incidents.declare import run as declare_from_alerts
from reliant.server.domains.incidents.lifecycle import OPEN, SEVERITIES, STATES
from reliant.server.domains.incidents.metrics import DEFINITIONS
from reliant.server.domains.incidents.recording import IncidentNotFound, require
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
    "timeline_page",
]
