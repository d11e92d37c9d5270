"""Background jobs of alerts: the dispatcher every second, retention every ten minutes.

``alerts.dispatch`` (every :data:`DISPATCH_INTERVAL` seconds) runs one pass of
:mod:`dispatch`: group timings are honoured to within one interval. ``alerts.retention``
deletes resolved alerts after :data:`RESOLVED_RETENTION`, expired silences after
:data:`silencing.RETENTION` and notification log entries past their expiry.
"""

from __future__ import annotations

import functools

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reliant.server.domains.alerts import dispatch, service, silencing
from reliant.server.domains.alerts.models import (
    AlertGroupMemberRow,
    AlertRow,
    NotificationLogRow,
    SilenceRow,
)
from reliant.server.jobs import Job
from reliant.server.settings import Settings

#: Seconds between two dispatcher passes.
DISPATCH_INTERVAL = 1.0
#: Seconds between two retention runs.
RETENTION_INTERVAL = 600.0
#: Seconds a resolved alert stays listed (its history stays in the event log).
RESOLVED_RETENTION = 86400.0


def dispatch_pass(session: Session, now: float, *, public_url: str = "") -> None:
    """One dispatcher pass, notifying through on-call: a receiver that names an escalation
    policy pages (links to ``public_url``), any other goes to the notify outbox."""
    from reliant.server.domains import oncall  # lazily: on-call imports the notify facade

    dispatch.run(session, now, notify=functools.partial(oncall.route, public_url=public_url))


def retention(session: Session, now: float) -> None:
    """Delete resolved alerts, expired silences and log entries past their retention."""
    grouped = select(AlertGroupMemberRow.fingerprint)
    session.execute(
        delete(AlertRow).where(
            AlertRow.state == service.RESOLVED,
            AlertRow.updated_at < now - RESOLVED_RETENTION,
            AlertRow.resolved_at < now - RESOLVED_RETENTION,
            AlertRow.fingerprint.not_in(grouped),
        )
    )
    session.execute(delete(SilenceRow).where(SilenceRow.ends_at < now - silencing.RETENTION))
    session.execute(delete(NotificationLogRow).where(NotificationLogRow.expires_at < now))


def jobs(settings: Settings) -> list[Job]:
    """The alerts domain's jobs."""
    return [
        Job(
            name="alerts.dispatch",
            interval=DISPATCH_INTERVAL,
            run=functools.partial(dispatch_pass, public_url=settings.public_url),
        ),
        Job(name="alerts.retention", interval=RETENTION_INTERVAL, run=retention),
    ]
