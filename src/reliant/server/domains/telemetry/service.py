"""Telemetry use cases: store an SDK batch (upsert-merge), read series, summaries, instances.

Use cases take a session and the time, never commit, and import no web framework.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from reliant.agent.protocol import BUCKET_SECONDS, LATENCY_BOUNDS
from reliant.server.domains.telemetry import rollup, store
from reliant.server.domains.telemetry.models import (
    GROUP,
    GROUP_START,
    KEY_COLUMNS,
    ROLLUPS,
    InstanceRow,
)
from reliant.server.domains.telemetry.reader import Batch
from reliant.server.events import NewEvent, Severity, append_many

#: Points a series has when the caller gives no step.
DEFAULT_POINTS = 360
#: Most points a series may have.
MAX_POINTS = 1440
#: The quantiles every point reports.
QUANTILES = (0.5, 0.95, 0.99)


@dataclass(slots=True)
class _Sum:
    count: int
    sum: float
    histogram: list[int]

    def add(self, count: int, total: float, histogram: Sequence[int]) -> None:
        self.count += count
        self.sum += total
        for i, n in enumerate(histogram):
            self.histogram[i] += n


def ingest(session: Session, batch: Batch, *, now: float) -> tuple[int, int]:
    """Store one SDK batch: merge its points into the rollups, record the instance, log events.

    Args:
        batch: the validated batch.
        now: the server's clock (the instance's ``last_seen``, the events' ``received_at``).

    Returns:
        ``(points stored, events stored)``.
    """
    points = batch.telemetry
    store.write(session, batch, store.merge(batch.service, points), now=now)
    events = batch.events
    if events:
        append_many(
            session,
            [
                NewEvent(
                    kind=e.kind,
                    service=batch.service,
                    severity=e.severity or Severity.INFO,
                    attributes={**e.attributes, "name": e.name, "instance": batch.instance},
                    trace_id=e.trace_id,
                    time=e.time,
                )
                for e in events
            ],
            now=now,
            source="sdk",
        )
    return len(points), len(events)


#: Each outcome's group among a stored row's columns, outcomes in name order (as ``cells``
#: returns them).
_CELL_GROUPS = sorted((outcome, len(KEY_COLUMNS) + start) for outcome, start in GROUP_START.items())


def cells(
    session: Session,
    service: str,
    *,
    since: float,
    until: float,
    operations: Sequence[str] | None = None,
) -> list[tuple[str, rollup.Cell]]:
    """The cells of ``service`` whose bucket starts in ``[since, until)``.

    A cell is one outcome of a stored row, for each outcome that row has received points of.

    Returns:
        ``(operation, cell)`` pairs, ordered by operation, bucket and outcome.
    """
    columns = ROLLUPS.c
    query: Select[Any] = (
        select(ROLLUPS)
        .where(
            columns.service == service,
            columns.bucket_start >= math.floor(since),
            columns.bucket_start < until,
        )
        .order_by(columns.operation, columns.bucket_start)
    )
    if operations is not None:
        query = query.where(columns.operation.in_(list(operations)))
    out = []
    for row in session.execute(query):
        for outcome, at in _CELL_GROUPS:
            if row[at] is not None:
                cell = rollup.Cell(
                    row[2], outcome, row[at], row[at + 1], list(row[at + 2 : at + GROUP])
                )
                out.append((row[1], cell))
    return out


def default_step(since: float, until: float) -> int:
    """The step giving about :data:`DEFAULT_POINTS` points over ``[since, until)``."""
    span = max(until - since, 1.0)
    return max(BUCKET_SECONDS, math.ceil(span / DEFAULT_POINTS / BUCKET_SECONDS) * BUCKET_SECONDS)


def _latency(histogram: Sequence[int]) -> dict[str, float | None]:
    p50, p95, p99 = (rollup.quantile(histogram, q) for q in QUANTILES)
    return {"p50": p50, "p95": p95, "p99": p99}


def series(
    session: Session,
    service: str,
    *,
    since: float,
    until: float,
    step: int,
    operation: str | None = None,
) -> dict[str, Any]:
    """A service's telemetry per operation: totals, points per step, points per outcome.

    ``since`` is aligned down to ``step``; every step in range has a point (zero when idle).
    Errors are calls whose outcome is not ``success``; quantiles cover every outcome.

    Raises:
        ValueError: a bad range or step (the message says which and how to fix it).
    """
    if step <= 0 or step % BUCKET_SECONDS:
        raise ValueError(f"step must be a positive multiple of {BUCKET_SECONDS} seconds")
    if until <= since:
        raise ValueError("until must be after since")
    start = rollup.align(since, step)
    points = math.ceil((until - start) / step)
    if points > MAX_POINTS:
        least = math.ceil((until - start) / MAX_POINTS / BUCKET_SECONDS) * BUCKET_SECONDS
        raise ValueError(
            f"{points} points asked, at most {MAX_POINTS}: use a larger step "
            f"(at least {least} seconds) or a shorter range"
        )
    times = [start + i * step for i in range(points)]
    size = len(LATENCY_BOUNDS) + 1
    grouped: dict[str, dict[str, dict[float, _Sum]]] = {}
    operations = None if operation is None else [operation]
    for op, cell in cells(session, service, since=start, until=until, operations=operations):
        by_time = grouped.setdefault(op, {}).setdefault(cell.outcome, {})
        t = rollup.align(cell.bucket_start, step)
        found = by_time.setdefault(t, _Sum(0, 0.0, [0] * size))
        found.add(cell.count, cell.sum, cell.histogram)
    out = [_operation(op, grouped[op], times, size) for op in sorted(grouped)]
    return {
        "service": service,
        "since": start,
        "until": until,
        "step": step,
        "bounds": list(LATENCY_BOUNDS),
        "operations": out,
    }


def _count_good(by_outcome: dict[str, _Sum]) -> tuple[int, int]:
    count = sum(s.count for s in by_outcome.values())
    good = sum(s.count for o, s in by_outcome.items() if o in rollup.GOOD_OUTCOMES)
    return count, good


def _operation(
    name: str, outcomes: dict[str, dict[float, _Sum]], times: list[float], size: int
) -> dict[str, Any]:
    zero = _Sum(0, 0.0, [0] * size)
    points = []
    for t in times:
        at = {outcome: by_time.get(t, zero) for outcome, by_time in outcomes.items()}
        count, good = _count_good(at)
        histogram = rollup.sum_histograms((s.histogram for s in at.values()), size)
        points.append(
            {
                "time": t,
                "count": count,
                "errors": count - good,
                "error_ratio": rollup.error_ratio(good, count),
                **_latency(histogram),
            }
        )
    whole = {outcome: _Sum(0, 0.0, [0] * size) for outcome in outcomes}
    for outcome, by_time in outcomes.items():
        for s in by_time.values():
            whole[outcome].add(s.count, s.sum, s.histogram)
    total, good_total = _count_good(whole)
    histogram = rollup.sum_histograms((s.histogram for s in whole.values()), size)
    series_ = [
        {
            "outcome": outcome,
            "points": [
                {
                    "time": t,
                    "count": (s := by_time.get(t, zero)).count,
                    "sum": s.sum,
                    **_latency(s.histogram),
                }
                for t in times
            ],
        }
        for outcome, by_time in sorted(outcomes.items())
    ]
    return {
        "operation": name,
        "totals": {
            "count": total,
            "errors": total - good_total,
            "error_ratio": rollup.error_ratio(good_total, total),
            **_latency(histogram),
        },
        "points": points,
        "outcomes": series_,
    }


@dataclass(frozen=True, slots=True)
class Summary:
    """A service's calls over a time range, all operations together.

    Attributes:
        requests: calls counted.
        errors: calls whose outcome is not ``success``.
        error_ratio: ``errors / requests`` (``None`` without calls).
        p50, p95, p99: latency quantiles in seconds (``None`` without calls).
    """

    requests: int
    errors: int
    error_ratio: float | None
    p50: float | None
    p95: float | None
    p99: float | None


def summary(session: Session, service: str, since: float, until: float) -> Summary:
    """Requests, errors, error ratio and latency quantiles of ``service`` in ``[since, until)``."""
    found = [cell for _, cell in cells(session, service, since=since, until=until)]
    good, total = rollup.good_total(found, since=-math.inf, until=math.inf)
    histogram = rollup.sum_histograms((c.histogram for c in found), len(LATENCY_BOUNDS) + 1)
    latency = _latency(histogram)
    return Summary(
        requests=total,
        errors=total - good,
        error_ratio=rollup.error_ratio(good, total),
        p50=latency["p50"],
        p95=latency["p95"],
        p99=latency["p99"],
    )


def instances(
    session: Session, service: str, *, limit: int, after: tuple[float, str] | None = None
) -> tuple[list[InstanceRow], tuple[float, str] | None]:
    """A page of a service's SDK instances, most recently seen first.

    Args:
        after: the ``(last_seen, instance)`` of the previous page's last item.

    Returns:
        the page and the position of its last item when more follow (else ``None``).
    """
    query = (
        select(InstanceRow)
        .where(InstanceRow.service == service)
        .order_by(InstanceRow.last_seen.desc(), InstanceRow.instance)
        .limit(limit + 1)
    )
    if after is not None:
        seen, name = after
        query = query.where(
            or_(
                InstanceRow.last_seen < seen,
                and_(InstanceRow.last_seen == seen, InstanceRow.instance > name),
            )
        )
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].last_seen, rows[-1].instance) if more and rows else None
