"""Two real ``reliant server`` processes on one PostgreSQL: each job has one leader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from postgres_engine import PostgresServer, free_port
from server_helpers import ADMIN, bearer
from server_processes import Process, control_plane, wait_for
from sqlalchemy import func, select

from reliant.server.db import make_engine, session_factory
from reliant.server.jobs import JobRun


def leader(replica: Process) -> str | None:
    """The leader of the history job as ``replica`` reports it."""
    try:
        response = httpx.get(f"{replica.url}/api/v1/jobs", headers=bearer(ADMIN), timeout=2)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    jobs = {j["name"]: j for j in response.json()}
    return jobs["jobs.prune-history"]["leader"]  # type: ignore[no-any-return]


@pytest.fixture
def replicas(postgres: PostgresServer, tmp_path: Path) -> Iterator[tuple[str, list[Process]]]:
    """Two servers on a fresh database."""
    url = postgres.create_database("replicas")
    env = {"RELIANT_DATABASE_URL": url}
    started = [control_plane(free_port(), tmp_path / n, env) for n in "ab"]
    try:
        yield url, started
    finally:
        for r in started:
            r.stop()


def test_two_servers_elect_one_leader_per_job(
    replicas: tuple[str, list[Process]],
) -> None:
    """Both servers agree on one leader; the job runs once; stopping the leader moves it."""
    url, (a, b) = replicas
    wait_for(lambda: leader(a) is not None and leader(b) is not None, "a leader")
    first_leader = leader(a)
    assert first_leader == leader(b)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        with sessions() as s:
            runs = s.scalar(select(func.count()).where(JobRun.job == "jobs.prune-history"))
        # The hourly history job ran once, though both servers ticked many times.
        assert 1 == runs
        first, second = (a, b) if first_leader and f":{a.process.pid}:" in first_leader else (b, a)
        first.stop()
        wait_for(
            lambda: leader(second) not in (None, first_leader),
            "the other server to take the lease over",
        )
        with sessions() as s:
            runs = s.scalar(select(func.count()).where(JobRun.job == "jobs.prune-history"))
        # Taking over the lease does not repeat a run that is not yet due.
        assert 1 == runs
    finally:
        engine.dispose()
