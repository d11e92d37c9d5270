"""Background job of postmortems: require postmortems of resolved incidents every 10 s."""

from __future__ import annotations

from sqlalchemy.orm import Session

from reliant.server.domains.postmortems import require
from reliant.server.jobs import Job
from reliant.server.settings import Settings

#: Seconds between two passes over the new resolutions.
REQUIRE_INTERVAL = 10.0
#: The job's name (also its lease's).
JOB_NAME = "postmortems.require"


def require_pass(session: Session, now: float) -> None:
    """One pass of :func:`reliant.server.domains.postmortems.require.run`."""
    require.run(session, now)


def jobs(settings: Settings) -> list[Job]:
    """The postmortems domain's jobs."""
    return [Job(name=JOB_NAME, interval=REQUIRE_INTERVAL, run=require_pass)]
