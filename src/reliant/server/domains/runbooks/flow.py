"""Where a run goes after a step, which steps wait for people, which may run again. Pure.

A run executes its steps in order. After a step succeeded its ``on_success`` decides
(``next``, ``end``, ``{goto: id}``); after it failed its ``on_failure`` does (``abort``,
``continue``, ``{goto: id}``). Jumps go forward only (the spec refuses backward ones), so
every step runs at most once; the steps jumped over are ``skipped``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reliant.spec.models import Goto, HttpStep, RunbookStep, SdkStep, WaitUntilStep

#: States of a run; the last three are final.
RUN_STATES = ("pending", "running", "waiting", "succeeded", "failed", "cancelled")
ACTIVE = ("pending", "running", "waiting")
FINAL = ("succeeded", "failed", "cancelled")
#: States of a step; ``polling``: a wait-until step between two probes.
STEP_STATES = (
    "pending",
    "running",
    "polling",
    "waiting",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
)
STEP_FINAL = ("succeeded", "failed", "skipped", "cancelled")


@dataclass(frozen=True, slots=True)
class Next:
    """What follows a finished step.

    Attributes:
        position: the next step's index, or ``len(steps)`` when the run ends.
        skipped: indexes of steps jumped over (they will never run).
        outcome: the run's final state when it ends here, else ``None``.
    """

    position: int
    skipped: tuple[int, ...]
    outcome: str | None


def after(steps: Sequence[RunbookStep], position: int, *, succeeded: bool) -> Next:
    """Where the run goes after step ``position`` succeeded or failed."""
    step = steps[position]
    end = len(steps)
    rule = step.on_success if succeeded else step.on_failure
    if rule == "abort":
        return Next(end, tuple(range(position + 1, end)), "failed")
    if rule == "end":
        return Next(end, tuple(range(position + 1, end)), "succeeded")
    if isinstance(rule, Goto):
        target = next(i for i, s in enumerate(steps) if s.id == rule.goto)
        return Next(target, tuple(range(position + 1, target)), None)
    if position + 1 >= end:
        return Next(end, (), "succeeded")
    return Next(position + 1, (), None)


def needs_approval(step: RunbookStep, *, automatic: bool, approve_destructive: bool) -> bool:
    """Whether a step waits for an operator's approval before it runs.

    Destructive steps do, unless a person started the run approving them beforehand; in
    runs started by an alert they always do.
    """
    return step.destructive and (automatic or not approve_destructive)


def idempotent(step: RunbookStep) -> bool:
    """Whether running the step again is harmless, so an interrupted attempt is retried:
    GET/HEAD requests, SDK overrides (they set a value) and wait-until polls."""
    if isinstance(step, HttpStep):
        return step.method in ("GET", "HEAD")
    return isinstance(step, SdkStep | WaitUntilStep)
