"""Appending to the event log; every domain records its state changes through ``append``."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from reliant.server.events.models import EventRow


class Severity(StrEnum):
    """How much an event matters, lowest first."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


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
    return row
