"""Background job of on-call: escalate unacknowledged pages every ten seconds.

``oncall.escalate`` (every :data:`ESCALATE_INTERVAL` seconds) runs
:func:`~reliant.server.domains.oncall.paging.escalate`: a level's timeout is honoured to
within one interval. Links in its notifications point at ``Settings.public_url``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from reliant.server.domains.oncall import paging
from reliant.server.jobs import Job
from reliant.server.settings import Settings

#: Seconds between two escalation runs.
ESCALATE_INTERVAL = 10.0


def jobs(settings: Settings) -> list[Job]:
    """The on-call domain's jobs."""
    public_url = settings.public_url

    def escalate(session: Session, now: float) -> None:
        paging.escalate(session, now, public_url=public_url)

    return [Job(name="oncall.escalate", interval=ESCALATE_INTERVAL, run=escalate)]
