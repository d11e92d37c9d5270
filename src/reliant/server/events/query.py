"""Reading the event log: filters, pages newest first, and scans oldest first for streams."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from reliant.server.events.models import EventRow
from reliant.server.events.service import Severity, at_least

#: A kind: lowercase dotted words, e.g. ``circuit_breaker.state_changed``.
KIND_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"
KIND_MAX = 100
#: A kind filter: an exact kind, or a prefix glob such as ``breaker.*``.
_KIND_GLOB = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.\*$")
_KIND = re.compile(KIND_PATTERN)
#: Most values one filter parameter may repeat.
MAX_FILTER_VALUES = 50
#: Largest id the store can hold (64-bit signed).
MAX_ID = 2**63 - 1
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """Which events to read; empty fields match everything.

    Attributes:
        services: any of these services.
        kinds: any of these exact kinds or prefix globs (``breaker.*``).
        severity: this severity or a higher one.
        since: event ``time`` at or after (epoch seconds).
        until: event ``time`` before (epoch seconds).
    """

    services: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    severity: Severity | None = None
    since: float | None = None
    until: float | None = None

    def __post_init__(self) -> None:
        for name in ("services", "kinds"):
            if len(getattr(self, name)) > MAX_FILTER_VALUES:
                raise ValueError(f"{name[:-1]}: give at most {MAX_FILTER_VALUES} values")
        for kind in self.kinds:
            if len(kind) > KIND_MAX or not (_KIND.match(kind) or _KIND_GLOB.match(kind)):
                raise ValueError(
                    f"kind: {kind[:120]!r} is neither a kind (dotted lowercase words such as "
                    "'breaker.opened') nor a prefix glob such as 'breaker.*'"
                )

    def conditions(self) -> list[ColumnElement[bool]]:
        """The SQL conditions of this filter."""
        where: list[ColumnElement[bool]] = []
        if self.services:
            where.append(EventRow.service.in_(self.services))
        if self.kinds:
            exact = [k for k in self.kinds if not k.endswith("*")]
            globs = [k[:-1] for k in self.kinds if k.endswith("*")]
            where.append(
                or_(
                    *([EventRow.kind.in_(exact)] if exact else []),
                    *(EventRow.kind.startswith(g, autoescape=True) for g in globs),
                )
            )
        if self.severity is not None:
            where.append(EventRow.severity.in_(at_least(self.severity)))
        if self.since is not None:
            where.append(EventRow.time >= self.since)
        if self.until is not None:
            where.append(EventRow.time < self.until)
        return where


def parse_time(value: str, now: float) -> float:
    """Epoch seconds from epoch seconds, RFC 3339 (``2027-01-15T08:00:00Z``) or a duration
    ago (``30s``, ``15m``, ``1h``, ``7d``, ``2w``).

    Raises:
        ValueError: the value is none of those.
    """
    text = value.strip()
    if match := _DURATION.match(text):
        return now - float(match[1]) * _UNIT[match[2]]
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{value!r} is not a time: epoch seconds must be finite and >= 0")
        return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value[:60]!r} is not a time: give epoch seconds, RFC 3339 "
            "(2027-01-15T08:00:00Z) or a duration ago (30s, 15m, 1h, 7d)"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: add one, e.g. 'Z' or '+02:00'")
    return moment.timestamp()


def as_dict(row: EventRow) -> dict[str, Any]:
    """An event as the API shows it (docs/event-log.md)."""
    return {
        "id": row.id,
        "time": row.time,
        "kind": row.kind,
        "service": row.service,
        "severity": row.severity,
        "source": row.source,
        "attributes": row.attributes,
        "trace_id": row.trace_id,
        "received_at": row.received_at,
    }


def page(
    session: Session, flt: EventFilter, *, limit: int, before: int | None = None
) -> tuple[list[EventRow], bool]:
    """Up to ``limit`` matching events with ids below ``before``, newest first.

    Returns:
        The events, and whether more follow.
    """
    query = select(EventRow).where(*flt.conditions()).order_by(EventRow.id.desc())
    if before is not None:
        query = query.where(EventRow.id < before)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def newest_id(session: Session) -> int:
    """The id of the newest event (0 when the log is empty)."""
    return int(session.scalar(select(func.max(EventRow.id))) or 0)


def scan(session: Session, *, after: int, limit: int) -> list[tuple[int, float]]:
    """``(id, received_at)`` of the first ``limit`` events after ``after``, unfiltered."""
    query = (
        select(EventRow.id, EventRow.received_at)
        .where(EventRow.id > after)
        .order_by(EventRow.id)
        .limit(limit)
    )
    return [(int(i), float(r)) for i, r in session.execute(query)]


def between(
    session: Session, flt: EventFilter, *, after: int, upto: int, limit: int
) -> Sequence[EventRow]:
    """Matching events with ``after < id <= upto``, oldest first, at most ``limit``."""
    query = (
        select(EventRow)
        .where(EventRow.id > after, EventRow.id <= upto, *flt.conditions())
        .order_by(EventRow.id)
        .limit(limit)
    )
    return list(session.scalars(query))
