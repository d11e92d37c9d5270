"""Two real ``reliant server`` processes on one PostgreSQL: each job has one leader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from postgres_engine import PostgresServer, free_port
from server_helpers import ADMIN, bearer
from sqlalchemy import func, select

from reliant.server.db import make_engine, session_factory
from reliant.server.jobs import JobRun

#: Bound on every wait of this test.
DEADLINE = 60.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds, failing after DEADLINE seconds."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)  # polling interval of a readiness probe
    raise AssertionError(f"timed out waiting for {what}")


class Replica:
    """One `reliant server` process on a free loopback port."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "RELIANT_DATABASE_URL": url, "RELIANT_BOOTSTRAP_TOKEN": ADMIN}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reliant",
                "server",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def get(self, path: str) -> httpx.Response | None:
        """GET ``path`` as the admin, or ``None`` while the server is not answering."""
        try:
            return httpx.get(
                f"http://127.0.0.1:{self.port}{path}", headers=bearer(ADMIN), timeout=2
            )
        except httpx.HTTPError:
            return None

    def leader(self) -> str | None:
        """The leader of the history job as this replica reports it."""
        response = self.get("/api/v1/jobs")
        if response is None or response.status_code != 200:
            return None
        jobs = {j["name"]: j for j in response.json()}
        return jobs["jobs.prune-history"]["leader"]  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing it if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def replicas(postgres: PostgresServer, tmp_path: Path) -> Iterator[tuple[str, list[Replica]]]:
    """Two servers on a fresh database."""
    url = postgres.create_database("replicas")
    started = [Replica(url, tmp_path / "a"), Replica(url, tmp_path / "b")]
    try:
        yield url, started
    finally:
        for r in started:
            r.stop()


def test_two_servers_elect_one_leader_per_job(
    replicas: tuple[str, list[Replica]],
) -> None:
    """Both servers agree on one leader; the job runs once; stopping the leader moves it."""
    url, (a, b) = replicas
    wait_for(lambda: a.leader() is not None and b.leader() is not None, "a leader")
    leader = a.leader()
    assert leader == b.leader()
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        with sessions() as s:
            runs = s.scalar(select(func.count()).where(JobRun.job == "jobs.prune-history"))
        # The hourly history job ran once, though both servers ticked many times.
        assert 1 == runs
        first, second = (a, b) if leader and f":{a.process.pid}:" in leader else (b, a)
        first.stop()
        wait_for(
            lambda: second.leader() not in (None, leader),
            "the other server to take the lease over",
        )
        with sessions() as s:
            runs = s.scalar(select(func.count()).where(JobRun.job == "jobs.prune-history"))
        # Taking over the lease does not repeat a run that is not yet due.
        assert 1 == runs
    finally:
        engine.dispose()
