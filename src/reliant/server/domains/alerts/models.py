"""Tables of alerts: alert instances, silences, the routing document, groups, notification log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base

#: Length of a fingerprint (16 hex digits) and of the hashed keys of groups and log entries.
FINGERPRINT_LENGTH = 16
KEY_LENGTH = 64


class AlertRow(Base):
    """One alert instance, named by the fingerprint of its labels.

    ``state`` is ``pending`` (active, waiting out ``for_seconds``), ``firing``,
    ``suppressed`` (firing but silenced or inhibited) or ``resolved``.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state", "state"),
        Index("ix_alerts_order", "active_since", "fingerprint"),
    )

    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH), primary_key=True)
    alertname: Mapped[str] = mapped_column(String(256))
    #: The ``service`` label, if any (for filtering).
    service: Mapped[str | None] = mapped_column(String(256), index=True)
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    #: Who reported it last: ``slo``, ``alertmanager``, ``api`` or a token's name.
    source: Mapped[str] = mapped_column(String(100))
    for_seconds: Mapped[float]
    #: Start of the current (or last) active period.
    active_since: Mapped[float]
    #: When it last started firing (``startsAt`` in notifications); ``None`` if it never did.
    fired_at: Mapped[float | None]
    #: When it stops being active unless reported again; ``None``: only when reported so.
    ends_at: Mapped[float | None]
    resolved_at: Mapped[float | None] = mapped_column(index=True)
    updated_at: Mapped[float]
    generator_url: Mapped[str] = mapped_column(String(2000))
    #: Ids of the silences and fingerprints of the alerts muting it (set by the dispatcher).
    silenced_by: Mapped[list[Any]]
    inhibited_by: Mapped[list[Any]]


class SilenceRow(Base):
    """A silence: matchers and a time window; expired ones are kept for a while."""

    __tablename__ = "alert_silences"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: The matchers, each in Alertmanager's text form.
    matchers: Mapped[list[Any]]
    starts_at: Mapped[float]
    ends_at: Mapped[float] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float]
    updated_at: Mapped[float]


class AlertingConfigRow(Base):
    """The routing document in force (one row, ``id`` 1); absent: the default document."""

    __tablename__ = "alerting_config"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    document: Mapped[dict[str, Any]]
    version: Mapped[int]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(100))


class AlertGroupRow(Base):
    """An aggregation group: a route and the values of its ``group_by`` labels."""

    __tablename__ = "alert_groups"

    #: SHA-256 of the route id and group labels.
    id: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    route_id: Mapped[str] = mapped_column(Text)
    receiver: Mapped[str] = mapped_column(String(100))
    group_key: Mapped[str] = mapped_column(Text)
    group_labels: Mapped[dict[str, Any]]
    created_at: Mapped[float]
    next_flush_at: Mapped[float] = mapped_column(index=True)
    flushed_at: Mapped[float | None]


class AlertGroupMemberRow(Base):
    """An alert in a group (resolved alerts stay until the group's next flush)."""

    __tablename__ = "alert_group_members"

    group_id: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH), primary_key=True)


class NotificationLogRow(Base):
    """What the last notification of a group to a receiver listed (Alertmanager's nflog)."""

    __tablename__ = "alert_notification_log"

    #: SHA-256 of the receiver and group key.
    id: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    receiver: Mapped[str] = mapped_column(String(100))
    group_key: Mapped[str] = mapped_column(Text)
    firing: Mapped[list[Any]]
    resolved: Mapped[list[Any]]
    notified_at: Mapped[float]
    expires_at: Mapped[float] = mapped_column(index=True)
