"""API shapes of runbooks and their runs; runbook bodies are ``RunbookSpec``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reliant.server.domains.runbooks import rendering
from reliant.server.domains.runbooks.models import RunbookRow, RunRow, StepRow
from reliant.spec.models import PARAMETER_PATTERN, STEP_ID_PATTERN, RunbookSpec

#: Largest run id a request may name (a 64-bit key).
MAX_ID = 2**63 - 1
RunState = Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled"]
StepState = Literal[
    "pending", "running", "polling", "waiting", "succeeded", "failed", "skipped", "cancelled"
]


ParamName = Annotated[str, Field(pattern=PARAMETER_PATTERN)]
ParamValue = Annotated[str, Field(max_length=4000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunbookOut(BaseModel):
    """A stored runbook."""

    name: str
    service: str | None
    spec: RunbookSpec
    managed_by: Literal["api", "spec"]
    created_at: float
    updated_at: float
    updated_by: str


class RunbookPage(BaseModel):
    """A page of runbooks by name; ``next`` is the cursor of the following page."""

    items: list[RunbookOut]
    next: str | None


class RunIn(_In):
    """Start a run: parameter values, the incident it serves, a dry run or not."""

    params: dict[ParamName, ParamValue] = Field(
        default_factory=dict, max_length=50, description="parameter name → value"
    )
    incident: int | None = Field(default=None, ge=1, le=MAX_ID, description="an incident's id")
    dry_run: bool = Field(
        default=False, description="render every step; run nothing, store nothing"
    )
    approve_destructive: bool = Field(
        default=False, description="approve the destructive steps now: they run without a gate"
    )


class StepOut(BaseModel):
    """One step of a run: the step rendered (secrets masked), its state and what it said."""

    id: str
    name: str
    kind: str
    state: StepState
    destructive: bool
    needs_approval: bool
    waiting_for: Literal["approval", "manual"] | None
    attempts: int
    started_at: float | None
    finished_at: float | None
    duration: float | None = Field(description="seconds, once finished")
    output: str | None = Field(description="captured output, at most 64 KiB, secrets masked")
    error: str | None
    decided_by: str | None = Field(description="who approved, rejected or completed it")
    comment: str | None
    rendered: dict[str, Any]


class RunSummary(BaseModel):
    """A run in brief."""

    id: int
    runbook: str
    service: str | None
    state: RunState
    paused: bool = Field(description="the kill switch is off: no new step starts")
    automatic: bool = Field(description="started by an alert")
    incident: int | None
    current: str | None = Field(description="the step it is at (null once ended)")
    created_at: float
    created_by: str
    started_at: float | None
    finished_at: float | None
    error: str | None
    trigger: dict[str, Any] | None = Field(description="the alert that started it")


class RunOut(RunSummary):
    """A run with its parameters (secrets masked) and steps."""

    params: dict[str, str]
    approve_destructive: bool
    failed_steps: list[str]
    steps: list[StepOut]


class RunPage(BaseModel):
    """A page of runs, newest first; ``next`` is the cursor of the following page."""

    items: list[RunSummary]
    next: str | None


class PreviewStep(BaseModel):
    """A step as a run would execute it (secrets masked)."""

    id: str
    name: str
    kind: str
    destructive: bool
    needs_approval: bool
    rendered: dict[str, Any]


class DryRunOut(BaseModel):
    """What a run would do: nothing was run or stored."""

    runbook: str
    dry_run: Literal[True]
    service: str | None
    incident: int | None
    params: dict[str, str]
    steps: list[PreviewStep]


class DecisionIn(_In):
    """Approve or reject what a run waits for (optionally naming the step, to be sure)."""

    step: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    comment: str = Field(default="", max_length=2000)


class CompleteIn(_In):
    """Mark a manual step done."""

    comment: str = Field(default="", max_length=2000)


class AutomationOut(BaseModel):
    """The kill switch: whether alerts start runs and runs start new steps."""

    enabled: bool
    updated_at: float | None
    updated_by: str | None


class AutomationIn(_In):
    """Switch automatic runs and new steps on or off."""

    enabled: bool


def runbook_out(row: RunbookRow) -> RunbookOut:
    """A stored runbook as the API shows it."""
    return RunbookOut(
        name=row.name,
        service=row.service,
        spec=RunbookSpec.model_validate(row.spec),
        managed_by="spec" if row.managed_by == "spec" else "api",
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def run_summary(run: RunRow, *, paused: bool) -> RunSummary:
    """A run in brief."""
    return RunSummary.model_validate(_summary(run, paused=paused))


def _summary(run: RunRow, *, paused: bool) -> dict[str, Any]:
    spec_steps = run.spec.get("steps", [])
    active = run.state in ("pending", "running", "waiting")
    current = spec_steps[run.position]["id"] if active and run.position < len(spec_steps) else None
    return {
        "id": run.id,
        "runbook": run.runbook,
        "service": run.service,
        "state": run.state,
        "paused": paused and active,
        "automatic": run.automatic,
        "incident": run.incident,
        "current": current,
        "created_at": run.created_at,
        "created_by": run.created_by,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "trigger": run.trigger,
    }


def run_out(run: RunRow, rows: list[StepRow], *, paused: bool) -> RunOut:
    """A run with its steps rendered, secrets masked."""
    spec = RunbookSpec.model_validate(run.spec)
    context = rendering.values(
        spec,
        {**run.params},
        run_id=run.id,
        runbook=run.runbook,
        service=run.service,
        incident=run.incident,
        masked=True,
    )
    steps = []
    for row, step in zip(rows, spec.steps, strict=True):
        duration = None
        if row.started_at is not None and row.finished_at is not None:
            duration = max(0.0, row.finished_at - row.started_at)
        steps.append(
            StepOut(
                id=row.step_id,
                name=step.name,
                kind=row.kind,
                state=row.state,  # type: ignore[arg-type]
                destructive=step.destructive,
                needs_approval=row.needs_approval,
                waiting_for=row.waiting_for,  # type: ignore[arg-type]
                attempts=row.attempts,
                started_at=row.started_at,
                finished_at=row.finished_at,
                duration=duration,
                output=row.output,
                error=row.error,
                decided_by=row.decided_by,
                comment=row.comment,
                rendered=rendering.rendered(step, context),
            )
        )
    return RunOut(
        **_summary(run, paused=paused),
        params={k: str(v) for k, v in run.params.items()},
        approve_destructive=run.approve_destructive,
        failed_steps=[r.step_id for r in rows if r.state == "failed"],
        steps=steps,
    )
