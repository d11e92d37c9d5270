"""The event log, the spine every domain writes its state changes to and reads histories from.

Other parts of the server import from here: ``append`` (one event, in the caller's
transaction), ``append_many`` (a batch in one statement), and the filters of
``query``.
"""

from reliant.server.events.models import EventRow
from reliant.server.events.query import EventFilter
from reliant.server.events.service import (
    SEVERITY_RANK,
    EventLike,
    NewEvent,
    Severity,
    append,
    append_many,
)

__all__ = [
    "SEVERITY_RANK",
    "EventFilter",
    "EventLike",
    "EventRow",
    "NewEvent",
    "Severity",
    "append",
    "append_many",
]
