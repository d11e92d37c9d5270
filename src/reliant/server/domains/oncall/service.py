"""Use cases of schedules, their overrides and escalation policies. Nothing here commits.

Writers take a :class:`Recorder` — the request's ``Ctx`` or anything shaped like it — and
record every real change twice: an audit record (before/after) and an event. Pages and
escalation are in :mod:`paging`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reliant.server.db.text import unstorable
from reliant.server.domains.notify import get_receiver
from reliant.server.domains.oncall import rotation
from reliant.server.domains.oncall.models import OverrideRow, PolicyRow, ScheduleRow
from reliant.server.events import Severity
from reliant.spec.models import EscalationPolicySpec, ScheduleSpec

#: ``managed_by`` of objects written through the REST API.
MANAGED_BY_API = "api"
#: ``managed_by`` of objects written by ``reliant apply``.
MANAGED_BY_SPEC = "spec"
#: Longest override, in seconds.
MAX_OVERRIDE = 366 * 86400.0
#: Longest range of shifts one request may ask for, in seconds.
MAX_RANGE = 92 * 86400.0


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


class OnCallError(Exception):
    """A request that cannot be done as asked; ``status`` is its HTTP status."""

    status = 400
    title = "Bad Request"


class NotFound(OnCallError):
    """The schedule, override, policy or page does not exist."""

    status = 404
    title = "Not Found"


class Exists(OnCallError):
    """An object of that name exists already."""

    status = 409
    title = "Conflict"


class Conflict(OnCallError):
    """The request clashes with the current state."""

    status = 409
    title = "Conflict"


class Invalid(OnCallError):
    """The request is well-formed but cannot be stored (e.g. an unknown schedule)."""

    status = 422
    title = "Invalid Request"


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A schedule as stored."""

    name: str
    spec: ScheduleSpec
    managed_by: str
    created_at: float
    updated_at: float
    updated_by: str

    def snapshot(self) -> dict[str, Any]:
        """The audited state: the spec as JSON plus ``managed_by``."""
        return {**self.spec.model_dump(mode="json"), "managed_by": self.managed_by}


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """An escalation policy as stored."""

    name: str
    spec: EscalationPolicySpec
    managed_by: str
    created_at: float
    updated_at: float
    updated_by: str

    def snapshot(self) -> dict[str, Any]:
        """The audited state: the spec as JSON plus ``managed_by``."""
        return {**self.spec.model_dump(mode="json"), "managed_by": self.managed_by}


def _schedule(row: ScheduleRow) -> ScheduleRecord:
    spec = ScheduleSpec.model_validate(row.spec)
    return ScheduleRecord(
        row.name, spec, row.managed_by, row.created_at, row.updated_at, row.updated_by
    )


def _policy(row: PolicyRow) -> PolicyRecord:
    spec = EscalationPolicySpec.model_validate(row.spec)
    return PolicyRecord(
        row.name, spec, row.managed_by, row.created_at, row.updated_at, row.updated_by
    )


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [k for k in after if before.get(k) != after[k]]


def unknown_receivers(session: Session, names: list[str]) -> list[str]:
    """The names among ``names`` that no notify receiver has, sorted."""
    return sorted({n for n in names if get_receiver(session, n) is None})


# -- schedules ---------------------------------------------------------------------------


def get_schedule(session: Session, name: str) -> ScheduleRecord | None:
    """The schedule named ``name``, or ``None``."""
    row = session.get(ScheduleRow, name)
    return None if row is None else _schedule(row)


def require_schedule(session: Session, name: str) -> ScheduleRecord:
    """The schedule named ``name``.

    Raises:
        NotFound: there is none.
    """
    found = get_schedule(session, name)
    if found is None:
        raise NotFound(f"no schedule named {name!r}; list them with GET /api/v1/oncall/schedules")
    return found


def schedules(
    session: Session, *, limit: int | None = None, after: str | None = None
) -> list[ScheduleRecord]:
    """Up to ``limit`` schedules sorted by name, after ``after``."""
    query = select(ScheduleRow).order_by(ScheduleRow.name).limit(limit)
    if after is not None:
        query = query.where(ScheduleRow.name > after)
    return [_schedule(row) for row in session.scalars(query)]


def schedule_warnings(session: Session, spec: ScheduleSpec) -> list[str]:
    """Members that are not notify receivers (nobody could be paged through them)."""
    members = [m for r in spec.rotations for m in r.members]
    return [
        f"member {m!r} is not a notify receiver yet: create it with PUT /api/v1/receivers/{m}"
        for m in unknown_receivers(session, members)
    ]


def put_schedule(
    ctx: Recorder,
    name: str,
    spec: ScheduleSpec,
    *,
    managed_by: str | None = None,
    must_exist: bool | None = None,
) -> tuple[ScheduleRecord, bool]:
    """Create a schedule or replace its spec; returns it and whether it was created.

    Args:
        managed_by: ``"spec"`` when ``reliant apply`` writes; ``None`` for an API write,
            which keeps what the schedule had and marks a new one ``"api"``.
        must_exist: ``True``: only replace; ``False``: only create; ``None``: either.

    Raises:
        NotFound, Exists: against ``must_exist``.
        Invalid: the spec holds text the store cannot keep.
    """
    after = spec.model_dump(mode="json")
    if unstorable(after):
        raise Invalid("text may not hold NUL characters (\\u0000) or lone surrogates")
    row = ctx.session.get(ScheduleRow, name, populate_existing=True, with_for_update=True)
    if row is None and must_exist:
        raise NotFound(f"no schedule named {name!r}")
    if row is not None and must_exist is False:
        raise Exists(f"a schedule named {name!r} exists; replace it with PUT")
    managed = managed_by or (MANAGED_BY_API if row is None else row.managed_by)
    if row is not None and row.spec == after and row.managed_by == managed:
        return _schedule(row), False
    before = None if row is None else _schedule(row).snapshot()
    if row is None:
        row = ScheduleRow(name=name, created_at=ctx.now)
        ctx.session.add(row)
    row.spec = after
    row.managed_by = managed
    row.updated_at = ctx.now
    row.updated_by = ctx.principal.name[:200]
    record = _schedule(row)
    if before is None:
        ctx.audit("schedule.create", "schedule", name, after=record.snapshot())
        attributes = {"schedule": name, "timezone": spec.timezone, "managed_by": managed}
        ctx.event("oncall.schedule.created", attributes=attributes)
        return record, True
    changed = _changed(before, record.snapshot())
    ctx.audit("schedule.update", "schedule", name, before=before, after=record.snapshot())
    ctx.event("oncall.schedule.updated", attributes={"schedule": name, "changed": changed})
    return record, False


def delete_schedule(ctx: Recorder, name: str) -> None:
    """Delete a schedule and its overrides.

    Raises:
        NotFound: there is no such schedule.
        Conflict: an escalation policy pages through it.
    """
    row = ctx.session.get(ScheduleRow, name, with_for_update=True)
    if row is None:
        raise NotFound(f"no schedule named {name!r}")
    users = [p.name for p in policies(ctx.session) if name in _schedules_of(p.spec)]
    if users:
        raise Conflict(
            f"escalation policies {', '.join(users)} page through schedule {name!r}: "
            "change them first"
        )
    before = _schedule(row).snapshot()
    result = ctx.session.execute(delete(OverrideRow).where(OverrideRow.schedule == name))
    dropped = int(getattr(result, "rowcount", 0) or 0)
    ctx.session.delete(row)
    ctx.audit("schedule.delete", "schedule", name, before=before)
    ctx.event("oncall.schedule.deleted", attributes={"schedule": name, "overrides": dropped})


# -- overrides ---------------------------------------------------------------------------


def overrides(
    session: Session,
    schedule: str,
    *,
    ending_after: float,
    limit: int | None = None,
    after_id: int | None = None,
) -> list[OverrideRow]:
    """Overrides of ``schedule`` ending after ``ending_after``, oldest first (by id)."""
    query = (
        select(OverrideRow)
        .where(OverrideRow.schedule == schedule, OverrideRow.ends_at > ending_after)
        .order_by(OverrideRow.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(OverrideRow.id > after_id)
    return list(session.scalars(query))


def overlapping(
    session: Session, schedule: str, since: float, until: float
) -> list[rotation.Override]:
    """Overrides of ``schedule`` overlapping ``[since, until)``, the later-made last."""
    query = (
        select(OverrideRow)
        .where(
            OverrideRow.schedule == schedule,
            OverrideRow.ends_at > since,
            OverrideRow.starts_at < until,
        )
        .order_by(OverrideRow.id)
    )
    return [
        rotation.Override(member=o.member, start=o.starts_at, end=o.ends_at)
        for o in session.scalars(query)
    ]


def override_out(row: OverrideRow) -> dict[str, Any]:
    """An override as the API, audit and events show it."""
    return {
        "id": row.id,
        "schedule": row.schedule,
        "member": row.member,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


def add_override(
    ctx: Recorder, schedule: str, *, member: str, starts_at: float, ends_at: float
) -> tuple[OverrideRow, list[str]]:
    """Put ``member`` on call in ``[starts_at, ends_at)``; returns it and warnings.

    Raises:
        NotFound: there is no such schedule.
        Invalid: the end is not after the start or now, or it lasts over 366 days.
    """
    require_schedule(ctx.session, schedule)
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at")
    if ends_at <= ctx.now:
        raise Invalid("ends_at is in the past: an override must end after now")
    if ends_at - starts_at > MAX_OVERRIDE:
        raise Invalid("an override lasts at most 366 days")
    row = OverrideRow(
        schedule=schedule,
        member=member,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=ctx.now,
        created_by=ctx.principal.name[:200],
    )
    ctx.session.add(row)
    ctx.session.flush()
    shown = override_out(row)
    ctx.audit("override.create", "schedule", schedule, after=shown)
    ctx.event("oncall.override.created", attributes=shown)
    warnings = [
        f"member {m!r} is not a notify receiver yet: create it with PUT /api/v1/receivers/{m}"
        for m in unknown_receivers(ctx.session, [member])
    ]
    return row, warnings


def delete_override(ctx: Recorder, schedule: str, override_id: int) -> None:
    """Delete an override.

    Raises:
        NotFound: the schedule has no such override.
    """
    row = ctx.session.get(OverrideRow, override_id, with_for_update=True)
    if row is None or row.schedule != schedule:
        raise NotFound(f"schedule {schedule!r} has no override {override_id}")
    shown = override_out(row)
    ctx.session.delete(row)
    ctx.audit("override.delete", "schedule", schedule, before=shown)
    ctx.event("oncall.override.deleted", attributes=shown)


def shifts(session: Session, name: str, since: float, until: float) -> list[rotation.Shift]:
    """Who is on call in ``[since, until)`` on schedule ``name``.

    Raises:
        NotFound: there is no such schedule.
        Invalid: ``until`` is not after ``since``, or the range is over 92 days.
    """
    record = require_schedule(session, name)
    if until <= since:
        raise Invalid("until must be after since")
    if until - since > MAX_RANGE:
        raise Invalid("ask for at most 92 days of shifts at a time")
    return rotation.shifts(record.spec, overlapping(session, name, since, until), since, until)


def outlooks(session: Session, now: float) -> list[tuple[ScheduleRecord, rotation.Outlook]]:
    """Every schedule with who is on call now, until when, and who is next."""
    horizon = now + rotation.HORIZONS[-1]
    return [
        (
            record,
            rotation.outlook(
                record.spec,
                overlapping(session, record.name, now - rotation.HORIZONS[0], horizon),
                now,
            ),
        )
        for record in schedules(session)
    ]


def on_call(session: Session, name: str, now: float) -> str | None:
    """The member on call now on schedule ``name`` (``None``: nobody, or no such schedule)."""
    record = get_schedule(session, name)
    if record is None:
        return None
    found = overlapping(session, name, now, now + 1.0)
    return rotation.who_is_on_call(record.spec, found, now)


# -- escalation policies -----------------------------------------------------------------


def _schedules_of(spec: EscalationPolicySpec) -> list[str]:
    return [t.schedule for level in spec.levels for t in level.targets if t.schedule]


def _receivers_of(spec: EscalationPolicySpec) -> list[str]:
    return [t.receiver for level in spec.levels for t in level.targets if t.receiver]


def get_policy(session: Session, name: str) -> PolicyRecord | None:
    """The escalation policy named ``name``, or ``None``."""
    row = session.get(PolicyRow, name)
    return None if row is None else _policy(row)


def require_policy(session: Session, name: str) -> PolicyRecord:
    """The escalation policy named ``name``.

    Raises:
        NotFound: there is none.
    """
    found = get_policy(session, name)
    if found is None:
        raise NotFound(
            f"no escalation policy named {name!r}; list them with GET /api/v1/oncall/policies"
        )
    return found


def policies(
    session: Session, *, limit: int | None = None, after: str | None = None
) -> list[PolicyRecord]:
    """Up to ``limit`` escalation policies sorted by name, after ``after``."""
    query = select(PolicyRow).order_by(PolicyRow.name).limit(limit)
    if after is not None:
        query = query.where(PolicyRow.name > after)
    return [_policy(row) for row in session.scalars(query)]


def policy_warnings(session: Session, spec: EscalationPolicySpec) -> list[str]:
    """Receivers the policy names that do not exist (yet)."""
    return [
        f"receiver {r!r} does not exist yet: create it with PUT /api/v1/receivers/{r}"
        for r in unknown_receivers(session, _receivers_of(spec))
    ]


def check_schedules(session: Session, spec: EscalationPolicySpec) -> None:
    """Refuse a policy naming a schedule that does not exist.

    Raises:
        Invalid: naming the unknown schedules and listing the known ones.
    """
    wanted = sorted(set(_schedules_of(spec)))
    if not wanted:
        return
    known = set(session.scalars(select(ScheduleRow.name).where(ScheduleRow.name.in_(wanted))))
    missing = [s for s in wanted if s not in known]
    if missing:
        every = [r.name for r in schedules(session)]
        raise Invalid(
            f"unknown schedule{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
            f" (known: {', '.join(every) or 'none'}): create it first"
        )


def put_policy(
    ctx: Recorder,
    name: str,
    spec: EscalationPolicySpec,
    *,
    managed_by: str | None = None,
    must_exist: bool | None = None,
) -> tuple[PolicyRecord, bool, list[str]]:
    """Create an escalation policy or replace its spec.

    Returns:
        the policy, whether it was created, and warnings (unknown receivers).

    Raises:
        NotFound, Exists: against ``must_exist``.
        Invalid: it names an unknown schedule, or holds text the store cannot keep.
    """
    after = spec.model_dump(mode="json")
    if unstorable(after):
        raise Invalid("text may not hold NUL characters (\\u0000) or lone surrogates")
    check_schedules(ctx.session, spec)
    warnings = policy_warnings(ctx.session, spec)
    row = ctx.session.get(PolicyRow, name, populate_existing=True, with_for_update=True)
    if row is None and must_exist:
        raise NotFound(f"no escalation policy named {name!r}")
    if row is not None and must_exist is False:
        raise Exists(f"an escalation policy named {name!r} exists; replace it with PUT")
    managed = managed_by or (MANAGED_BY_API if row is None else row.managed_by)
    if row is not None and row.spec == after and row.managed_by == managed:
        return _policy(row), False, warnings
    before = None if row is None else _policy(row).snapshot()
    if row is None:
        row = PolicyRow(name=name, created_at=ctx.now)
        ctx.session.add(row)
    row.spec = after
    row.managed_by = managed
    row.updated_at = ctx.now
    row.updated_by = ctx.principal.name[:200]
    record = _policy(row)
    if before is None:
        ctx.audit("escalation_policy.create", "escalation_policy", name, after=record.snapshot())
        attributes = {
            "policy": name,
            "levels": len(spec.levels),
            "managed_by": managed,
            "warnings": warnings,
        }
        ctx.event("oncall.policy.created", attributes=attributes)
        return record, True, warnings
    changed = _changed(before, record.snapshot())
    ctx.audit(
        "escalation_policy.update",
        "escalation_policy",
        name,
        before=before,
        after=record.snapshot(),
    )
    attributes = {"policy": name, "changed": changed, "warnings": warnings}
    ctx.event("oncall.policy.updated", attributes=attributes)
    return record, False, warnings


def delete_policy(ctx: Recorder, name: str) -> None:
    """Delete an escalation policy; its open pages stop escalating.

    Raises:
        NotFound: there is no such policy.
    """
    row = ctx.session.get(PolicyRow, name, with_for_update=True)
    if row is None:
        raise NotFound(f"no escalation policy named {name!r}")
    before = _policy(row).snapshot()
    ctx.session.delete(row)
    ctx.audit("escalation_policy.delete", "escalation_policy", name, before=before)
    ctx.event("oncall.policy.deleted", attributes={"policy": name})
