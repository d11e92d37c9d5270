"""Tables of runbooks: the runbooks, their runs and each run's steps, the trigger cursor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base, BigId

#: Longest runbook, service or person name kept.
NAME_LENGTH = 100
#: Longest error text or comment kept.
ERROR_LENGTH = 2000


class RunbookRow(Base):
    """A runbook: its spec (``RunbookSpec``) and who wrote it last."""

    __tablename__ = "runbooks"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    service: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    spec: Mapped[dict[str, Any]]
    managed_by: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[float]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(NAME_LENGTH))


class RunRow(Base):
    """One run of a runbook, with the spec as it was when the run started.

    ``secrets`` holds the values of secret parameters while the run is active (steps need
    them) and is emptied when it ends; ``params`` holds every value with secrets masked.
    ``position`` is the index of the current step (the number of steps once it ended).
    """

    __tablename__ = "runbook_runs"
    __table_args__ = (
        Index("ix_runbook_runs_runbook_id", "runbook", "id"),
        Index("ix_runbook_runs_state", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    runbook: Mapped[str] = mapped_column(String(NAME_LENGTH))
    service: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    spec: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]]
    secrets: Mapped[dict[str, Any]]
    incident: Mapped[int | None] = mapped_column(BigInteger, index=True)
    automatic: Mapped[bool]
    trigger: Mapped[dict[str, Any] | None]
    approve_destructive: Mapped[bool]
    position: Mapped[int]
    created_at: Mapped[float]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    started_at: Mapped[float | None]
    finished_at: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))


class StepRow(Base):
    """One step of a run: its state, claim, timing, output and the decision on it.

    A step being executed is ``running`` and claimed (``claim``, ``claimed_until``); the
    executing replica renews the claim while it works, so an expired claim means the
    replica died mid-step.
    """

    __tablename__ = "runbook_steps"
    __table_args__ = (Index("ix_runbook_steps_run_position", "run_id", "position", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("runbook_runs.id"))
    position: Mapped[int]
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    waiting_for: Mapped[str | None] = mapped_column(String(16))
    needs_approval: Mapped[bool]
    attempts: Mapped[int]
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[float | None]
    next_at: Mapped[float | None]
    started_at: Mapped[float | None]
    finished_at: Mapped[float | None]
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    decided_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    comment: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))


class CursorRow(Base):
    """How far the trigger job has read the event log (gap-aware, as the live stream)."""

    __tablename__ = "runbook_cursor"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger)
    gap: Mapped[int | None] = mapped_column(BigInteger)
    gap_since: Mapped[float]
    given_up: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float]
