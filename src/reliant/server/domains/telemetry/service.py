"""Telemetry use cases: store an SDK batch (upsert-merge), read series, summaries, instances.

Use cases take a session and the time, never commit, and import no web framework.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, and_, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reliant.agent.protocol import BUCKET_SECONDS, LATENCY_BOUNDS
from reliant.server.domains.telemetry import rollup
from reliant.server.domains.telemetry.models import InstanceRow, RollupRow
from reliant.server.domains.telemetry.schemas import BatchIn, PointIn
from reliant.server.events import NewEvent, Severity, append_many

#: Points a series has when the caller gives no step.
DEFAULT_POINTS = 360
#: Most points a series may have.
MAX_POINTS = 1440
#: The quantiles every point reports.
QUANTILES = (0.5, 0.95, 0.99)

Key = tuple[str, str, int]  # operation, outcome, bucket start
ROLLUPS = cast(Table, RollupRow.__table__)
KEY_COLUMNS = ["service", "operation", "outcome", "bucket_start"]

# PostgreSQL adds histograms in SQL (element by element, in order), so concurrent batches
# for one bucket merge atomically in a single INSERT ... ON CONFLICT statement. The whole
# batch is one JSON parameter unpacked by the server into rows, inserted in the order
# given: one short statement (parsed and prepared once) where one per point, or a VALUES
# list as long as the batch, would cost the driver far more than the database.
_PG_UPSERT = text(
    "INSERT INTO telemetry_rollups"
    " (service, operation, outcome, bucket_start, count, sum, histogram)"
    " SELECT :service, u.o, u.r, u.b, u.c, u.s, u.h FROM ROWS FROM (jsonb_to_recordset("
    "CAST(:rows AS jsonb)) AS (o text, r text, b bigint, c bigint, s float8, h jsonb))"
    " WITH ORDINALITY AS u(o, r, b, c, s, h, n) ORDER BY u.n"
    " ON CONFLICT (service, operation, outcome, bucket_start) DO UPDATE SET"
    " count = telemetry_rollups.count + excluded.count,"
    " sum = telemetry_rollups.sum + excluded.sum,"
    " histogram = (SELECT jsonb_agg(a.v::bigint + b.v::bigint ORDER BY a.i)"
    " FROM jsonb_array_elements_text(telemetry_rollups.histogram) WITH ORDINALITY AS a(v, i)"
    " JOIN jsonb_array_elements_text(excluded.histogram) WITH ORDINALITY AS b(v, i)"
    " ON a.i = b.i)"
)


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


def ingest(session: Session, batch: BatchIn, *, now: float) -> tuple[int, int]:
    """Store one SDK batch: merge its points into the rollups, record the instance, log events.

    Args:
        batch: the validated batch.
        now: the server's clock (the instance's ``last_seen``, the events' ``received_at``).

    Returns:
        ``(points stored, events stored)``.
    """
    merged = _merge_points(batch.telemetry)
    if merged:
        if session.get_bind().dialect.name == "postgresql":
            _upsert_postgresql(session, batch.service, merged)
        else:
            _upsert_sqlite(session, batch.service, merged)
    _record_instance(session, batch, now)
    events = [
        NewEvent(
            kind=e.kind,
            service=batch.service,
            severity=e.severity or Severity.INFO,
            attributes={**e.attributes, "name": e.name, "instance": batch.instance},
            trace_id=e.trace_id,
            time=e.time,
        )
        for e in batch.events
    ]
    append_many(session, events, now=now, source="sdk")
    return len(batch.telemetry), len(batch.events)


def _merge_points(points: Iterable[PointIn]) -> dict[Key, _Sum]:
    """Points of one batch summed per key (one row may appear several times in a batch)."""
    merged: dict[Key, _Sum] = {}
    for p in points:
        key = (p.operation, p.outcome, p.bucket)
        found = merged.get(key)
        if found is None:
            merged[key] = _Sum(p.count, p.sum, list(p.histogram))
        else:
            found.add(p.count, p.sum, p.histogram)
    return merged


def _values(service: str, merged: dict[Key, _Sum]) -> list[dict[str, Any]]:
    # Sorted: concurrent batches lock the same rows in the same order (no deadlock).
    return [
        {
            "service": service,
            "operation": op,
            "outcome": outcome,
            "bucket_start": bucket,
            "count": s.count,
            "sum": s.sum,
            "histogram": s.histogram,
        }
        for (op, outcome, bucket), s in sorted(merged.items())
    ]


def _upsert_postgresql(session: Session, service: str, merged: dict[Key, _Sum]) -> None:
    # Sorted: concurrent batches lock the same rows in the same order (no deadlock).
    rows = [
        {"o": op, "r": outcome, "b": bucket, "c": s.count, "s": s.sum, "h": s.histogram}
        for (op, outcome, bucket), s in sorted(merged.items())
    ]
    session.execute(_PG_UPSERT, {"service": service, "rows": json.dumps(rows)})


def _upsert_sqlite(session: Session, service: str, merged: dict[Key, _Sum]) -> None:
    # The transaction holds SQLite's write lock from BEGIN IMMEDIATE: read, add, write is safe.
    buckets = [bucket for _, _, bucket in merged]
    existing = session.execute(
        select(ROLLUPS).where(
            RollupRow.service == service,
            RollupRow.operation.in_({op for op, _, _ in merged}),
            RollupRow.bucket_start.between(min(buckets), max(buckets)),
        )
    ).mappings()
    for row in existing:
        found = merged.get((row["operation"], row["outcome"], row["bucket_start"]))
        if found is not None:
            found.add(row["count"], row["sum"], row["histogram"])
    insert = sqlite.insert(ROLLUPS)
    statement = insert.on_conflict_do_update(
        index_elements=KEY_COLUMNS,
        set_={
            "count": insert.excluded.count,
            "sum": insert.excluded.sum,
            "histogram": insert.excluded.histogram,
        },
    )
    session.execute(statement, _values(service, merged))


def _record_instance(session: Session, batch: BatchIn, now: float) -> None:
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(InstanceRow).values(
        service=batch.service,
        instance=batch.instance,
        sdk=batch.sdk,
        first_seen=now,
        last_seen=now,
        dropped=batch.dropped,
    )
    greatest = func.greatest if dialect == "postgresql" else func.max
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["service", "instance"],
            set_={
                "sdk": insert.excluded.sdk,
                "last_seen": insert.excluded.last_seen,
                # Cumulative per instance: a retried older batch must not lower it.
                "dropped": greatest(InstanceRow.dropped, insert.excluded.dropped),
            },
        )
    )


def cells(
    session: Session,
    service: str,
    *,
    since: float,
    until: float,
    operations: Sequence[str] | None = None,
) -> list[tuple[str, rollup.Cell]]:
    """The rollup rows of ``service`` whose bucket starts in ``[since, until)``.

    Returns:
        ``(operation, cell)`` pairs, ordered by operation, bucket and outcome.
    """
    query: Select[Any] = (
        select(ROLLUPS)
        .where(
            RollupRow.service == service,
            RollupRow.bucket_start >= math.floor(since),
            RollupRow.bucket_start < until,
        )
        .order_by(RollupRow.operation, RollupRow.bucket_start, RollupRow.outcome)
    )
    if operations is not None:
        query = query.where(RollupRow.operation.in_(list(operations)))
    return [
        (
            r["operation"],
            rollup.Cell(r["bucket_start"], r["outcome"], r["count"], r["sum"], r["histogram"]),
        )
        for r in session.execute(query).mappings()
    ]


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
