"""The event log's tables: the append-only ``events``, and runtime ``server_settings``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base, BigId


class EventRow(Base):
    """One state change anywhere: time, kind, service, severity, attributes, trace id."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_service_id", "service", "id"),
        Index("ix_events_kind_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    time: Mapped[float] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(100))
    service: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(100))
    attributes: Mapped[dict[str, Any]]
    trace_id: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[float]


class ServerSetting(Base):
    """A setting changed at run time (e.g. ``event_retention``), shared by every replica.

    ``value`` is a JSON object; a missing row means the process's ``Settings`` default.
    """

    __tablename__ = "server_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(100))
