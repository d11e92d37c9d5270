"""Evaluation snapshots: one row per SLO with the counts it was last judged on.

Storing counts (not derived figures) lets the status endpoint rebuild the whole
assessment with the pure functions, from one row, exactly as the evaluator saw it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from reliant.server.domains.slo.assess import Assessment, Counted, assess
from reliant.server.domains.slo.evaluate import Skipped
from reliant.server.domains.slo.models import SLORow, SLOStatusRow
from reliant.spec import slo_budget as math_
from reliant.spec.slo_plan import Plan

#: Rows per upsert statement on PostgreSQL.
CHUNK = 5000


#: Columns of a snapshot row, in the order :func:`values` gives them.
COLUMNS = (
    "name", "evaluated_at", "evaluated", "reason", "period_start", "period_end", "good",
    "total", "events", "budget_remaining", "windows", "firing", "exhausted",
)  # fmt: skip
Row = tuple[Any, ...]


def values(a: Assessment) -> Row:
    """The snapshot row of an assessment."""
    return (
        a.plan.name,
        a.now,
        True,
        "",
        a.period.start,
        a.period.end,
        a.counted.good,
        a.counted.total,
        a.counted.events,
        a.budget.remaining,
        ",".join(map(str, chain.from_iterable(a.windows[w] for w in a.plan.lookbacks))),
        ",".join(a.firing),
        a.budget.exhausted,
    )


def skipped_values(s: Skipped, now: float) -> Row:
    """The snapshot row of an SLO that is not evaluated natively."""
    period = s.plan.period(now) if s.plan is not None else math_.Period(now, now)
    return (
        s.name,
        now,
        False,
        s.reason[:500],
        period.start,
        period.end,
        0,
        0,
        0,
        1.0,
        "",
        "",
        False,
    )


_TYPES = {
    "name": "text", "evaluated_at": "float8", "evaluated": "boolean", "reason": "text",
    "period_start": "float8", "period_end": "float8", "good": "bigint", "total": "bigint",
    "events": "bigint", "budget_remaining": "float8", "windows": "text", "firing": "text",
    "exhausted": "boolean",
}  # fmt: skip
_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "name")
_SQLITE_UPSERT = (
    f"INSERT INTO slo_status ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    f" ON CONFLICT (name) DO UPDATE SET {_UPDATE}"
)
# One statement per chunk on PostgreSQL: each column travels as ONE text parameter, its
# values joined by a unit separator that no name, count or flag contains, which the server
# splits and casts (psycopg's per-element array dumping cost more than judging the SLOs);
# a trailing separator keeps a one-row chunk of "" from splitting into no element at all.
# The columns every row of a cycle shares (the time, whether evaluated, why not) travel
# once, as scalars.
SEPARATOR = "\x1f"
_SHARED = ("evaluated_at", "evaluated", "reason")
_VARYING = tuple(c for c in COLUMNS if c not in _SHARED)
_PG_UPSERT = text(
    f"INSERT INTO slo_status ({', '.join(COLUMNS)}) SELECT "
    + ", ".join(f"CAST(:{c} AS {_TYPES[c]})" if c in _SHARED else f"r.{c}" for c in COLUMNS)
    + " FROM unnest("
    + ", ".join(
        f"CAST((string_to_array(:{c}, chr(31)))[1:CAST(:n AS int)] AS {_TYPES[c]}[])"
        for c in _VARYING
    )
    + f") AS r({', '.join(_VARYING)}) ON CONFLICT (name) DO UPDATE SET {_UPDATE}"
)


def _text(value: Any) -> str:
    """A value as PostgreSQL's input syntax for its column type reads it."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return str(value)


def _joined(values: Sequence[Any]) -> str:
    text_ = SEPARATOR.join(map(_text, values)) + SEPARATOR
    if text_.count(SEPARATOR) != len(values):
        raise ValueError("a snapshot value contains the unit separator")
    return text_


def store(session: Session, rows: Sequence[Row]) -> None:
    """Insert or replace snapshot rows (as :func:`values` makes them), in one lock order."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: str(r[0]))
    if session.get_bind().dialect.name != "postgresql":
        session.connection().exec_driver_sql(_SQLITE_UPSERT, ordered)
        return
    shared = [COLUMNS.index(c) for c in _SHARED]
    varying = [COLUMNS.index(c) for c in _VARYING]
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in ordered:
        groups.setdefault(tuple(row[i] for i in shared), []).append(row)
    for values_, group in groups.items():
        for i in range(0, len(group), CHUNK):
            chunk = group[i : i + CHUNK]
            params: dict[str, Any] = dict(zip(_SHARED, values_, strict=True))
            params["n"] = len(chunk)
            params.update(
                (c, _joined([r[j] for r in chunk])) for c, j in zip(_VARYING, varying, strict=True)
            )
            session.execute(_PG_UPSERT, params)


def previous(session: Session) -> dict[str, tuple[str, bool]]:
    """Each SLO's firing severities (comma-separated) and exhaustion at its last evaluation."""
    query = select(SLOStatusRow.name, SLOStatusRow.firing, SLOStatusRow.exhausted)
    return {name: (firing, bool(exhausted)) for name, firing, exhausted in session.execute(query)}


def prune(session: Session) -> None:
    """Delete snapshots of SLOs that no longer exist."""
    session.execute(delete(SLOStatusRow).where(SLOStatusRow.name.not_in(select(SLORow.name))))


def restore(plan: Plan, row: SLOStatusRow) -> Assessment | None:
    """The assessment a snapshot stands for under ``plan``, or ``None`` when the snapshot
    was made under windows other than the plan's (its spec changed since)."""
    flat = [int(n) for n in row.windows.split(",")] if row.windows else []
    if len(flat) != 3 * len(plan.lookbacks):
        return None
    windows = {
        w: Counted(flat[3 * i], flat[3 * i + 1], flat[3 * i + 2])
        for i, w in enumerate(plan.lookbacks)
    }
    return assess(
        plan,
        row.evaluated_at,
        math_.Period(row.period_start, row.period_end),
        Counted(row.good, row.total, row.events),
        windows,
    )
