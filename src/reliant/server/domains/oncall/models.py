"""Tables of on-call: schedules, their overrides, escalation policies and pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base, BigId

#: Longest schedule, policy or receiver name (``reliant.spec.models.NAME_PATTERN``).
NAME_LENGTH = 100
#: Longest ``by`` kept (a token's name, ``link:<receiver>``, ``alerts``).
BY_LENGTH = 200
#: Longest page title kept.
TITLE_LENGTH = 500


class ScheduleRow(Base):
    """A schedule: its spec as ``ScheduleSpec.model_dump(mode="json")``."""

    __tablename__ = "oncall_schedules"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    spec: Mapped[dict[str, Any]]
    #: ``"api"`` (written through the REST API) or ``"spec"`` (by ``reliant apply``).
    managed_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(BY_LENGTH))


class OverrideRow(Base):
    """An ad hoc override of a schedule: ``member`` is on call in ``[starts_at, ends_at)``.

    Not part of the spec: ``reliant apply --prune`` leaves overrides alone.
    """

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_schedule_end", "schedule", "ends_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(NAME_LENGTH))
    member: Mapped[str] = mapped_column(String(NAME_LENGTH))
    starts_at: Mapped[float]
    ends_at: Mapped[float]
    created_at: Mapped[float]
    created_by: Mapped[str] = mapped_column(String(BY_LENGTH))


class PolicyRow(Base):
    """An escalation policy: its spec as ``EscalationPolicySpec.model_dump(mode="json")``."""

    __tablename__ = "oncall_policies"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    spec: Mapped[dict[str, Any]]
    managed_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(BY_LENGTH))


class PageRow(Base):
    """The on-call incident of one dedup key: ``triggered``, ``acknowledged`` or ``resolved``.

    A flapping alert reopens its page (within the policy's ``reopen_within``) instead of
    opening another, so a dedup key has one page per episode.
    """

    __tablename__ = "oncall_pages"
    __table_args__ = (
        Index("ix_oncall_pages_key", "key_hash", "id"),
        Index("ix_oncall_pages_state_next", "state", "next_escalation_at"),
        Index("ix_oncall_pages_state_ack", "state", "ack_expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    policy: Mapped[str] = mapped_column(String(NAME_LENGTH))
    #: The dedup key of the alerts' notification (``<policy>:<group key>``).
    dedup_key: Mapped[str] = mapped_column(Text)
    #: SHA-256 of ``dedup_key`` in hex, to find the page of a key.
    key_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    #: The escalation level last notified, from 1.
    level: Mapped[int]
    #: How many times the levels were started again after the last one (``repeat``).
    cycle: Mapped[int]
    next_escalation_at: Mapped[float | None]
    #: Escalation ran out (the last level of the last cycle was notified, its timeout passed).
    exhausted: Mapped[bool]
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    service: Mapped[str | None] = mapped_column(String(200))
    group_key: Mapped[str] = mapped_column(Text)
    #: The latest alerts: ``alerts``, ``group_labels``, ``common_labels``, ``common_annotations``.
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[float]
    updated_at: Mapped[float]
    #: When it was last triggered (created, reopened, or its acknowledgement expired).
    triggered_at: Mapped[float]
    acknowledged_at: Mapped[float | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(BY_LENGTH))
    #: When the acknowledgement expires (the policy's ``ack_timeout``), if it does.
    ack_expires_at: Mapped[float | None]
    resolved_at: Mapped[float | None]
    resolved_by: Mapped[str | None] = mapped_column(String(BY_LENGTH))
    #: Receivers notified so far, in order: acknowledgements and resolutions go to each.
    notified: Mapped[list[Any]]
    #: How many times it was reopened after a resolution.
    reopened: Mapped[int]
