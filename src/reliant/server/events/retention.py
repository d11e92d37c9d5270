"""How long events are kept: the runtime setting, and pruning in bounded batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from reliant.server.events.models import EventRow, ServerSetting
from reliant.server.events.service import append

#: Key of the retention in ``server_settings``.
RETENTION_KEY = "event_retention"
#: Shortest retention an admin may set: an hour.
MIN_RETENTION = 3600.0
#: Longest retention an admin may set: a hundred years (i.e. keep everything).
MAX_RETENTION = 100 * 365 * 86400.0
#: Most events one prune run deletes, so a run's transaction stays short.
PRUNE_BATCH = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """The retention in force, and where it comes from.

    Attributes:
        seconds: events whose ``time`` is older than this are deleted.
        default: the process's ``Settings.event_retention``, used until an admin sets one.
        updated_at: when an admin last set it (``None``: the default is in force).
        updated_by: who set it.
    """

    seconds: float
    default: float
    updated_at: float | None = None
    updated_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The retention as the API shows it."""
        return {
            "seconds": self.seconds,
            "default": self.default,
            "source": "default" if self.updated_at is None else "runtime",
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


def retention(session: Session, default: float) -> Retention:
    """The retention in force: the stored setting, else ``default``."""
    row = session.get(ServerSetting, RETENTION_KEY)
    seconds = row.value.get("seconds") if row is not None else None
    if row is None or not isinstance(seconds, int | float):
        return Retention(seconds=default, default=default)
    return Retention(
        seconds=float(seconds),
        default=default,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def set_retention(
    session: Session, seconds: float, *, default: float, now: float, actor: str
) -> tuple[Retention, Retention]:
    """Store a new retention, shared by every replica from their next prune run.

    Returns:
        The retention before and after.

    Raises:
        ValueError: ``seconds`` is outside ``MIN_RETENTION..MAX_RETENTION``.
    """
    if not MIN_RETENTION <= seconds <= MAX_RETENTION:
        raise ValueError(
            f"seconds must be in {MIN_RETENTION:.0f}..{MAX_RETENTION:.0f} (an hour to 100 "
            f"years), got {seconds}"
        )
    before = retention(session, default)
    row = session.get(ServerSetting, RETENTION_KEY, with_for_update=True)
    if row is None:
        row = ServerSetting(key=RETENTION_KEY, value={}, updated_at=now, updated_by=actor)
        session.add(row)
    row.value = {"seconds": float(seconds)}
    row.updated_at = now
    row.updated_by = actor
    session.flush()
    return before, retention(session, default)


def prune(session: Session, *, now: float, seconds: float, batch: int = PRUNE_BATCH) -> int:
    """Delete up to ``batch`` events older than ``seconds``, oldest first.

    When it deleted any, it appends one ``events.pruned`` event with the count. The newest
    event is never deleted, so ids keep growing even on SQLite (which reuses the ids above
    the largest one left).

    Returns:
        How many events were deleted.
    """
    cutoff = now - seconds
    newest = select(func.max(EventRow.id)).scalar_subquery()
    doomed = (
        select(EventRow.id)
        .where(EventRow.time < cutoff, EventRow.id < newest)
        .order_by(EventRow.time)
        .limit(batch)
    )
    result = session.execute(
        delete(EventRow).where(EventRow.id.in_(doomed)),
        execution_options={"synchronize_session": False},
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        attributes = {"count": count, "before": cutoff, "retention": seconds}
        append(session, kind="events.pruned", now=now, attributes=attributes)
    return count
