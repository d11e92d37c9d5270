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

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from reliant.server.db.base import Base

log = logging.getLogger("reliant.server.jobs")

#: Seconds between two looks at the job table.
DEFAULT_TICK = 1.0


class Lease(Base):
    """Who leads a job, until when, and when it last ran."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[float]
    last_run_at: Mapped[float | None]


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
            try:
                if self._run_if_leader(job):
                    ran.append(job.name)
            except Exception:
                log.exception("job %s failed; it runs again at its next interval", job.name)
        return ran

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
