"""Background jobs of notify: deliver the outbox, prune it, re-encrypt secrets after rotation."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reliant.server.domains.notify import crypto
from reliant.server.domains.notify.delivery import Deliverer
from reliant.server.domains.notify.models import AttemptRow, NotificationRow, ReceiverRow
from reliant.server.jobs import Job
from reliant.server.settings import Settings

log = logging.getLogger("reliant.server.notify")

#: Seconds between two delivery runs.
DELIVERY_INTERVAL = 2.0
#: Seconds a delivered notification stays listed.
DELIVERED_RETENTION = 7 * 86400.0
#: Seconds a dead letter stays listed (and re-sendable).
DEAD_RETENTION = 30 * 86400.0
#: Seconds between two retention runs, and between two re-encryption runs.
HOUSEKEEPING_INTERVAL = 3600.0


def prune(session: Session, now: float) -> None:
    """Delete delivered notifications and dead letters past their retention."""
    old = select(NotificationRow.id).where(
        (
            (NotificationRow.state == "delivered")
            & (NotificationRow.finished_at < now - DELIVERED_RETENTION)
        )
        | ((NotificationRow.state == "dead") & (NotificationRow.finished_at < now - DEAD_RETENTION))
    )
    ids = list(session.scalars(old.limit(5000)))
    if ids:
        session.execute(delete(AttemptRow).where(AttemptRow.notification_id.in_(ids)))
        session.execute(delete(NotificationRow).where(NotificationRow.id.in_(ids)))


def rekey(session: Session, now: float, env: Mapping[str, str] | None = None) -> int:
    """Re-encrypt receivers' secrets not under the current key; return how many.

    After a new key is put first in ``RELIANT_SECRET_KEY``, one run moves every secret to
    it; the old keys can then be removed.
    """
    try:
        ring = crypto.keyring(env)
    except crypto.SecretKeyError:
        return 0
    moved = 0
    query = select(ReceiverRow).where(ReceiverRow.secrets.is_not(None)).with_for_update()
    for row in session.scalars(query):
        assert row.secrets is not None
        if ring.is_current(row.secrets):
            continue
        try:
            row.secrets = ring.rotate(row.secrets)
        except crypto.UndecryptableError:
            log.warning("receiver %s: no configured key decrypts its secrets", row.name)
            continue
        moved += 1
    if moved:
        log.info("re-encrypted the secrets of %d receivers under the current key", moved)
    return moved


def _rekey(session: Session, now: float) -> None:
    rekey(session, now)


def jobs(settings: Settings) -> list[Job]:
    """The notify domain's jobs; warns when the secret key is missing or malformed."""
    if warning := crypto.key_warning():
        log.warning("reliant server: %s", warning)
    return [
        Job(name="notify.deliver", interval=DELIVERY_INTERVAL, run=Deliverer().run),
        Job(name="notify.retention", interval=HOUSEKEEPING_INTERVAL, run=prune),
        Job(name="notify.rekey", interval=HOUSEKEEPING_INTERVAL, run=_rekey),
    ]
