"""Resume after a real restart: `reliant server` killed with SIGKILL mid-step, started again
on the same store. The command that was running is not run again — its step fails as
interrupted and the run follows on_failure; an interrupted GET request is sent again."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from postgres_engine import free_port
from runbooks_helpers import Target, target
from server_helpers import ADMIN, bearer
from server_processes import control_plane, wait_for

#: Seconds for a restarted server to take over the dead one's work (its job lease and the
#: claims of its steps expire after 15 s and 20 s).
TAKEOVER_DEADLINE = 90.0
#: The command the killed server leaves behind (a unique argument to find it by).
SLEEP = "3599.25"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server's store: SQLite in its data directory, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    postgres = request.getfixturevalue("postgres")
    return {"RELIANT_DATABASE_URL": postgres.create_database("runbooks_restart")}


@pytest.fixture
def loopback() -> Iterator[Target]:
    """The HTTP target."""
    with target() as found:
        yield found


def orphans() -> list[int]:
    """PIDs of the `sleep SLEEP` commands left running."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "cmdline").read_bytes().split(b"\0")[1:2] == [SLEEP.encode()]:
                    found.append(int(entry.name))
    return found


def test_a_killed_server_resumes_its_runs(
    tmp_path: Path, loopback: Target, store: dict[str, str]
) -> None:
    """After SIGKILL and a restart, the shell step fails as interrupted and the run goes
    on; the GET step is sent again and succeeds."""
    port = free_port()
    env = {"RELIANT_RUNBOOK_EXECUTABLES": "sleep,echo", **store}
    server = control_plane(port, tmp_path / "plane", env)
    http = httpx.Client(base_url=server.url, headers=bearer(ADMIN), timeout=10)
    left: list[int] = []
    try:

        def put(name: str, steps: list[dict[str, Any]]) -> int:
            assert 201 == http.put(f"/api/v1/runbooks/{name}", json={"steps": steps}).status_code
            response = http.post(f"/api/v1/runbooks/{name}/runs", json={})
            assert 201 == response.status_code, response.text
            return int(response.json()["id"])

        def run(run_id: int) -> dict[str, Any]:
            return dict(http.get(f"/api/v1/runbook-runs/{run_id}").json())

        command = put(
            "drain",
            [
                {
                    "id": "sleep",
                    "kind": "shell",
                    "command": ["sleep", SLEEP],
                    "timeout": "1h",
                    "on_failure": "continue",
                },
                {"id": "after", "kind": "shell", "command": ["echo", "after"]},
            ],
        )
        request = put("probe", [{"id": "hold", "kind": "http", "url": f"{loopback.url}/hold"}])
        wait_for(lambda: run(command)["steps"][0]["state"] == "running", "the command to run")
        wait_for(lambda: [s for s in loopback.seen if s["path"] == "/hold"], "the request")
        wait_for(orphans, "the sleep command")

        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        left = orphans()  # it outlives the server, and is stopped at the end
        loopback.release.set()
        server = control_plane(port, tmp_path / "plane", env)

        def ended(run_id: int) -> dict[str, Any] | None:
            found = run(run_id)
            return found if found["state"] in ("succeeded", "failed") else None

        drained = wait_for(lambda: ended(command), "the command's run", TAKEOVER_DEADLINE)
        probed = wait_for(lambda: ended(request), "the request's run", TAKEOVER_DEADLINE)
    finally:
        http.close()
        server.stop()
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert ("succeeded", ["failed", "succeeded"], "interrupted by a server restart", "after\n") == (
        drained["state"],
        [s["state"] for s in drained["steps"]],
        drained["steps"][0]["error"],
        drained["steps"][1]["output"],
    )
    assert ("succeeded", 2) == (probed["state"], probed["steps"][0]["attempts"])
    assert 2 == len([s for s in loopback.seen if s["path"] == "/hold"])
    assert 1 == len(left)
