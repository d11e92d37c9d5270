"""Helpers shared by the catalog tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.auth.models import AuditRecord
from reliant.server.db import make_engine
from reliant.server.events import EventRow


def spec(owner: str = "team-a", **fields: Any) -> dict[str, Any]:
    """A valid ServiceSpec body."""
    return {"owner": owner, **fields}


def put(client: TestClient, name: str, **fields: Any) -> dict[str, Any]:
    """PUT a service as the admin and return the answer's body."""
    response = client.put(f"/api/v1/services/{name}", json=spec(**fields))
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def audit_of(db_url: str, name: str) -> list[dict[str, Any]]:
    """The audit records about service ``name``, oldest first."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            query = (
                select(AuditRecord)
                .where(AuditRecord.target_kind == "service", AuditRecord.target_id == name)
                .order_by(AuditRecord.id)
            )
            return [
                {"actor": r.actor, "action": r.action, "before": r.before, "after": r.after}
                for r in session.scalars(query)
            ]
    finally:
        engine.dispose()


def events_of(db_url: str, name: str) -> list[dict[str, Any]]:
    """The events about service ``name``, oldest first."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            query = select(EventRow).where(EventRow.service == name).order_by(EventRow.id)
            return [
                {"kind": r.kind, "source": r.source, "time": r.time, "attributes": r.attributes}
                for r in session.scalars(query)
            ]
    finally:
        engine.dispose()
