"""Reading what config writes left behind: versions, audit records, config.changed events."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from reliant.server.auth.models import AuditRecord
from reliant.server.db import transaction
from reliant.server.events import EventRow


def audit_trail(app: FastAPI) -> list[tuple[str, str, str]]:
    """(action, target kind, target id) of every audit record, oldest first."""
    with transaction(app.state.sessions) as session:
        rows = session.scalars(select(AuditRecord).order_by(AuditRecord.id))
        return [(r.action, r.target_kind, r.target_id) for r in rows if r.target_kind != "token"]


def changes(app: FastAPI) -> list[tuple[str | None, dict[str, Any]]]:
    """(service, attributes) of every config.changed event, oldest first."""
    with transaction(app.state.sessions) as session:
        rows = session.scalars(
            select(EventRow).where(EventRow.kind == "config.changed").order_by(EventRow.id)
        )
        return [(r.service, dict(r.attributes)) for r in rows]
