"""Tables of incidents: incidents and what hangs off them, rules, and the declaring cursor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base, BigId

#: Longest service, SLO, rule or receiver name (``NAME_PATTERN`` allows 100 characters).
NAME_LENGTH = 100
#: Longest person name (roles, ``by`` of notes and updates, task owners).
PERSON_LENGTH = 200
#: Longest status update, note or task text.
TEXT_LENGTH = 4000


class IncidentRow(Base):
    """An incident: what, how bad, where it is in its lifecycle, and who runs it.

    Transition times are kept for the metrics: ``acknowledged_at`` is the first
    acknowledgement (never cleared), ``resolved_at`` the latest resolution (cleared by a
    reopen), ``closed_at`` the closing.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_state", "state"),
        Index("ix_incidents_group", "rule", "group_hash"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(16))
    commander: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    communications: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    scribe: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    #: The primary this duplicate was merged into.
    merged_into: Mapped[int | None] = mapped_column(BigInteger, index=True)
    #: The rule that declared it (``None``: declared by hand) and its group.
    rule: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    group_hash: Mapped[str | None] = mapped_column(String(64))
    group_labels: Mapped[dict[str, Any]]
    #: Receivers told of its changes besides the server's and the rule's.
    subscribers: Mapped[list[Any]]
    #: ``[{"from", "to", "at", "by"}]``, oldest first.
    transitions: Mapped[list[Any]]
    created_at: Mapped[float] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(PERSON_LENGTH))
    acknowledged_at: Mapped[float | None]
    mitigated_at: Mapped[float | None]
    resolved_at: Mapped[float | None]
    closed_at: Mapped[float | None]
    updated_at: Mapped[float]


class IncidentServiceRow(Base):
    """A service an incident affects."""

    __tablename__ = "incident_services"

    incident_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    service: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True, index=True)


class IncidentSLORow(Base):
    """An SLO an incident affects."""

    __tablename__ = "incident_slos"

    incident_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slo: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)


class IncidentAlertRow(Base):
    """An alert linked to an incident, and whether it still fires."""

    __tablename__ = "incident_alerts"

    incident_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
    alertname: Mapped[str] = mapped_column(String(256))
    labels: Mapped[dict[str, Any]]
    #: ``firing`` or ``resolved``.
    state: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[float]
    resolved_at: Mapped[float | None]


class IncidentEventRow(Base):
    """An event of the log that belongs to an incident's timeline whatever its service:
    the incident's own events and its alerts' events."""

    __tablename__ = "incident_events"

    incident_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)


class IncidentUpdateRow(Base):
    """A status update: what is known now, by whom."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigInteger, index=True)
    text: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(PERSON_LENGTH))
    at: Mapped[float]
    #: The incident's state when it was written.
    state: Mapped[str] = mapped_column(String(16))
    notify: Mapped[bool]


class IncidentTaskRow(Base):
    """A follow-up task: title, owner, due date (``YYYY-MM-DD``), done or not."""

    __tablename__ = "incident_tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigInteger, index=True)
    title: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str | None] = mapped_column(String(PERSON_LENGTH))
    due: Mapped[str | None] = mapped_column(String(10))
    done: Mapped[bool]
    done_at: Mapped[float | None]
    created_at: Mapped[float]
    created_by: Mapped[str] = mapped_column(String(PERSON_LENGTH))


class IncidentNoteRow(Base):
    """A manual timeline entry; its ``incident.note_added`` event carries it in the log."""

    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigInteger, index=True)
    event_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(PERSON_LENGTH))
    at: Mapped[float]


class IncidentPinRow(Base):
    """A pinned timeline entry, by key (``event:<id>`` or ``note:<id>``)."""

    __tablename__ = "incident_pins"

    incident_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger)
    pinned_at: Mapped[float]
    pinned_by: Mapped[str] = mapped_column(String(PERSON_LENGTH))


class IncidentRuleRow(Base):
    """A rule declaring incidents from alerts: its spec as ``IncidentRuleSpec`` JSON."""

    __tablename__ = "incident_rules"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    spec: Mapped[dict[str, Any]]
    #: ``"api"`` or ``"spec"`` (written by ``reliant apply``).
    managed_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(PERSON_LENGTH))


class IncidentCursorRow(Base):
    """How far the declaring job has read the event log (one row, ``name`` ``declare``).

    ``gap``/``gap_since``/``given_up`` keep its wait for a missing id across runs, as a
    live stream's position does (``reliant.server.events.stream.Position``).
    """

    __tablename__ = "incident_cursor"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    gap: Mapped[int | None] = mapped_column(BigInteger)
    gap_since: Mapped[float]
    given_up: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float]
