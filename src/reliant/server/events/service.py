"""Appending to the event log; every domain records its state changes through ``append``.

Appends join the caller's transaction. When that transaction commits, the live streams of
this process are woken (see ``hub.py``); other replicas' streams find the rows by polling.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from reliant.server.events.hub import HUB
from reliant.server.events.models import EventRow

#: ``session.info`` key marking a transaction that appended events.
_APPENDED = "reliant.events.appended"
#: Rows per INSERT statement on SQLite (8 parameters each, far under SQLite's 32 766).
_SQLITE_ROWS = 1000
_COLUMNS = "time, kind, service, severity, source, attributes, trace_id, received_at"
# PostgreSQL: the whole batch is one JSON parameter, unpacked into rows by the server, so
# the statement is short and alike for every batch (psycopg parses and prepares it once),
# where a VALUES list would be a long new statement per batch size for psycopg to parse.
_PG_INSERT_MANY = text(
    f"INSERT INTO events ({_COLUMNS})"
    " SELECT u.t, u.k, u.s, u.v, :source, u.a, u.r, :now FROM ROWS FROM (jsonb_to_recordset("
    "CAST(:rows AS jsonb)) AS (t float8, k text, s text, v text, a jsonb, r text))"
    " WITH ORDINALITY AS u(t, k, s, v, a, r, n) ORDER BY u.n RETURNING id"
)


class Severity(StrEnum):
    """How much an event matters, lowest first."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


def at_least(severity: Severity | str) -> list[str]:
    """The severities at or above ``severity``, e.g. warning → warning, error, critical."""
    rank = SEVERITY_RANK[Severity(severity)]
    return [str(s) for s in Severity if SEVERITY_RANK[s] >= rank]


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEvent:
    """One event to append with :func:`append_many` (fields as :func:`append`'s)."""

    kind: str
    service: str | None = None
    severity: Severity = Severity.INFO
    attributes: Mapping[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    time: float | None = None


class EventLike(Protocol):
    """What :func:`append_many` reads of an event: a :class:`NewEvent`, or any object with
    its fields (the event log's own validated API model is one)."""

    @property
    def kind(self) -> str: ...
    @property
    def service(self) -> str | None: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...
    @property
    def trace_id(self) -> str | None: ...
    @property
    def time(self) -> float | None: ...


def append(
    session: Session,
    *,
    kind: str,
    now: float,
    service: str | None = None,
    severity: Severity = Severity.INFO,
    source: str = "server",
    attributes: Mapping[str, Any] | None = None,
    trace_id: str | None = None,
    time: float | None = None,
) -> EventRow:
    """Append one event in the caller's transaction and return it (its ``id`` assigned).

    Args:
        kind: dotted kind, e.g. ``"breaker.opened"`` (see docs/events.md).
        now: the server's clock, recorded as ``received_at``.
        time: when it happened, if not now (e.g. the SDK's own timestamp).
        source: who reported it: ``"server"``, ``"sdk"``, ``"alertmanager"``, a user name.
    """
    row = EventRow(
        time=now if time is None else time,
        kind=kind,
        service=service,
        severity=str(severity),
        source=source,
        attributes=dict(attributes or {}),
        trace_id=trace_id,
        received_at=now,
    )
    session.add(row)
    session.flush()
    session.info[_APPENDED] = True
    return row


def append_many(
    session: Session,
    events: Sequence[EventLike],
    *,
    now: float,
    source: str,
    service: str | None = None,
) -> list[int]:
    """Append a batch of events in one statement, in the caller's transaction.

    Args:
        events: the events (:class:`NewEvent` or alike), in order.
        now: the server's clock: ``received_at``, and the time of events without one.
        source: who reported them (see :func:`append`).
        service: the service of the events that name none.

    Returns:
        The ids assigned, in the order of ``events`` (ascending).
    """
    if not events:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = _insert_postgresql(session, events, now=now, source=source, service=service)
    else:
        ids = _insert_sqlite(session, events, now=now, source=source, service=service)
    session.info[_APPENDED] = True
    return ids


@functools.lru_cache(maxsize=16)
def _sqlite_insert(rows: int) -> str:
    values = ",".join(["(?,?,?,?,?,?,?,?)"] * rows)
    return f"INSERT INTO events ({_COLUMNS}) VALUES {values} RETURNING id"


def _insert_sqlite(
    session: Session,
    events: Sequence[EventLike],
    *,
    now: float,
    source: str,
    service: str | None,
) -> list[int]:
    # The driver's own multi-row INSERT, where SQLAlchemy's would process every parameter
    # of every row in Python (much of the time of a 1000-event batch). Attributes are
    # stored as SQLAlchemy's JSON type stores them: json.dumps with its defaults.
    connection = session.connection()
    dumps = json.dumps
    ids: list[int] = []
    for start in range(0, len(events), _SQLITE_ROWS):
        chunk = events[start : start + _SQLITE_ROWS]
        params: list[Any] = []
        for e in chunk:
            params += (
                now if e.time is None else e.time,
                e.kind,
                service if e.service is None else e.service,
                str(e.severity),
                source,
                dumps(dict(e.attributes)),
                e.trace_id,
                now,
            )
        result = connection.exec_driver_sql(_sqlite_insert(len(chunk)), tuple(params))
        # Rows take ascending ids in VALUES order; RETURNING's order is not promised.
        ids += sorted(result.scalars())
    return ids


def _insert_postgresql(
    session: Session,
    events: Sequence[EventLike],
    *,
    now: float,
    source: str,
    service: str | None,
) -> list[int]:
    rows = json.dumps(
        [
            {
                "t": now if e.time is None else e.time,
                "k": e.kind,
                "s": service if e.service is None else e.service,
                "v": str(e.severity),
                "a": dict(e.attributes),
                "r": e.trace_id,
            }
            for e in events
        ]
    )
    result = session.execute(_PG_INSERT_MANY, {"rows": rows, "source": source, "now": now})
    # Rows are inserted in ORDER BY order, so their ids ascend in the order of ``events``
    # (as SQLAlchemy's own "insertmanyvalues" relies on); RETURNING's order is not promised.
    return sorted(result.scalars())


@event.listens_for(Session, "after_commit")
def _wake_streams(session: Session) -> None:
    # A rolled-back transaction keeps its mark until the session's next commit: one
    # needless wake-up then, which is harmless, where a missed one would add latency.
    if session.info.pop(_APPENDED, False):
        HUB.poke()
