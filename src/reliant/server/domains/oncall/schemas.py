"""The API shapes of ``/api/v1/oncall``: schedules, overrides, shifts, policies and pages.

Request bodies of schedules and policies are the kinds' spec models
(:class:`~reliant.spec.models.ScheduleSpec`, :class:`~reliant.spec.models.EscalationPolicySpec`).
Times are epoch seconds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reliant.server.domains.oncall import rotation
from reliant.server.domains.oncall.models import OverrideRow, PageRow
from reliant.server.domains.oncall.service import PolicyRecord, ScheduleRecord
from reliant.spec.models import NAME_PATTERN, EscalationPolicySpec, ScheduleSpec

PageState = Literal["triggered", "acknowledged", "resolved"]
#: Latest time a request may name (year 5138), as other routes.
MAX_TIME = 1e11


class ScheduleOut(BaseModel):
    """A schedule, and warnings about it (members that are not receivers)."""

    name: str
    spec: ScheduleSpec
    managed_by: str = Field(description="api or spec (written by reliant apply)")
    created_at: float
    updated_at: float
    updated_by: str
    warnings: list[str]


class SchedulePage(BaseModel):
    """A page of schedules, by name."""

    items: list[ScheduleOut]
    next: str | None


class OverrideIn(BaseModel):
    """Put ``member`` on call from ``starts_at`` (default now) until ``ends_at``."""

    model_config = ConfigDict(extra="forbid")

    member: str = Field(pattern=NAME_PATTERN, max_length=100, description="a notify receiver")
    starts_at: float | None = Field(default=None, ge=0, le=MAX_TIME, allow_inf_nan=False)
    ends_at: float = Field(ge=0, le=MAX_TIME, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> OverrideIn:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class OverrideOut(BaseModel):
    """An override of a schedule."""

    id: int
    schedule: str
    member: str
    starts_at: float
    ends_at: float
    created_at: float
    created_by: str


class OverrideCreated(OverrideOut):
    """A new override, and warnings about it (a member that is not a receiver)."""

    warnings: list[str]


class OverridePage(BaseModel):
    """A page of overrides, oldest first."""

    items: list[OverrideOut]
    next: str | None


class ShiftOut(BaseModel):
    """``member`` is on call in ``[start, end)``, because of ``source``."""

    member: str
    start: float
    end: float
    source: str = Field(description='the rotation\'s name, or "override"')


class ShiftsOut(BaseModel):
    """Who is on call in ``[since, until)``; gaps mean nobody."""

    schedule: str
    timezone: str
    since: float
    until: float
    shifts: list[ShiftOut]


class OnCallOut(BaseModel):
    """Who is on call now on one schedule, until when, and who is next."""

    schedule: str
    timezone: str
    on_call: ShiftOut | None = Field(description="the shift under way; null: nobody")
    until: float | None = Field(description="when it ends; null when beyond 400 days")
    next: ShiftOut | None


class NowOut(BaseModel):
    """Every schedule's on-call member at ``at``."""

    at: float
    schedules: list[OnCallOut]


class PolicyOut(BaseModel):
    """An escalation policy, and warnings about it (receivers that do not exist)."""

    name: str
    spec: EscalationPolicySpec
    managed_by: str = Field(description="api or spec (written by reliant apply)")
    created_at: float
    updated_at: float
    updated_by: str
    warnings: list[str]


class PolicyPage(BaseModel):
    """A page of escalation policies, by name."""

    items: list[PolicyOut]
    next: str | None


class PageOut(BaseModel):
    """A page: the on-call incident of one dedup key."""

    id: int
    policy: str
    dedup_key: str
    state: PageState
    level: int = Field(description="the escalation level last notified, from 1")
    cycle: int = Field(description="how many times the levels were run again (repeat)")
    exhausted: bool = Field(description="escalation ran out without an acknowledgement")
    title: str
    service: str | None
    group_key: str
    alerts: list[dict[str, Any]]
    group_labels: dict[str, Any]
    common_labels: dict[str, Any]
    common_annotations: dict[str, Any]
    created_at: float
    updated_at: float
    triggered_at: float
    next_escalation_at: float | None
    acknowledged_at: float | None
    acknowledged_by: str | None
    ack_expires_at: float | None
    resolved_at: float | None
    resolved_by: str | None
    notified: list[str] = Field(description="receivers notified, in order")
    reopened: int = Field(description="times it was reopened by its alerts firing again")


class PagePage(BaseModel):
    """A page of pages, newest first."""

    items: list[PageOut]
    next: str | None


def schedule_out(record: ScheduleRecord, warnings: list[str]) -> ScheduleOut:
    """A stored schedule as the API shows it."""
    return ScheduleOut(
        name=record.name,
        spec=record.spec,
        managed_by=record.managed_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
        updated_by=record.updated_by,
        warnings=warnings,
    )


def policy_out(record: PolicyRecord, warnings: list[str]) -> PolicyOut:
    """A stored policy as the API shows it."""
    return PolicyOut(
        name=record.name,
        spec=record.spec,
        managed_by=record.managed_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
        updated_by=record.updated_by,
        warnings=warnings,
    )


def override_out(row: OverrideRow) -> OverrideOut:
    """An override as the API shows it."""
    return OverrideOut(
        id=row.id,
        schedule=row.schedule,
        member=row.member,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def shift_out(shift: rotation.Shift | None) -> ShiftOut | None:
    """A shift as the API shows it."""
    if shift is None:
        return None
    return ShiftOut(member=shift.member, start=shift.start, end=shift.end, source=shift.source)


def page_out(row: PageRow) -> PageOut:
    """A page as the API shows it."""
    data = row.payload
    return PageOut(
        id=row.id,
        policy=row.policy,
        dedup_key=row.dedup_key,
        state=row.state,  # type: ignore[arg-type]
        level=row.level,
        cycle=row.cycle,
        exhausted=row.exhausted,
        title=row.title,
        service=row.service,
        group_key=row.group_key,
        alerts=list(data.get("alerts", [])),
        group_labels=dict(data.get("group_labels", {})),
        common_labels=dict(data.get("common_labels", {})),
        common_annotations=dict(data.get("common_annotations", {})),
        created_at=row.created_at,
        updated_at=row.updated_at,
        triggered_at=row.triggered_at,
        next_escalation_at=row.next_escalation_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        ack_expires_at=row.ack_expires_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        notified=[str(r) for r in row.notified],
        reopened=row.reopened,
    )
