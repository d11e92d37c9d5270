"""Background job of incidents: declare incidents from alerts every five seconds."""

from __future__ import annotations

from sqlalchemy.orm import Session

from reliant.server.domains.incidents import declare
from reliant.server.jobs import Job
from reliant.server.settings import Settings

#: Seconds between two passes over the new alert events.
DECLARE_INTERVAL = 5.0
#: The job's name (also its lease's).
JOB_NAME = "incidents.declare"


def declare_pass(session: Session, now: float) -> None:
    """One pass of :func:`reliant.server.domains.incidents.declare.run`."""
    declare.run(session, now)


def jobs(settings: Settings) -> list[Job]:
    """The incidents domain's jobs."""
    return [Job(name=JOB_NAME, interval=DECLARE_INTERVAL, run=declare_pass)]
