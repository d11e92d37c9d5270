"""Appending to the event log; every domain records its state changes through ``append``.

Appends join the caller's transaction. When that transaction commits, the live streams of
this process are woken (see ``hub.py``); other replicas' streams find the rows by polling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from reliant.server.events.hub import HUB
from reliant.server.events.models import EventRow

#: ``session.info`` key marking a transaction that appended events.
_APPENDED = "reliant.events.appended"


class Severity(StrEnum):
    """How much an event matters, lowest first."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


def at_least(severity: Severity | str) -> list[str]:
    """The severities at or above ``severity``, e.g. warning → warning, error, critical."""
    rank = SEVERITY_RANK[Severity(severity)]
    return [str(s) for s in Severity if SEVERITY_RANK[s] >= rank]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEvent:
    """One event to append with :func:`append_many` (fields as :func:`append`'s)."""

    kind: str
    service: str | None = None
    severity: Severity = Severity.INFO
    attributes: Mapping[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    time: float | None = None


def append(
    session: Session,
    *,
    kind: str,
    now: float,
    service: str | None = None,
    severity: Severity = Severity.INFO,
    source: str = "server",
    attributes: Mapping[str, Any] | None = None,
    trace_id: str | None = None,
    time: float | None = None,
) -> EventRow:
    """Append one event in the caller's transaction and return it (its ``id`` assigned).

    Args:
        kind: dotted kind, e.g. ``"breaker.opened"`` (see docs/events.md).
        now: the server's clock, recorded as ``received_at``.
        time: when it happened, if not now (e.g. the SDK's own timestamp).
        source: who reported it: ``"server"``, ``"sdk"``, ``"alertmanager"``, a user name.
    """
    row = EventRow(
        time=now if time is None else time,
        kind=kind,
        service=service,
        severity=str(severity),
        source=source,
        attributes=dict(attributes or {}),
        trace_id=trace_id,
        received_at=now,
    )
    session.add(row)
    session.flush()
    session.info[_APPENDED] = True
    return row


def append_many(
    session: Session, events: Sequence[NewEvent], *, now: float, source: str
) -> list[int]:
    """Append a batch of events in one statement, in the caller's transaction.

    Returns:
        The ids assigned, in the order of ``events`` (ascending).
    """
    if not events:
        return []
    rows = [
        {
            "time": now if e.time is None else e.time,
            "kind": e.kind,
            "service": e.service,
            "severity": str(e.severity),
            "source": source,
            "attributes": dict(e.attributes),
            "trace_id": e.trace_id,
            "received_at": now,
        }
        for e in events
    ]
    statement = insert(EventRow).returning(EventRow.id, sort_by_parameter_order=True)
    ids = list(session.scalars(statement, rows))
    session.info[_APPENDED] = True
    return ids


@event.listens_for(Session, "after_commit")
def _wake_streams(session: Session) -> None:
    # A rolled-back transaction keeps its mark until the session's next commit: one
    # needless wake-up then, which is harmless, where a missed one would add latency.
    if session.info.pop(_APPENDED, False):
        HUB.poke()
