"""Postmortems: blameless drafts generated from incidents, edited, reviewed, published and
exported; error-budget policies requiring them.

This facade is all other domains may import::

    from reliant.server.domains.postmortems import postmortem_of_incident

    found = postmortem_of_incident(session, incident_id)   # PostmortemRow (.id) or None

``SPEC_HANDLER`` is the ``ErrorBudgetPolicy`` kind's handler for ``reliant apply``;
``require_postmortems`` runs one pass of the ``postmortems.require`` job (every 10 s),
which reads new incident resolutions from the event log. ``DEFINITIONS`` states what each
computed figure means. See ``docs/postmortems.md``.
"""

from reliant.server.domains.postmortems.facts import DEFINITIONS
from reliant.server.domains.postmortems.lifecycle import STATES
from reliant.server.domains.postmortems.require import run as require_postmortems
from reliant.server.domains.postmortems.service import by_incident as postmortem_of_incident
from reliant.server.domains.postmortems.spec import HANDLER

#: The ``ErrorBudgetPolicy`` kind's handler for the apply engine.
SPEC_HANDLER = HANDLER

__all__ = [
    "DEFINITIONS",
    "SPEC_HANDLER",
    "STATES",
    "postmortem_of_incident",
    "require_postmortems",
]
