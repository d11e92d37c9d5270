"""The audit log: every mutation records who did what, and the state before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from reliant.server.auth.models import AuditRecord
from reliant.server.auth.tokens import Principal


def record(
    session: Session,
    *,
    actor: Principal | str,
    action: str,
    target_kind: str,
    target_id: str,
    now: float,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one audit record in the caller's transaction.

    Args:
        actor: the principal acting, or a system name such as ``"system:apply"``.
        action: a dotted verb, e.g. ``"service.update"``.
        before: the target's state before (``None`` when created).
        after: the target's state after (``None`` when deleted).
    """
    entry = AuditRecord(
        time=now,
        actor=actor if isinstance(actor, str) else actor.name,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry
