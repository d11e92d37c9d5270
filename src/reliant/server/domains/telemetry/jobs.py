"""Background job of telemetry: delete rollups and instances older than the retention."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from reliant.server.domains.telemetry.models import ROLLUPS, InstanceRow
from reliant.server.jobs import Job
from reliant.server.settings import Settings

#: Seconds a rollup is kept: longer than the 30-day SLO windows that read it.
ROLLUP_RETENTION = 35 * 86400.0
#: Seconds an instance that stopped pushing stays listed.
INSTANCE_RETENTION = 7 * 86400.0
#: Seconds between two retention runs.
RETENTION_INTERVAL = 3600.0


def prune(session: Session, now: float) -> None:
    """Delete rollups and instances past their retention."""
    session.execute(delete(ROLLUPS).where(ROLLUPS.c.bucket_start < now - ROLLUP_RETENTION))
    session.execute(delete(InstanceRow).where(InstanceRow.last_seen < now - INSTANCE_RETENTION))


def jobs(settings: Settings) -> list[Job]:
    """The telemetry domain's jobs."""
    return [Job(name="telemetry.retention", interval=RETENTION_INTERVAL, run=prune)]
