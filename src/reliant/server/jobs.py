"""Background jobs, leader-elected through a lease row per job in the store.

Each tick, a replica takes the job's lease row with ``SELECT … FOR UPDATE SKIP LOCKED``
(SQLite: the database write lock), and runs the job only if it holds the lease — taking it
when the holder let it expire — and the job is due. The run, the renewed lease and the new
``last_run_at`` commit in one transaction, so two replicas on one database never run the
same scheduled run twice, even when a leader stalls past its lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Index, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from reliant.server.db.base import Base, BigId

log = logging.getLogger("reliant.server.jobs")

#: Seconds between two looks at the job table.
DEFAULT_TICK = 1.0
#: Seconds of run history kept per job (the history job prunes older runs).
HISTORY_SECONDS = 86400.0


class Lease(Base):
    """Who leads a job, until when, and when it last ran."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[float]
    last_run_at: Mapped[float | None]


class JobRun(Base):
    """One run of a job: by whom, when, how long, and the error if it failed."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(100))
    holder: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[float]
    duration: Mapped[float]
    error: Mapped[str | None] = mapped_column(String(2000))


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A function run every ``interval`` seconds by one replica.

    Attributes:
        name: unique job name, also the lease's name.
        interval: seconds between runs.
        run: called with the job's session and the current time; it must not commit.
    """

    name: str
    interval: float
    run: Callable[[Session, float], None]

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError(f"Job {self.name!r}: interval must be > 0 seconds")


def holder_id() -> str:
    """A name for this replica, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobRunner:
    """Runs the jobs this replica leads; ``tick()`` is one pass, ``start()`` a thread of them.

    Args:
        factory: session factory of the store.
        jobs: the jobs every replica knows.
        now: the clock (epoch seconds).
        ttl: seconds a lease lasts without renewal.
        holder: this replica's name.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        jobs: Sequence[Job],
        *,
        now: Callable[[], float],
        ttl: float,
        holder: str | None = None,
        tick_seconds: float = DEFAULT_TICK,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"JobRunner: job names must be unique, got {names}")
        self.factory = factory
        self.jobs = tuple(jobs)
        self.now = now
        self.ttl = ttl
        self.holder = holder or holder_id()
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[str]:
        """Run every job this replica leads that is due; return the names of those run."""
        ran = []
        for job in self.jobs:
            started = self.now()
            try:
                if self._run_if_leader(job):
                    ran.append(job.name)
            except Exception as exc:
                log.exception("job %s failed; it runs again at its next interval", job.name)
                self._record_failure(job, started, exc)
        return ran

    def _record_failure(self, job: Job, started: float, exc: Exception) -> None:
        try:
            with self.factory() as session, session.begin():
                session.add(
                    JobRun(
                        job=job.name,
                        holder=self.holder,
                        started_at=started,
                        duration=max(0.0, self.now() - started),
                        error=f"{type(exc).__name__}: {exc}"[:2000],
                    )
                )
        except Exception:  # the store itself may be what failed
            log.warning("could not record the failure of job %s", job.name, exc_info=True)

    def _run_if_leader(self, job: Job) -> bool:
        with self.factory() as session, session.begin():
            now = self.now()
            lease = session.scalar(
                select(Lease).where(Lease.name == job.name).with_for_update(skip_locked=True)
            )
            if lease is None:
                if not self._create(session, job, now):
                    return False
                lease = session.get_one(Lease, job.name)
            if lease.holder != self.holder and lease.expires_at > now:
                return False
            if lease.holder != self.holder:
                log.info("replica %s now leads job %s", self.holder, job.name)
            lease.holder = self.holder
            lease.expires_at = now + self.ttl
            if lease.last_run_at is not None and now - lease.last_run_at < job.interval:
                return False
            job.run(session, now)
            lease.last_run_at = now
            session.add(
                JobRun(
                    job=job.name,
                    holder=self.holder,
                    started_at=now,
                    duration=max(0.0, self.now() - now),
                )
            )
            return True

    def _create(self, session: Session, job: Job, now: float) -> bool:
        try:
            with session.begin_nested():
                session.add(Lease(name=job.name, holder=self.holder, expires_at=now + self.ttl))
        except IntegrityError:
            return False  # another replica created it first; it leads
        return True

    def release(self) -> None:
        """Give up every lease this replica holds, so another takes over at once."""
        with self.factory() as session, session.begin():
            for lease in session.scalars(select(Lease).where(Lease.holder == self.holder)):
                lease.expires_at = 0.0

    def start(self) -> None:
        """Tick in a daemon thread until ``stop()``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="reliant-jobs", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.tick_seconds)

    def stop(self) -> None:
        """Stop ticking, wait for a running job to end, and release the leases."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        try:
            self.release()
        except Exception:  # the store may already be gone at shutdown
            log.warning("could not release job leases at shutdown", exc_info=True)


def prune_history(session: Session, now: float) -> None:
    """Delete job runs older than :data:`HISTORY_SECONDS`."""
    session.execute(delete(JobRun).where(JobRun.started_at < now - HISTORY_SECONDS))


#: Jobs of the runner itself.
HISTORY_JOB = Job(name="jobs.prune-history", interval=3600.0, run=prune_history)
