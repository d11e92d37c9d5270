"""API shapes of postmortems and error-budget policies; policy bodies are
``reliant.spec.models.ErrorBudgetPolicySpec``."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from reliant.server.db.text import unstorable
from reliant.server.domains.postmortems.facts import DEFINITIONS
from reliant.server.domains.postmortems.models import PostmortemRow
from reliant.spec.models import ErrorBudgetPolicySpec

State = Literal["draft", "in_review", "published"]
ActionType = Literal["mitigate", "prevent", "process"]
Priority = Literal["P0", "P1", "P2", "P3"]
#: Largest id the store can hold (64-bit signed).
MAX_ID = 2**63 - 1
#: Longest text section, list item, and most items of a list section.
TEXT_MAX = 20_000
ITEM_MAX = 2_000
LIST_MAX = 100
#: Most timeline entries and action items.
TIMELINE_MAX = 500
ACTIONS_MAX = 100
#: Text sections and list sections, in the SRE Book's order.
TEXT_SECTIONS = ("summary", "impact", "trigger", "resolution", "detection")
LIST_SECTIONS = ("root_causes", "went_well", "went_wrong", "got_lucky")


def _storable(value: str) -> str:
    if unstorable(value):
        raise ValueError("text may not hold NUL characters (\\u0000) or lone surrogates")
    return value


def _date(value: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {value!r}") from None
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number of epoch seconds")
    return value


Section = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(_storable)]
Item = Annotated[str, Field(min_length=1, max_length=ITEM_MAX), AfterValidator(_storable)]
Items = Annotated[list[Item], Field(max_length=LIST_MAX)]
Title = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_storable)]
Person = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_storable)]
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_date)]
Label = Annotated[str, Field(max_length=100), AfterValidator(_storable)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimelineEntry(_In):
    """A timeline entry: when, what, where it came from (``incident``, ``alert``,
    ``runbook``, ``note``, ``event`` or ``manual``), the event kind, whether it was pinned."""

    at: Annotated[float, Field(ge=0, le=1e11), AfterValidator(_finite)]
    text: Item
    source: Label = "manual"
    kind: Label = ""
    pinned: bool = False
    key: Label | None = None


class ActionItem(_In):
    """An action item: what, who owns it, its type and priority, by when, its ticket."""

    title: Title
    owner: Person = Field(description="required: an action item without an owner never gets done")
    type: ActionType = Field(description="mitigate, prevent or process (the SRE Book's types)")
    priority: Priority = "P2"
    due: Day | None = None
    ticket: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2000)] | None = None
    done: bool = False


class PostmortemIn(_In):
    """An edit: the version it was made on, and the fields to change (those left out
    stay). A stale ``version`` is refused with 409, so two editors never overwrite each
    other."""

    version: int = Field(ge=1, le=2**31 - 1, description="the version this edit was made on")
    title: Title | None = None
    due: Day | None = None
    summary: Section | None = None
    impact: Section | None = None
    root_causes: Items | None = None
    trigger: Section | None = None
    resolution: Section | None = None
    detection: Section | None = None
    went_well: Items | None = None
    went_wrong: Items | None = None
    got_lucky: Items | None = None
    timeline: Annotated[list[TimelineEntry], Field(max_length=TIMELINE_MAX)] | None = None
    action_items: Annotated[list[ActionItem], Field(max_length=ACTIONS_MAX)] | None = None
    supporting_information: Section | None = None


class StateIn(_In):
    """The state to move to, and optionally the version it was decided on."""

    state: State
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class SuggestedAction(BaseModel):
    """An action item as stored: generated ones may lack an owner until edited."""

    title: str
    owner: str
    type: ActionType
    priority: Priority
    due: str | None
    ticket: str | None
    done: bool


class EntryOut(BaseModel):
    """A timeline entry as stored."""

    at: float
    text: str
    source: str
    kind: str
    pinned: bool
    key: str | None


class PostmortemSummary(BaseModel):
    """A postmortem in brief."""

    id: int
    incident: int
    title: str
    state: State
    required: bool
    required_reason: str
    due: str | None
    version: int
    services: list[str]
    created_at: float
    created_by: str
    updated_at: float
    updated_by: str
    url: str


class PostmortemOut(PostmortemSummary):
    """A postmortem: sections, facts with their definitions, allowed moves."""

    allowed: list[State] = Field(description="the states it may move to")
    editable: bool = Field(description="whether sections may be edited (not published)")
    summary: str
    impact: str
    root_causes: list[str]
    trigger: str
    resolution: str
    detection: str
    went_well: list[str]
    went_wrong: list[str]
    got_lucky: list[str]
    timeline: list[EntryOut]
    action_items: list[SuggestedAction]
    supporting_information: str
    facts: dict[str, Any] = Field(
        description="computed from the incident and SLO data; see definitions"
    )
    definitions: dict[str, str]


class PostmortemPage(BaseModel):
    """Postmortems, newest first; ``next`` is the cursor of the following page."""

    items: list[PostmortemSummary]
    next: str | None


class PolicyOut(BaseModel):
    """An error-budget policy in force, declared or built in."""

    name: str
    builtin: bool
    managed_by: str | None
    services: list[str]
    severity_at_most: str | None
    budget_consumed_over: float | None
    due_business_days: int


class EffectivePolicies(BaseModel):
    """The policies in force and how they are applied."""

    items: list[PolicyOut]
    rule: str


class StoredPolicyOut(BaseModel):
    """A declared error-budget policy."""

    name: str
    spec: ErrorBudgetPolicySpec
    managed_by: str
    created_at: float
    updated_at: float
    updated_by: str


class StoredPolicyPage(BaseModel):
    """Declared error-budget policies by name."""

    items: list[StoredPolicyOut]
    next: str | None


def url_of(postmortem_id: int) -> str:
    """The API URL of a postmortem."""
    return f"/api/v1/postmortems/{postmortem_id}"


def summary_out(row: PostmortemRow, services: list[str]) -> PostmortemSummary:
    """A postmortem in brief."""
    return PostmortemSummary.model_validate(_summary(row, services))


def _summary(row: PostmortemRow, services: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "incident": row.incident_id,
        "title": row.title,
        "state": row.state,
        "required": row.required,
        "required_reason": row.required_reason,
        "due": row.due,
        "version": row.version,
        "services": services,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
        "url": url_of(row.id),
    }


def postmortem_out(
    row: PostmortemRow, services: list[str], allowed: tuple[str, ...], editable: bool
) -> PostmortemOut:
    """A postmortem with everything."""
    return PostmortemOut.model_validate(
        {
            **_summary(row, services),
            "allowed": list(allowed),
            "editable": editable,
            **{name: getattr(row, name) for name in TEXT_SECTIONS},
            **{name: list(getattr(row, name)) for name in LIST_SECTIONS},
            "timeline": list(row.timeline),
            "action_items": list(row.action_items),
            "supporting_information": row.supporting_information,
            "facts": dict(row.facts),
            "definitions": dict(DEFINITIONS),
        }
    )
