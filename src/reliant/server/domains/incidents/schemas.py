"""API shapes of incidents, their timelines, rules and metrics; rule bodies are
``reliant.spec.models.IncidentRuleSpec``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from reliant.server.db.text import unstorable
from reliant.server.domains.incidents import metrics
from reliant.server.domains.incidents.models import IncidentRow, IncidentTaskRow, IncidentUpdateRow
from reliant.server.domains.incidents.rulebook import RuleRecord
from reliant.server.domains.incidents.service import Detail
from reliant.spec.models import NAME_PATTERN, IncidentRuleSpec

State = Literal["triggered", "acknowledged", "mitigated", "resolved", "closed"]
Sev = Literal["SEV1", "SEV2", "SEV3", "SEV4", "SEV5"]
#: Largest id the store can hold (64-bit signed).
MAX_ID = 2**63 - 1


def _storable(value: str) -> str:
    if unstorable(value):
        raise ValueError("text may not hold NUL characters (\\u0000) or lone surrogates")
    return value


Text = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_storable)]
Person = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_storable)]
Title = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_storable)]
Summary = Annotated[str, Field(max_length=10000), AfterValidator(_storable)]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentIn(_In):
    """An incident to declare by hand."""

    title: Title
    severity: Sev
    summary: Summary = ""
    services: list[Name] = Field(default_factory=list, max_length=50)
    slos: list[Name] = Field(default_factory=list, max_length=50)
    alerts: list[Fingerprint] = Field(default_factory=list, max_length=100)
    commander: Person | None = None
    communications: Person | None = None
    scribe: Person | None = None
    subscribers: list[Name] = Field(default_factory=list, max_length=20)


class IncidentPatch(_In):
    """Fields to change; those left out stay."""

    title: Title | None = None
    summary: Summary | None = None
    severity: Sev | None = None


class TransitionIn(_In):
    """The state to move to; ``triggered`` reopens a resolved incident."""

    to: State


class UpdateIn(_In):
    """A status update; ``notify`` sends it to the incident's receivers."""

    text: Text
    notify: bool = True


class RoleIn(_In):
    """Who takes the role (``null``: nobody)."""

    person: Person | None


class ReceiversIn(_In):
    """Notify receivers by name."""

    receivers: list[Name] = Field(max_length=20)


class TaskIn(_In):
    """A follow-up task."""

    title: Title
    owner: Person | None = None
    due: dt.date | None = None


class TaskPatch(_In):
    """Fields of a task to change; ``null`` empties ``owner`` or ``due``."""

    title: Title | None = None
    owner: Person | None = None
    due: dt.date | None = None
    done: bool | None = None


class MergeIn(_In):
    """The primary incident to merge this one into."""

    into: int = Field(ge=1, le=MAX_ID)


class NoteIn(_In):
    """A manual timeline entry: what, by whom (default: the caller), when (default: now)."""

    text: Text
    by: Person | None = None
    at: float | None = Field(default=None, ge=0, le=1e11, allow_inf_nan=False)


class AlertLinkOut(BaseModel):
    """An alert linked to the incident."""

    fingerprint: str
    alertname: str
    labels: dict[str, Any]
    state: Literal["firing", "resolved"]
    linked_at: float
    resolved_at: float | None


class UpdateOut(BaseModel):
    """A status update."""

    id: int
    text: str
    by: str
    at: float
    state: State
    notify: bool


class TaskOut(BaseModel):
    """A follow-up task; ``due`` is a date (``YYYY-MM-DD``)."""

    id: int
    title: str
    owner: str | None
    due: str | None
    done: bool
    done_at: float | None
    created_at: float
    created_by: str


class TransitionOut(BaseModel):
    """A move through the lifecycle."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: State = Field(alias="from")
    to: State
    at: float
    by: str


class IncidentOut(BaseModel):
    """An incident in brief."""

    id: int
    title: str
    severity: Sev
    state: State
    services: list[str]
    commander: str | None
    communications: str | None
    scribe: str | None
    merged_into: int | None
    rule: str | None
    created_at: float
    created_by: str
    acknowledged_at: float | None
    mitigated_at: float | None
    resolved_at: float | None
    closed_at: float | None
    updated_at: float


class IncidentDetail(IncidentOut):
    """An incident with everything linked to it, and the states it may move to."""

    summary: str
    allowed: list[State]
    slos: list[str]
    alerts: list[AlertLinkOut]
    updates: list[UpdateOut]
    tasks: list[TaskOut]
    subscribers: list[str]
    group_labels: dict[str, Any]
    transitions: list[TransitionOut]


class IncidentPage(BaseModel):
    """A page of incidents, newest first; ``next`` is the cursor of the following page."""

    items: list[IncidentOut]
    next: str | None


class EntryOut(BaseModel):
    """A timeline entry: an event of the log (``event:<id>``) or a note (``note:<id>``)."""

    key: str
    type: Literal["event", "note"]
    time: float
    event_id: int
    kind: str
    service: str | None
    severity: str | None
    source: str | None
    by: str
    text: str
    attributes: dict[str, Any]
    pinned: bool


class TimelinePage(BaseModel):
    """Timeline entries, oldest first; ``next`` is the cursor of the following page."""

    items: list[EntryOut]
    next: str | None


class PinOut(BaseModel):
    """Whether an entry is pinned."""

    key: str
    pinned: bool


class RuleOut(BaseModel):
    """A stored incident rule."""

    name: str
    spec: IncidentRuleSpec
    managed_by: Literal["api", "spec"]
    created_at: float
    updated_at: float
    updated_by: str


class RulePage(BaseModel):
    """A page of rules by name."""

    items: list[RuleOut]
    next: str | None


class MeanOut(BaseModel):
    """A mean duration in seconds (``null`` without incidents to average)."""

    seconds: float | None
    count: int = Field(description="incidents averaged")
    excluded: int = Field(description="incidents declared in the period but left out")
    definition: str


class MtbfOut(BaseModel):
    """Mean time between failures in seconds (``null`` without failures)."""

    seconds: float | None
    failures: int
    uptime: float
    downtime: float
    definition: str


class GroupOut(BaseModel):
    """The metrics of one group (``null``: incidents without a service, team)."""

    group: str | None
    incidents: int = Field(description="incidents declared in the period")
    mtta: MeanOut
    mttr: MeanOut
    mtbf: MtbfOut


class BucketOut(BaseModel):
    """One step of the trend."""

    start: float
    end: float
    items: list[GroupOut]


class MetricsOut(BaseModel):
    """MTTA, MTTR and MTBF over ``[since, until)``, per group, with their definitions."""

    since: float
    until: float
    group_by: Literal["service", "team", "severity"] | None
    bucket: Literal["day", "week"] | None
    definitions: dict[str, str]
    items: list[GroupOut]
    trend: list[BucketOut] | None


class NotifySettingOut(BaseModel):
    """The receivers told of every incident's changes."""

    receivers: list[str]
    updated_at: float | None
    updated_by: str | None


def incident_out(row: IncidentRow, services: list[str]) -> IncidentOut:
    """An incident in brief."""
    return IncidentOut(**_brief(row, services))


def _brief(row: IncidentRow, services: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "severity": row.severity,
        "state": row.state,
        "services": services,
        "commander": row.commander,
        "communications": row.communications,
        "scribe": row.scribe,
        "merged_into": row.merged_into,
        "rule": row.rule,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "acknowledged_at": row.acknowledged_at,
        "mitigated_at": row.mitigated_at,
        "resolved_at": row.resolved_at,
        "closed_at": row.closed_at,
        "updated_at": row.updated_at,
    }


def update_out(update: IncidentUpdateRow) -> UpdateOut:
    """A status update as the API shows it."""
    return UpdateOut.model_validate(
        {
            "id": update.id,
            "text": update.text,
            "by": update.by,
            "at": update.at,
            "state": update.state,
            "notify": update.notify,
        }
    )


def task_out(task: IncidentTaskRow) -> TaskOut:
    """A task as the API shows it."""
    return TaskOut(
        id=task.id,
        title=task.title,
        owner=task.owner,
        due=task.due,
        done=task.done,
        done_at=task.done_at,
        created_at=task.created_at,
        created_by=task.created_by,
    )


def detail_out(found: Detail, allowed: tuple[str, ...]) -> IncidentDetail:
    """An incident with everything linked to it."""
    row = found.row
    return IncidentDetail.model_validate(
        {
            **_brief(row, found.services),
            "summary": row.summary,
            "allowed": list(allowed),
            "slos": found.slos,
            "alerts": [
                {
                    "fingerprint": a.fingerprint,
                    "alertname": a.alertname,
                    "labels": a.labels,
                    "state": a.state,
                    "linked_at": a.linked_at,
                    "resolved_at": a.resolved_at,
                }
                for a in found.alerts
            ],
            "updates": [update_out(u) for u in found.updates],
            "tasks": [task_out(t) for t in found.tasks],
            "subscribers": list(row.subscribers),
            "group_labels": row.group_labels,
            "transitions": row.transitions,
        }
    )


def rule_out(record: RuleRecord) -> RuleOut:
    """A rule as the API shows it."""
    return RuleOut.model_validate(
        {
            "name": record.name,
            "spec": record.spec,
            "managed_by": record.managed_by,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "updated_by": record.updated_by,
        }
    )


def group_out(found: metrics.GroupMetrics) -> GroupOut:
    """One group's metrics, each with its definition."""
    return GroupOut(
        group=found.group,
        incidents=found.incidents,
        mtta=MeanOut(
            seconds=found.mtta.seconds,
            count=found.mtta.count,
            excluded=found.mtta.excluded,
            definition=metrics.MTTA,
        ),
        mttr=MeanOut(
            seconds=found.mttr.seconds,
            count=found.mttr.count,
            excluded=found.mttr.excluded,
            definition=metrics.MTTR,
        ),
        mtbf=MtbfOut(
            seconds=found.mtbf.seconds,
            failures=found.mtbf.failures,
            uptime=found.mtbf.uptime,
            downtime=found.mtbf.downtime,
            definition=metrics.MTBF,
        ),
    )
