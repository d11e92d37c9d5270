"""Reading the incidents the metrics are computed from, grouped by service, team or severity.

A team is the ``owner`` of a service in the catalog; an incident of several services counts
in each of their groups (and in each of their teams once). Incidents without services (or
whose services have no catalog entry, for teams) form the group ``null``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from reliant.server.domains import catalog
from reliant.server.domains.incidents import metrics
from reliant.server.domains.incidents.models import IncidentRow
from reliant.server.domains.incidents.service import services_by_incident

#: What the metrics may be grouped by.
GROUPS = ("service", "team", "severity")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """One step of a trend: ``[start, end)`` and its groups' metrics."""

    start: float
    end: float
    items: list[metrics.GroupMetrics]


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The metrics over a period, and their trend when buckets were asked for."""

    since: float
    until: float
    group_by: str | None
    bucket: str | None
    items: list[metrics.GroupMetrics]
    trend: list[Bucket] | None


def report(
    session: Session,
    *,
    since: float,
    until: float,
    group_by: str | None = None,
    bucket: str | None = None,
) -> Report:
    """MTTA, MTTR and MTBF over ``[since, until)`` per group, and per bucket.

    Raises:
        ValueError: ``since`` is not before ``until``, or too many buckets.
    """
    if not since < until:
        raise ValueError(f"since ({since}) must be before until ({until})")
    steps = metrics.buckets(since, until, bucket) if bucket is not None else None
    facts = load(session, since=since, until=until, group_by=group_by)
    return Report(
        since=since,
        until=until,
        group_by=group_by,
        bucket=bucket,
        items=metrics.compute(facts, since=since, until=until),
        trend=None
        if steps is None
        else [
            Bucket(start=s, end=e, items=metrics.compute(facts, since=s, until=e)) for s, e in steps
        ],
    )


def load(
    session: Session, *, since: float, until: float, group_by: str | None
) -> list[metrics.Facts]:
    """The incidents that matter to ``[since, until)`` with the groups each counts in."""
    query = (
        select(
            IncidentRow.id,
            IncidentRow.created_at,
            IncidentRow.acknowledged_at,
            IncidentRow.resolved_at,
            IncidentRow.severity,
        )
        .where(
            IncidentRow.merged_into.is_(None),
            IncidentRow.created_at < until,
            or_(IncidentRow.resolved_at.is_(None), IncidentRow.resolved_at > since),
        )
        .order_by(IncidentRow.id)
    )
    rows = list(session.execute(query))
    ids = [int(r.id) for r in rows]
    services = services_by_incident(session, ids) if group_by in ("service", "team") else {}
    owners = _owners(session, {s for names in services.values() for s in names})
    facts = []
    for row in rows:
        names = services.get(int(row.id), [])
        groups: Sequence[str | None]
        if group_by == "service":
            groups = names or [None]
        elif group_by == "team":
            groups = sorted({owners[n] for n in names if owners.get(n)}) or [None]
        elif group_by == "severity":
            groups = [row.severity]
        else:
            groups = [None]
        facts.append(
            metrics.Facts(
                id=int(row.id),
                created_at=row.created_at,
                acknowledged_at=row.acknowledged_at,
                resolved_at=row.resolved_at,
                groups=tuple(groups),
            )
        )
    return facts


def _owners(session: Session, names: set[str]) -> dict[str, str]:
    found = {}
    for name in sorted(names):
        record = catalog.get_service(session, name)
        if record is not None:
            found[name] = record.spec.owner
    return found
