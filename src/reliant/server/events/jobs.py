"""The event log's background job: prune events older than the retention."""

from __future__ import annotations

from sqlalchemy.orm import Session

from reliant.server.events.retention import prune, retention
from reliant.server.jobs import Job
from reliant.server.settings import Settings

#: Seconds between two prune runs (each deletes at most ``PRUNE_BATCH`` events).
PRUNE_INTERVAL = 10.0
PRUNE_JOB = "events.retention"


def jobs(settings: Settings) -> list[Job]:
    """The retention job, reading the runtime retention (or the settings' default) each run."""

    def run(session: Session, now: float) -> None:
        prune(session, now=now, seconds=retention(session, settings.event_retention).seconds)

    return [Job(name=PRUNE_JOB, interval=PRUNE_INTERVAL, run=run)]
