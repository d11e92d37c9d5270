"""Tables of the auth layer: API tokens, web sessions and the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base, BigId


class Token(Base):
    """An API token: only the SHA-256 of its secret is stored."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    #: For ingest tokens: the one service they may write for (``None``: any).
    service: Mapped[str | None] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float]
    created_by: Mapped[str | None] = mapped_column(String(100))
    last_used_at: Mapped[float | None]
    revoked_at: Mapped[float | None]


class WebSession(Base):
    """A browser session opened by logging in with a token; the cookie holds its secret."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(16), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float]
    expires_at: Mapped[float]


class AuditRecord(Base):
    """Who changed what, with the state before and after."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_target", "target_kind", "target_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    time: Mapped[float] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target_kind: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
