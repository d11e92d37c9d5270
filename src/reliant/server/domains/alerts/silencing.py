"""Silence use cases: create (also from an alert), expire, read. Nothing here commits.

Every change is audited and recorded as an event (``silence.created``, ``silence.expired``).
Expired silences stay readable for :data:`RETENTION` seconds, then the retention job deletes
them (Alertmanager keeps them 120 hours too).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from reliant.server.domains.alerts import silences as pure
from reliant.server.domains.alerts.matchers import parse_matchers
from reliant.server.domains.alerts.models import SilenceRow

if TYPE_CHECKING:
    from reliant.server.http import Ctx

#: Seconds an expired silence stays readable.
RETENTION = 120 * 3600.0
#: Longest comment kept.
MAX_COMMENT = 10_000


class SilenceError(ValueError):
    """A silence request that cannot be done; ``status`` is its HTTP status."""

    status = 422


class SilenceNotFound(SilenceError):
    """No silence has that id."""

    status = 404


class AlreadyExpired(SilenceError):
    """The silence has ended already."""

    status = 409


def as_silence(row: SilenceRow) -> pure.Silence | None:
    """The silence as the dispatcher uses it (``None`` if its matchers no longer parse)."""
    try:
        matchers = tuple(m for text in row.matchers for m in parse_matchers(str(text)))
    except ValueError:
        return None
    return pure.Silence(id=row.id, matchers=matchers, starts_at=row.starts_at, ends_at=row.ends_at)


def state(row: SilenceRow, now: float) -> str:
    """``pending``, ``active`` or ``expired`` at ``now``."""
    if now < row.starts_at:
        return pure.PENDING
    return pure.ACTIVE if now < row.ends_at else pure.EXPIRED


def snapshot(row: SilenceRow) -> dict[str, Any]:
    """The audited state of a silence."""
    return {
        "matchers": list(row.matchers),
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "created_by": row.created_by,
        "comment": row.comment,
    }


def create(
    ctx: Ctx,
    *,
    matchers: Sequence[str],
    ends_at: float,
    comment: str,
    starts_at: float | None = None,
    alert: str | None = None,
) -> SilenceRow:
    """Create a silence from ``starts_at`` (default: now; past times become now) to ``ends_at``.

    Args:
        alert: the fingerprint of the alert it was made from, for the event.

    Raises:
        SilenceError: bad matchers, matchers that all match the empty string, an end that
            is not after both now and the start, an empty comment.
    """
    try:
        parsed = pure.check_matchers(matchers)
    except ValueError as exc:
        raise SilenceError(str(exc)) from None
    begin = ctx.now if starts_at is None else max(starts_at, ctx.now)
    for name, value in (("starts_at", begin), ("ends_at", ends_at)):
        if not math.isfinite(value):
            raise SilenceError(f"{name}: must be a finite time (epoch seconds)")
    if ends_at <= begin:
        raise SilenceError("ends_at: must be after starts_at and after now")
    if not comment.strip() or len(comment) > MAX_COMMENT:
        raise SilenceError(f"comment: say why (1..{MAX_COMMENT} characters)")
    row = SilenceRow(
        id=str(uuid.uuid4()),
        matchers=[str(m) for m in parsed],
        starts_at=begin,
        ends_at=ends_at,
        created_by=ctx.principal.name[:100],
        comment=comment,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(row)
    ctx.audit("silence.create", "silence", row.id, after=snapshot(row))
    attributes = {"id": row.id, **snapshot(row), "alert": alert}
    ctx.event("silence.created", attributes=attributes)
    return row


def expire(ctx: Ctx, silence_id: str) -> SilenceRow:
    """End a silence now (a pending one never starts).

    Raises:
        SilenceNotFound: no such silence.
        AlreadyExpired: it has ended already.
    """
    row = ctx.session.get(SilenceRow, silence_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise SilenceNotFound(f"no silence with id {silence_id!r}")
    if state(row, ctx.now) == pure.EXPIRED:
        raise AlreadyExpired(f"silence {silence_id} expired at {row.ends_at}")
    before = snapshot(row)
    if state(row, ctx.now) == pure.PENDING:
        row.starts_at = ctx.now
    row.ends_at = ctx.now
    row.updated_at = ctx.now
    ctx.audit("silence.expire", "silence", row.id, before=before, after=snapshot(row))
    ctx.event("silence.expired", attributes={"id": row.id, "matchers": list(row.matchers)})
    return row


def get(session: Session, silence_id: str) -> SilenceRow | None:
    """The silence with ``silence_id``, if any."""
    return session.get(SilenceRow, silence_id)


def active(session: Session, now: float) -> list[pure.Silence]:
    """The silences active at ``now``."""
    query = select(SilenceRow).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    return [s for row in session.scalars(query) if (s := as_silence(row)) is not None]


def page(
    session: Session,
    *,
    now: float,
    states: Sequence[str] = (),
    limit: int,
    after: tuple[float, str] | None = None,
) -> tuple[list[SilenceRow], tuple[float, str] | None]:
    """Silences, newest first, in ``states``; and the position after the page."""
    query = select(SilenceRow)
    conditions = []
    if pure.PENDING in states:
        conditions.append(SilenceRow.starts_at > now)
    if pure.ACTIVE in states:
        conditions.append(and_(SilenceRow.starts_at <= now, SilenceRow.ends_at > now))
    if pure.EXPIRED in states:
        conditions.append(SilenceRow.ends_at <= now)
    if states:
        query = query.where(or_(*conditions))
    if after is not None:
        created, sid = after
        query = query.where(
            or_(
                SilenceRow.created_at < created,
                and_(SilenceRow.created_at == created, SilenceRow.id > sid),
            )
        )
    query = query.order_by(SilenceRow.created_at.desc(), SilenceRow.id).limit(limit + 1)
    rows = list(session.scalars(query))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1].created_at, rows[-1].id)
