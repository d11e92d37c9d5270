"""Use cases of SLOs: read, create or replace, delete, status and history.

Writers take a :class:`Recorder` — the request's ``Ctx`` or anything shaped like it — and
record every real change twice: an audit record (before/after) and an event
(``slo.created`` / ``slo.updated`` / ``slo.deleted``). Nothing here commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.db.text import unstorable
from reliant.server.domains import telemetry
from reliant.server.domains.slo import cycle, history, snapshots
from reliant.server.domains.slo.assess import Assessment
from reliant.server.domains.slo.evaluate import count
from reliant.server.domains.slo.models import SLORow, SLOStatusRow
from reliant.server.events import Severity
from reliant.spec import slo_budget as math_
from reliant.spec.models import SLOSpec
from reliant.spec.slo_plan import PROMQL_REASON, Plan, compile_plan

#: ``managed_by`` of SLOs written through the REST API.
MANAGED_BY_API = "api"
#: ``managed_by`` of SLOs written by ``reliant apply``.
MANAGED_BY_SPEC = "spec"


class Principal(Protocol):
    """Who acts: only the name is needed."""

    @property
    def name(self) -> str: ...


class Recorder(Protocol):
    """What a writer needs from its caller: the transaction, the time, audit and events."""

    @property
    def session(self) -> Session: ...

    @property
    def now(self) -> float: ...

    @property
    def principal(self) -> Principal: ...

    def audit(
        self,
        action: str,
        target_kind: str,
        target_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None: ...

    def event(
        self,
        kind: str,
        *,
        service: str | None = None,
        severity: Severity = Severity.INFO,
        attributes: dict[str, Any] | None = None,
    ) -> None: ...


class SLOError(Exception):
    """A request that cannot be done as asked; ``status`` is its HTTP status."""

    status = 400
    title = "Bad Request"


class SLONotFound(SLOError):
    """No SLO has this name."""

    status = 404
    title = "Not Found"

    def __init__(self, name: str) -> None:
        super().__init__(f"no SLO named {name!r}; list them with GET /api/v1/slos")


class SLOExists(SLOError):
    """An SLO with this name exists already."""

    status = 409
    title = "Conflict"

    def __init__(self, name: str) -> None:
        super().__init__(f"an SLO named {name!r} exists; replace it with PUT /api/v1/slos/{name}")


class InvalidSLO(SLOError):
    """A spec the store cannot hold (NUL characters, lone surrogates)."""

    status = 422
    title = "Invalid Request"


@dataclass(frozen=True, slots=True)
class SLORecord:
    """An SLO as stored."""

    name: str
    spec: SLOSpec
    managed_by: str
    created_at: float
    updated_at: float
    updated_by: str

    def snapshot(self) -> dict[str, Any]:
        """The audited state: the spec as JSON plus ``managed_by``."""
        return {**self.spec.model_dump(mode="json"), "managed_by": self.managed_by}


def _record(row: SLORow) -> SLORecord:
    spec = SLOSpec.model_validate(row.spec)
    return SLORecord(row.name, spec, row.managed_by, row.created_at, row.updated_at, row.updated_by)


# -- reads -------------------------------------------------------------------------------


def get(session: Session, name: str) -> SLORecord | None:
    """The SLO named ``name``, or ``None``."""
    row = session.get(SLORow, name)
    return None if row is None else _record(row)


def require(session: Session, name: str) -> SLORecord:
    """The SLO named ``name``.

    Raises:
        SLONotFound: there is none.
    """
    record = get(session, name)
    if record is None:
        raise SLONotFound(name)
    return record


def page(
    session: Session, *, limit: int | None, after: str | None = None, service: str | None = None
) -> list[SLORecord]:
    """Up to ``limit`` SLOs sorted by name, after ``after``, of one service or all."""
    query = select(SLORow).order_by(SLORow.name).limit(limit)
    if after is not None:
        query = query.where(SLORow.name > after)
    if service is not None:
        query = query.where(SLORow.service == service)
    return [_record(row) for row in session.scalars(query)]


def snapshots_of(session: Session, names: list[str]) -> dict[str, SLOStatusRow]:
    """The latest evaluations of these SLOs, by name (those never evaluated are absent)."""
    if not names:
        return {}
    query = select(SLOStatusRow).where(SLOStatusRow.name.in_(names))
    return {row.name: row for row in session.scalars(query)}


def warnings(record: SLORecord) -> list[math_.SLOWarning]:
    """What looks wrong in an SLO (valid, but probably not what was meant)."""
    return compile_plan(record.name, record.spec).warnings(telemetry.ROLLUP_RETENTION)


# -- writes ------------------------------------------------------------------------------


def put(
    ctx: Recorder,
    name: str,
    spec: SLOSpec,
    *,
    managed_by: str | None = None,
    must_exist: bool | None = None,
) -> tuple[SLORecord, bool, bool]:
    """Create an SLO or replace its spec.

    Args:
        managed_by: ``"spec"`` when ``reliant apply`` writes; ``None`` for an API write,
            which keeps what the SLO had (a hand edit of a spec-managed SLO shows as drift)
            and marks a new one ``"api"``.
        must_exist: ``True``: only replace; ``False``: only create; ``None``: either.

    Returns:
        the SLO, whether it was created, and whether anything changed.

    Raises:
        SLONotFound: ``must_exist`` and there is no such SLO.
        SLOExists: ``must_exist is False`` and the SLO exists.
        InvalidSLO: the spec holds text the store cannot keep.
    """
    after = spec.model_dump(mode="json")
    if unstorable(after):
        raise InvalidSLO("text may not hold NUL characters (\\u0000) or lone surrogates")
    session = ctx.session
    row = session.get(SLORow, name, populate_existing=True, with_for_update=True)
    if row is None and must_exist:
        raise SLONotFound(name)
    if row is not None and must_exist is False:
        raise SLOExists(name)
    managed = managed_by or (MANAGED_BY_API if row is None else row.managed_by)
    if row is not None and row.spec == after and row.managed_by == managed:
        return _record(row), False, False
    before = None if row is None else _record(row)
    if row is None:
        row = SLORow(name=name, created_at=ctx.now)
        session.add(row)
    row.service = spec.service
    row.spec = after
    row.managed_by = managed
    row.updated_at = ctx.now
    row.updated_by = ctx.principal.name
    row.revision = secrets.randbits(62)
    session.flush()
    record = _record(row)
    if before is None:
        ctx.audit("slo.create", "slo", name, after=record.snapshot())
        attributes = {"slo": name, "objective": spec.objective, "managed_by": managed}
        ctx.event("slo.created", service=spec.service, attributes=attributes)
        return record, True, True
    old, new = before.snapshot(), record.snapshot()
    changed = [key for key in new if old.get(key) != new[key]]
    ctx.audit("slo.update", "slo", name, before=old, after=new)
    ctx.event("slo.updated", service=spec.service, attributes={"slo": name, "changed": changed})
    _resolve_moved_alerts(ctx, before, record)
    return record, False, True


def delete(ctx: Recorder, name: str) -> SLORecord:
    """Delete an SLO, its snapshot, and resolve its alerts that were firing.

    Raises:
        SLONotFound: there is no such SLO.
    """
    row = ctx.session.get(SLORow, name, with_for_update=True)
    if row is None:
        raise SLONotFound(name)
    record = _record(row)
    _resolve(ctx, compile_plan(name, record.spec), _firing(ctx.session, name))
    status = ctx.session.get(SLOStatusRow, name)
    if status is not None:
        ctx.session.delete(status)
    ctx.session.delete(row)
    ctx.audit("slo.delete", "slo", name, before=record.snapshot())
    ctx.event("slo.deleted", service=record.spec.service, attributes={"slo": name})
    return record


def _firing(session: Session, name: str) -> list[str]:
    status = session.get(SLOStatusRow, name)
    return [] if status is None or not status.firing else status.firing.split(",")


def _resolve_moved_alerts(ctx: Recorder, before: SLORecord, after: SLORecord) -> None:
    """Resolve firing alerts whose labels the update changed (they would stay open)."""
    old, new = compile_plan(before.name, before.spec), compile_plan(after.name, after.spec)
    moved = [
        s
        for s in _firing(ctx.session, before.name)
        if old.alert_labels(s) != new.alert_labels(s) or not new.evaluable
    ]
    _resolve(ctx, old, moved)


def _resolve(ctx: Recorder, plan: Plan, severities: list[str]) -> None:
    reporter = cycle.alerts_reporter()
    if reporter is None:
        return
    for severity in severities:
        reporter(
            ctx.session,
            labels=plan.alert_labels(severity),
            annotations=dict(plan.annotations),
            active=False,
            now=ctx.now,
            source=cycle.SOURCE,
        )


# -- status and history ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """An SLO's state: the assessment, or why there is none (``reason``)."""

    record: SLORecord
    plan: Plan
    assessment: Assessment | None
    reason: str
    evaluated_at: float
    warnings: list[math_.SLOWarning]


def status(session: Session, name: str, now: float) -> Status:
    """The SLO's latest evaluation, or one made now when the spec changed since.

    Raises:
        SLONotFound: there is no such SLO.
    """
    record = require(session, name)
    plan = compile_plan(name, record.spec)
    found = plan.warnings(telemetry.ROLLUP_RETENTION)
    if not plan.evaluable:
        return Status(record, plan, None, PROMQL_REASON, now, found)
    row = session.get(SLOStatusRow, name)
    if row is not None and row.evaluated and row.evaluated_at > record.updated_at:
        restored = snapshots.restore(plan, row)
        if restored is not None:
            return Status(record, plan, restored, "", row.evaluated_at, found)
    assessed = count(session, [plan], now)[0]
    return Status(record, plan, assessed, "", now, found)


def series(
    session: Session, name: str, *, since: float, until: float, step: int
) -> dict[str, Any] | None:
    """The SLO's budget and burn-rate history (``None`` for a PromQL SLI).

    Raises:
        SLONotFound: there is no such SLO.
        ValueError: a bad range or step.
    """
    record = require(session, name)
    plan = compile_plan(name, record.spec)
    if not plan.evaluable:
        history.check_range(since, until, step)
        return None
    return history.series(session, plan, since=since, until=until, step=step)
