"""Background job of SLOs: evaluate every SLO, store snapshots, raise and resolve alerts."""

from __future__ import annotations

from sqlalchemy.orm import Session

from reliant.server.domains.slo.cycle import run_cycle
from reliant.server.domains.slo.evaluate import Counter, PlanCache
from reliant.server.jobs import Job
from reliant.server.settings import Settings

#: Seconds between two evaluations of every SLO.
EVALUATION_INTERVAL = 30.0
#: The job's name (also its lease's).
JOB_NAME = "slo.evaluate"


def jobs(settings: Settings) -> list[Job]:
    """The SLO domain's jobs; each app keeps its own compiled specs and window sums."""
    cache, counter = PlanCache(), Counter()

    def evaluate(session: Session, now: float) -> None:
        run_cycle(session, now, cache=cache, counter=counter)

    return [Job(name=JOB_NAME, interval=EVALUATION_INTERVAL, run=evaluate)]
