"""``GET /api/v1/jobs``: which replica leads each background job, and its recent runs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from reliant.server.http import Viewer
from reliant.server.jobs import JobRun, JobRunner, Lease

router = APIRouter(prefix="/api/v1", tags=["jobs"])
#: Runs listed per job.
RECENT_RUNS = 10


class RunOut(BaseModel):
    """One run of a job."""

    holder: str
    started_at: float
    duration: float
    error: str | None


class JobOut(BaseModel):
    """A job: its interval, leader, lease and recent runs (newest first)."""

    name: str
    interval: float
    leader: str | None
    lease_expires_at: float | None
    last_run_at: float | None
    runs: list[RunOut]


@router.get("/jobs")
def list_jobs(ctx: Viewer, request: Request) -> list[JobOut]:
    """Every background job this server knows, with who leads it."""
    runner: JobRunner = request.app.state.jobs
    out = []
    for job in runner.jobs:
        lease = ctx.session.get(Lease, job.name)
        runs = ctx.session.scalars(
            select(JobRun)
            .where(JobRun.job == job.name)
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(RECENT_RUNS)
        )
        live = lease is not None and lease.expires_at > ctx.now
        out.append(
            JobOut(
                name=job.name,
                interval=job.interval,
                leader=lease.holder if lease is not None and live else None,
                lease_expires_at=lease.expires_at if lease is not None else None,
                last_run_at=lease.last_run_at if lease is not None else None,
                runs=[
                    RunOut(
                        holder=r.holder, started_at=r.started_at, duration=r.duration, error=r.error
                    )
                    for r in runs
                ],
            )
        )
    return out
