"""The event log, the spine every domain writes its state changes to and reads histories from."""

from reliant.server.events.models import EventRow
from reliant.server.events.service import SEVERITY_RANK, Severity, append

__all__ = ["SEVERITY_RANK", "EventRow", "Severity", "append"]
