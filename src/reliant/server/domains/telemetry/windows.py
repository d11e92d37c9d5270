"""Grouped reads of the rollups for many operations at once (the SLO evaluator's queries).

Each function reads every operation of the given services with statements grouped by
``service, operation`` and a time interval, so evaluating thousands of SLOs costs a few
queries, not one per SLO and window. Counts are exact sums of the stored rollups; a range
``[since, until)`` holds the buckets that *start* inside it.

Sums come as one list per operation (see :func:`layout`): the calls of each outcome of
:data:`OUTCOMES`, then for each requested bound the calls of each outcome that took at
most that long (``bounds`` are indices into ``LATENCY_BOUNDS``: a bound is a bucket edge,
so these counts are exact).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from reliant.agent.protocol import OUTCOMES
from reliant.server.domains.telemetry.models import HISTOGRAM_SIZE

#: ``(service, operation)``.
Key = tuple[str, str]
#: Operation → sums laid out as :func:`layout` says.
Sums = dict[Key, list[int]]


def layout(bounds: Sequence[int]) -> list[tuple[str, int | None]]:
    """What each position of a sums list counts: ``(outcome, None)`` for its calls,
    ``(outcome, bound)`` for its calls at most ``LATENCY_BOUNDS[bound]`` long."""
    return [(o, None) for o in OUTCOMES] + [(o, b) for b in bounds for o in OUTCOMES]


#: Ranges at most this long are read through the ``bucket_start`` index on SQLite (which
#: otherwise may pick a skip-scan of the primary key: a seek per operation and outcome).
SHORT = 3600
_BUCKET_INDEX = "ix_telemetry_rollups_bucket_start"


def _sums(dialect: str, bounds: Sequence[int]) -> str:
    """The SELECT list of the sums (:func:`layout`), as SQL text (every value is a literal)."""
    # PostgreSQL's sum(bigint) is numeric: cast back so the driver answers ints. An
    # outcome's columns are NULL in rows without its calls; sum() skips them.
    total = "CAST(sum({v}) AS BIGINT)" if dialect == "postgresql" else "sum({v})"
    columns = [total.format(v=f"{o}_count") for o in OUTCOMES]
    for bound in bounds:
        if not 0 <= bound < HISTOGRAM_SIZE:
            raise ValueError(f"histogram bound index must be in [0, {HISTOGRAM_SIZE}), got {bound}")
        for o in OUTCOMES:
            at_most = " + ".join(f"{o}_h{i}" for i in range(int(bound) + 1))
            columns.append(total.format(v=at_most))
    return ", ".join(columns)


def _services(services: Collection[str] | None) -> tuple[str, dict[str, Any]]:
    if services is None:
        return "", {}
    return " AND service IN :services", {"services": sorted(services)}


def range_sums(
    session: Session,
    *,
    ranges: Sequence[tuple[int, int]],
    bounds: Sequence[int] = (),
    services: Collection[str] | None = None,
) -> list[Sums]:
    """Calls of every operation in each range ``[since, until)``, in one statement.

    Ranges may overlap or nest: the rows are grouped by the elementary intervals between
    all the ranges' edges (each row falls in one, read once) and summed into every range
    holding it. A range asked for twice gets the same mapping twice.

    Args:
        ranges: ``(since, until)`` bucket-start bounds, integers; empty ranges are allowed.
        bounds: histogram bound indices to count calls at most that long for.
        services: read only these services' rollups (``None``: every service).

    Returns:
        for each range, in order: operation → its sums (:func:`layout`); the lists are the
        caller's to keep, but shared between equal ranges.
    """
    unique = sorted({(lo, hi) for lo, hi in ranges if lo < hi})
    found = _unique_sums(session, unique, bounds, services)
    empty: Sums = {}
    return [found[unique.index(r)] if r in unique else empty for r in ranges]


def _unique_sums(
    session: Session,
    ranges: list[tuple[int, int]],
    bounds: Sequence[int],
    services: Collection[str] | None,
) -> list[Sums]:
    out: list[Sums] = [{} for _ in ranges]
    if not ranges or (services is not None and not services):
        return out
    edges = sorted({e for r in ranges for e in r})
    # Which requested ranges hold each elementary interval [edges[i], edges[i + 1]).
    holders = [
        [j for j, (lo, hi) in enumerate(ranges) if lo <= edges[i] and edges[i + 1] <= hi]
        for i in range(len(edges) - 1)
    ]
    dialect = session.get_bind().dialect.name
    sums = _sums(dialect, bounds)
    where, params = _services(services)
    # One small GROUP BY per interval, glued with UNION ALL: each streams through a short
    # range (SQLite sorts per branch, not one big sort keyed by an interval expression).
    branches = []
    for i, held in enumerate(holders):
        if held:
            lo, hi = edges[i], edges[i + 1]
            hint = (
                f" INDEXED BY {_BUCKET_INDEX}" if dialect == "sqlite" and hi - lo <= SHORT else ""
            )
            branches.append(
                f"SELECT service, operation, {i} AS interval, {sums}"
                f" FROM telemetry_rollups{hint}"
                f" WHERE bucket_start >= :lo{i} AND bucket_start < :hi{i}{where}"
                " GROUP BY service, operation"
            )
            params[f"lo{i}"], params[f"hi{i}"] = lo, hi
    query = text(" UNION ALL ".join(branches))
    if services is not None:
        query = query.bindparams(bindparam("services", expanding=True))
    for row in session.execute(query, params):
        key_ = (row[0], row[1])
        values = [v or 0 for v in row[3:]]
        targets = holders[row[2]]
        for j in targets:
            found = out[j].get(key_)
            if found is None:
                # A list of its own per range: callers may add into it.
                out[j][key_] = values if len(targets) == 1 else list(values)
            else:
                found[:] = [a + b for a, b in zip(found, values, strict=True)]
    return out


def slice_sums(
    session: Session,
    *,
    since: float,
    until: float,
    origin: int,
    step: int,
    bounds: Sequence[int] = (),
    services: Collection[str] | None = None,
    operation: str | None = None,
) -> dict[Key, dict[int, list[int]]]:
    """Calls of every operation per slice of ``step`` seconds, counted from ``origin``.

    Only buckets starting in ``[since, until)`` are read; slice ``i`` holds the buckets
    starting in ``[origin + i * step, origin + (i + 1) * step)``. ``operation`` reads only
    that operation (of ``services``; one service's history reads its primary-key range).

    Returns:
        operation → slice index → its sums (:func:`layout`).

    Raises:
        ValueError: ``step`` is not positive or ``origin`` is after ``since``.
    """
    if step <= 0:
        raise ValueError(f"slice step must be a positive number of seconds, got {step}")
    if origin > since:
        raise ValueError("slice origin must not be after since")
    out: dict[Key, dict[int, list[int]]] = {}
    if services is not None and not services:
        return out
    where, params = _services(services)
    if operation is not None:
        where += " AND operation = :operation"
        params["operation"] = operation
    query = text(
        f"SELECT service, operation, (bucket_start - :origin) / :step AS slice,"
        f" {_sums(session.get_bind().dialect.name, bounds)} FROM telemetry_rollups"
        f" WHERE bucket_start >= :since AND bucket_start < :until{where}"
        " GROUP BY service, operation, slice"
    )
    if services is not None:
        query = query.bindparams(bindparam("services", expanding=True))
    params.update(
        origin=int(origin), step=int(step), since=math.ceil(since), until=math.ceil(until)
    )
    for row in session.execute(query, params):
        out.setdefault((row[0], row[1]), {})[int(row[2])] = [v or 0 for v in row[3:]]
    return out
