"""Leader-elected jobs: one replica runs each due run, leases expire and move, history is kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from reliant.server.db import make_engine, session_factory
from reliant.server.events import EventRow, append
from reliant.server.jobs import HISTORY_SECONDS, Job, JobRun, JobRunner, Lease, prune_history
from reliant.testing import VirtualClock

INTERVAL = 10.0
TTL = 15.0


def tick_event(session: Session, now: float) -> None:
    """A job with a visible effect: one event per run."""
    append(session, kind="test.tick", now=now)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the test store."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the test store."""
    return session_factory(engine)


def runner(sessions: sessionmaker[Session], clock: VirtualClock, name: str) -> JobRunner:
    """A replica named ``name`` running the tick job."""
    job = Job(name="tick", interval=INTERVAL, run=tick_event)
    return JobRunner(sessions, [job], now=clock.now, ttl=TTL, holder=name)


def ticks(sessions: sessionmaker[Session]) -> int:
    """How many times the tick job ran."""
    with sessions() as s:
        return int(s.scalar(select(func.count()).where(EventRow.kind == "test.tick")) or 0)


def test_only_the_leader_runs(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    """The first replica to tick leads; the other runs nothing while the lease is live."""
    a, b = runner(sessions, clock, "a"), runner(sessions, clock, "b")
    assert (["tick"], []) == (a.tick(), b.tick())
    clock.advance(INTERVAL)
    assert ([], ["tick"]) == (b.tick(), a.tick())
    assert 2 == ticks(sessions)


def test_a_run_is_not_repeated_within_its_interval(
    sessions: sessionmaker[Session], clock: VirtualClock
) -> None:
    """The leader ticking again before the interval has passed runs nothing."""
    a = runner(sessions, clock, "a")
    a.tick()
    clock.advance(INTERVAL / 2)
    assert [] == a.tick()
    assert 1 == ticks(sessions)


def test_an_expired_lease_moves_to_another_replica(
    sessions: sessionmaker[Session], clock: VirtualClock
) -> None:
    """When the leader stops renewing, another replica takes over after the lease's TTL."""
    a, b = runner(sessions, clock, "a"), runner(sessions, clock, "b")
    a.tick()
    clock.advance(TTL - 1)
    assert [] == b.tick()
    clock.advance(1)
    assert ["tick"] == b.tick()
    with sessions() as s:
        assert "b" == s.get_one(Lease, "tick").holder


def test_release_hands_over_at_once(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    """A replica shutting down releases its leases; the next due run goes to another."""
    a, b = runner(sessions, clock, "a"), runner(sessions, clock, "b")
    a.tick()
    a.release()
    clock.advance(INTERVAL)
    assert ["tick"] == b.tick()


def test_a_failing_job_is_recorded_and_runs_again(
    sessions: sessionmaker[Session], clock: VirtualClock
) -> None:
    """A job that raises leaves no partial effect, is recorded with its error, runs next tick."""
    calls = []

    def flaky(session: Session, now: float) -> None:
        append(session, kind="test.tick", now=now)
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")

    r = JobRunner(
        sessions,
        [Job(name="flaky", interval=INTERVAL, run=flaky)],
        now=clock.now,
        ttl=TTL,
        holder="a",
    )
    assert [] == r.tick()
    assert 0 == ticks(sessions)
    assert ["flaky"] == r.tick()
    with sessions() as s:
        runs = s.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert ["RuntimeError: disk on fire", None] == [run.error for run in runs]


def test_racing_replicas_never_run_a_run_twice(
    sessions: sessionmaker[Session], clock: VirtualClock
) -> None:
    """Eight replicas ticking at once, with leases expiring every round: one run per round."""
    job = Job(name="tick", interval=INTERVAL, run=tick_event)
    replicas = [
        JobRunner(sessions, [job], now=clock.now, ttl=1.0, holder=f"r{i}") for i in range(8)
    ]
    rounds = 12
    for _ in range(rounds):
        clock.advance(INTERVAL)
        barrier = threading.Barrier(len(replicas))

        def go(r: JobRunner, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=30)
            r.tick()

        threads = [threading.Thread(target=go, args=(r,)) for r in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert rounds == ticks(sessions)


def test_history_is_pruned(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    """Runs older than the history window are deleted by the history job."""
    r = runner(sessions, clock, "a")
    r.tick()
    clock.advance(HISTORY_SECONDS + INTERVAL)
    r.tick()
    with sessions() as s, s.begin():
        prune_history(s, clock.now())
    with sessions() as s:
        assert 1 == s.scalar(select(func.count()).select_from(JobRun))


def test_job_names_must_be_unique(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    """Two jobs of one name are refused at construction."""
    job = Job(name="tick", interval=INTERVAL, run=tick_event)
    with pytest.raises(ValueError, match="unique"):
        JobRunner(sessions, [job, job], now=clock.now, ttl=TTL)


def test_jobs_endpoint_shows_leader_and_runs(client: TestClient) -> None:
    """GET /api/v1/jobs lists each job with its leader and recent runs."""
    client.app.state.jobs.tick()  # type: ignore[attr-defined]
    jobs = {j["name"]: j for j in client.get("/api/v1/jobs").json()}
    history = jobs["jobs.prune-history"]
    assert client.app.state.jobs.holder == history["leader"]  # type: ignore[attr-defined]
    assert 1 == len(history["runs"])
