"""Tables of notify: receivers (secrets encrypted), the outbox, and every delivery attempt."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base, BigId

#: Longest receiver name (``reliant.spec.models.NAME_PATTERN``: 100 characters).
NAME_LENGTH = 100
#: Longest dedup key kept; longer keys are replaced by their digest (``payloads.fit_key``).
KEY_LENGTH = 255
#: Longest error text kept per attempt.
ERROR_LENGTH = 2000


class ReceiverRow(Base):
    """A named destination of notifications: its type, settings and encrypted secrets."""

    __tablename__ = "notify_receivers"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    #: ``pagerduty``, ``opsgenie``, ``slack``, ``webhook`` or ``email``.
    type: Mapped[str] = mapped_column(String(16))
    #: The settings that are not secret (URLs of vendor APIs, SMTP host, addresses).
    settings: Mapped[dict[str, Any]]
    #: A Fernet token of the JSON object of secret settings; ``None`` when there are none.
    secrets: Mapped[str | None] = mapped_column(Text)
    #: Names of the secret settings the token holds (so reads need no key).
    secret_names: Mapped[list[Any]]
    send_resolved: Mapped[bool]
    #: Retryable failures in a row; deliveries pause while ``paused_until`` is ahead.
    failures: Mapped[int]
    paused_until: Mapped[float | None]
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    created_at: Mapped[float]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(100))


class NotificationRow(Base):
    """One notification in the durable outbox: ``pending``, then ``delivered`` or ``dead``."""

    __tablename__ = "notify_outbox"
    __table_args__ = (
        Index("ix_notify_outbox_state_due", "state", "next_attempt_at"),
        Index("ix_notify_outbox_key", "receiver", "dedup_key", "id"),
        Index("ix_notify_outbox_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    receiver: Mapped[str] = mapped_column(String(NAME_LENGTH))
    dedup_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    #: ``firing``, ``resolved`` or ``acknowledged``.
    status: Mapped[str] = mapped_column(String(16))
    group_key: Mapped[str] = mapped_column(Text)
    #: ``alerts``, ``group_labels``, ``common_labels``, ``common_annotations``, ``external_url``.
    payload: Mapped[dict[str, Any]]
    #: Sent as ``Idempotency-Key`` by webhooks: the same on every attempt.
    idempotency_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float]
    #: Start of the retry window (creation, or the last manual retry).
    due_since: Mapped[float]
    next_attempt_at: Mapped[float]
    #: Until when a delivery run holds it (between claiming and recording).
    claimed_until: Mapped[float | None]
    attempts: Mapped[int]
    last_attempt_at: Mapped[float | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    #: When it was delivered or given up.
    finished_at: Mapped[float | None] = mapped_column(index=True)


class AttemptRow(Base):
    """One delivery attempt of a notification and what came of it."""

    __tablename__ = "notify_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("notify_outbox.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[float]
    #: ``delivered``, ``retry`` or ``dead``.
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None]
    detail: Mapped[str] = mapped_column(String(ERROR_LENGTH))
