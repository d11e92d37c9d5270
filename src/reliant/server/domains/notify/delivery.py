"""The outbox's delivery run: claim due notifications, send them, record what came of each.

A run has two phases. In the job's transaction it picks due rows (``SELECT … FOR UPDATE
SKIP LOCKED`` on PostgreSQL), builds each request and claims the row for
:data:`CLAIM_SECONDS`. Once that transaction has committed — so no database lock is held
across network calls, which matters for SQLite's single writer — it sends, then records
every outcome in a second transaction. A crash between the two leaves claims that expire;
the rows are sent again (at least once; receivers deduplicate by key).

Per receiver and dedup key, notifications go strictly in the order they were queued: one
is due only when no older one under the same key is pending, so a resolve never overtakes
its trigger. A receiver that fails in a retryable way is paused for the backoff; its other
notifications wait (without counting an attempt) rather than hammer it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, exists, or_, select
from sqlalchemy.orm import Session, aliased

from reliant.server.domains.notify import crypto, payloads
from reliant.server.domains.notify.models import (
    ERROR_LENGTH,
    AttemptRow,
    NotificationRow,
    ReceiverRow,
)
from reliant.server.domains.notify.outbox import (
    DEAD,
    DELIVERED,
    MAX_AGE,
    RETRY,
    Result,
    expired,
    next_wait,
)
from reliant.server.domains.notify.sender import Sender
from reliant.server.domains.notify.service import notification_of, receiver_settings
from reliant.server.events import Severity, append

log = logging.getLogger("reliant.server.notify")

#: Most notifications one run sends.
BATCH = 100
#: Seconds a claimed notification is left to its run before another run may take it.
CLAIM_SECONDS = 120.0
#: Seconds of sending per run; what is left is released for the next run.
SEND_BUDGET = 30.0
#: Longest service label carried onto the event.
SERVICE_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Claim:
    """A notification claimed by a run, with the request that delivers it."""

    id: int
    receiver: str
    out: payloads.HttpRequest | payloads.EmailOut


def due(session: Session, now: float, limit: int) -> list[NotificationRow]:
    """Pending, unclaimed notifications due by ``now``, oldest first, each the oldest
    pending under its receiver and dedup key; rows others hold are skipped (PostgreSQL)."""
    older = aliased(NotificationRow)
    blocked = exists().where(
        older.receiver == NotificationRow.receiver,
        older.dedup_key == NotificationRow.dedup_key,
        older.state == "pending",
        older.id < NotificationRow.id,
    )
    query = (
        select(NotificationRow)
        .where(
            NotificationRow.state == "pending",
            NotificationRow.next_attempt_at <= now,
            or_(NotificationRow.claimed_until.is_(None), NotificationRow.claimed_until <= now),
            ~blocked,
        )
        .order_by(NotificationRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=NotificationRow)
    )
    return list(session.scalars(query))


class Deliverer:
    """Sends what the outbox holds; ``run(session, now)`` is the job.

    Args:
        sender: what sends requests (the HTTP client and SMTP seam); when omitted, each
            run makes one and closes it.
        rng: randomness of the backoff jitter (seed it in tests).
        env: the environment the secret key is read from (``os.environ`` when omitted).
        batch: most notifications per run.
        budget: seconds of sending per run, measured on ``monotonic``.
        monotonic: the clock of the budget.
    """

    def __init__(
        self,
        *,
        sender: Sender | None = None,
        rng: random.Random | None = None,
        env: Mapping[str, str] | None = None,
        batch: int = BATCH,
        budget: float = SEND_BUDGET,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sender = sender
        self.rng = rng or random.Random()
        self.env = env
        self.batch = batch
        self.budget = budget
        self.monotonic = monotonic

    def run(self, session: Session, now: float) -> None:
        """One delivery run (the job's body)."""
        self.deliver(session, now)

    def deliver(self, session: Session, now: float) -> int:
        """Claim what is due in ``session``'s transaction; send once it commits.

        Returns:
            how many notifications were claimed.
        """
        claims = self.claim(session, now)
        if claims:
            engine = session.get_bind()
            assert isinstance(engine, Engine)

            def after_commit(_: Session) -> None:
                self.send(engine, claims, now)

            event.listen(session, "after_commit", after_commit, once=True)
        return len(claims)

    def claim(self, session: Session, now: float) -> list[Claim]:
        """Claim the due notifications worth sending; settle those that need no sending."""
        receivers: dict[str, ReceiverRow | None] = {}
        claims: list[Claim] = []
        for row in due(session, now, self.batch):
            if row.receiver not in receivers:
                receivers[row.receiver] = session.get(
                    ReceiverRow, row.receiver, populate_existing=True, with_for_update=True
                )
            receiver = receivers[row.receiver]
            if receiver is None:
                detail = f"no receiver named {row.receiver!r}: create it, then retry"
                self.record(session, row, None, _result(DEAD, detail), now)
            elif expired(row.due_since, now):
                last = row.last_error or receiver.last_error or "never attempted"
                reason = f"gave up after {MAX_AGE / 3600:g} h; last error: {last}"
                self._dead(session, row, receiver.type, reason, now)
            elif receiver.paused_until is not None and receiver.paused_until > now:
                continue  # waiting out the receiver's backoff
            else:
                built = self._build(receiver, row, now)
                if isinstance(built, Result):
                    self.record(session, row, receiver, built, now)
                else:
                    row.claimed_until = now + CLAIM_SECONDS
                    claims.append(Claim(id=row.id, receiver=receiver.name, out=built))
        return claims

    def _build(
        self, receiver: ReceiverRow, row: NotificationRow, now: float
    ) -> payloads.HttpRequest | payloads.EmailOut | Result:
        try:
            settings = receiver_settings(receiver, self.env)
        except (crypto.SecretKeyError, crypto.UndecryptableError) as exc:
            return _result(RETRY, str(exc))
        try:
            return payloads.build(receiver.type, settings, notification_of(row), now=now)
        except (KeyError, TypeError, ValueError) as exc:
            log.exception("cannot build notification %s for receiver %s", row.id, receiver.name)
            return _result(DEAD, f"cannot build the request: {type(exc).__name__}: {exc}")

    def send(self, engine: Engine, claims: list[Claim], now: float) -> None:
        """Send claimed notifications, then record the outcomes in a new transaction."""
        try:
            results = self._send_all(claims, now)
            with Session(engine) as session, session.begin():
                for claim in claims:
                    self._settle(session, claim, results.get(claim.id), now)
        except Exception:  # the claims expire and the rows are sent again
            log.exception("notification delivery failed; claimed notifications will be retried")

    def _send_all(self, claims: list[Claim], now: float) -> dict[int, Result]:
        if self.sender is None:
            with Sender() as sender:
                return self._send_with(sender, claims, now)
        return self._send_with(self.sender, claims, now)

    def _send_with(self, sender: Sender, claims: list[Claim], now: float) -> dict[int, Result]:
        results: dict[int, Result] = {}
        failing: set[str] = set()
        started = self.monotonic()
        for claim in claims:
            if claim.receiver in failing or self.monotonic() - started > self.budget:
                continue  # released unsent: the receiver is failing, or the run is too long
            results[claim.id] = result = sender.send(claim.out, now=now)
            if result.outcome == RETRY:
                failing.add(claim.receiver)
        return results

    def _settle(self, session: Session, claim: Claim, result: Result | None, now: float) -> None:
        row = session.get(NotificationRow, claim.id, populate_existing=True, with_for_update=True)
        if row is None or row.state != "pending" or row.claimed_until is None:
            return  # settled meanwhile (its receiver was deleted)
        row.claimed_until = None
        if result is not None:
            receiver = session.get(
                ReceiverRow, claim.receiver, populate_existing=True, with_for_update=True
            )
            self.record(session, row, receiver, result, now)

    def record(
        self,
        session: Session,
        row: NotificationRow,
        receiver: ReceiverRow | None,
        result: Result,
        now: float,
    ) -> None:
        """Record one attempt: delivered, retried after a backoff, or a dead letter."""
        outcome = result.outcome
        detail = result.detail[:ERROR_LENGTH]
        row.attempts += 1
        row.last_attempt_at = now
        row.last_status_code = result.status_code
        row.last_error = None if outcome == DELIVERED else detail
        if outcome == RETRY and receiver is not None:
            receiver.failures += 1
            wait = next_wait(receiver.failures, result, self.rng)
            receiver.paused_until = now + wait
            receiver.last_error = detail
            row.next_attempt_at = now + wait
            if expired(row.due_since, now + wait):
                outcome = DEAD
                detail = f"gave up after {MAX_AGE / 3600:g} h; last error: {detail}"
        session.add(
            AttemptRow(
                notification_id=row.id,
                at=now,
                outcome=outcome,
                status_code=result.status_code,
                detail=detail[:ERROR_LENGTH],
            )
        )
        kind = receiver.type if receiver is not None else ""
        if outcome == DELIVERED:
            row.state = "delivered"
            row.finished_at = now
            if receiver is not None:
                receiver.failures = 0
                receiver.paused_until = None
                receiver.last_error = None
            _event(
                session, "notification.delivered", row, kind, now, status_code=result.status_code
            )
        elif outcome == DEAD:
            if receiver is not None and result.outcome == DEAD:
                receiver.last_error = detail
            self._dead(session, row, kind, detail, now, status_code=result.status_code)

    def _dead(
        self,
        session: Session,
        row: NotificationRow,
        kind: str,
        reason: str,
        now: float,
        status_code: int | None = None,
    ) -> None:
        row.state = "dead"
        row.finished_at = now
        row.last_error = reason[:ERROR_LENGTH]
        attributes = {"status_code": status_code, "reason": row.last_error}
        _event(session, "notification.failed", row, kind, now, **attributes)


def _result(outcome: str, detail: str) -> Result:
    return Result(outcome=outcome, status_code=None, detail=detail)


def _event(
    session: Session,
    kind: str,
    row: NotificationRow,
    receiver_type: str,
    now: float,
    **extra: Any,
) -> None:
    service = row.payload.get("common_labels", {}).get("service")
    if not isinstance(service, str) or not 0 < len(service) <= SERVICE_LENGTH:
        service = None
    append(
        session,
        kind=kind,
        now=now,
        service=service,
        severity=Severity.INFO if kind == "notification.delivered" else Severity.ERROR,
        attributes={
            "id": row.id,
            "receiver": row.receiver,
            "type": receiver_type,
            "dedup_key": row.dedup_key,
            "status": row.status,
            "attempts": row.attempts,
            **extra,
        },
    )
