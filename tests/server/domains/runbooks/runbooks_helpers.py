"""Helpers of the runbooks tests: a loopback HTTP target, runbook bodies, job driving."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from reliant.server.db import transaction
from reliant.server.domains.runbooks import Executor, Trigger
from reliant.testing import VirtualClock

#: Executables the tests allow (resolved on PATH).
EXECUTABLES = "echo,sleep,seq,false,sh"
#: A secret parameter value that must never show.
SECRET = "s3cr3t-Hunter2-value"


@dataclass
class Target:
    """A real HTTP server on loopback: what a runbook's http steps call.

    ``GET /ok`` answers 200 ``healthy``; ``/status/<code>`` that status; ``/echo`` echoes
    the request's headers and body as JSON; ``/big`` 100 000 bytes; ``/hold`` waits
    until ``release`` is set. Every request is kept in ``seen``.
    """

    seen: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Target:
        """Start serving in a thread."""
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                target.seen.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                status, text = 200, "healthy"
                if self.path.startswith("/status/"):
                    status, text = int(self.path.rsplit("/", 1)[1]), "as asked"
                elif self.path == "/echo":
                    text = json.dumps({"headers": dict(self.headers), "body": body})
                elif self.path == "/big":
                    text = "x" * 100_000
                elif self.path == "/hold":
                    target.release.wait(60)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def target() -> Iterator[Target]:
    """A running :class:`Target`, stopped at the end."""
    found = Target().start()
    try:
        yield found
    finally:
        found.stop()


def runbook(*steps: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A runbook body: the steps given (ids ``s1``, ``s2``… when left out)."""
    listed = [{"id": f"s{i + 1}", **step} for i, step in enumerate(steps)]
    return {"service": "payments", **spec, "steps": listed}


def put(client: TestClient, name: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    """PUT a runbook, checking the answer's status."""
    response = client.put(f"/api/v1/runbooks/{name}", json=body)
    assert status == response.status_code, response.text
    return dict(response.json())


def start(client: TestClient, name: str, status: int = 201, **body: Any) -> dict[str, Any]:
    """Start a run, checking the answer's status."""
    response = client.post(f"/api/v1/runbooks/{name}/runs", json=body)
    assert status == response.status_code, response.text
    return dict(response.json())


def an_incident(client: TestClient) -> int:
    """Declare an incident (runs may only name existing ones); return its id."""
    response = client.post("/api/v1/incidents", json={"title": "Payments down", "severity": "SEV3"})
    assert 201 == response.status_code, response.text
    return int(response.json()["id"])


def get_run(client: TestClient, run_id: int) -> dict[str, Any]:
    """One run."""
    response = client.get(f"/api/v1/runbook-runs/{run_id}")
    assert 200 == response.status_code, response.text
    return dict(response.json())


def states(run: dict[str, Any]) -> list[str]:
    """The state of each step of a run."""
    return [step["state"] for step in run["steps"]]


def events(client: TestClient, kind: str = "runbook.*") -> list[dict[str, Any]]:
    """Every event of ``kind`` (``runbook.*``: of any kind under it), oldest first."""
    response = client.get("/api/v1/events", params={"kind": kind, "limit": 500})
    assert 200 == response.status_code, response.text
    return list(reversed(response.json()["items"]))


class Driver:
    """Ticks the runbooks jobs on the virtual clock, waiting for steps' threads to finish.

    Args:
        app: the control plane.
        clock: its clock.
    """

    def __init__(self, app: FastAPI, clock: VirtualClock, *, heartbeat: float = 0.05) -> None:
        self.app = app
        self.clock = clock
        self.executor = Executor(app.state.settings, heartbeat=heartbeat)
        self.trigger = Trigger()

    def tick(self) -> None:
        """One tick of ``runbooks.execute``, then wait until the steps it started end."""
        with transaction(self.app.state.sessions) as session:
            self.executor.run(session, self.clock.now())
        assert self.executor.drain(60.0), "steps still running after 60 s"

    def start_tick(self) -> None:
        """One tick of ``runbooks.execute``, not waiting for what it started."""
        with transaction(self.app.state.sessions) as session:
            self.executor.run(session, self.clock.now())

    def triggers(self) -> None:
        """One run of ``runbooks.trigger``."""
        with transaction(self.app.state.sessions) as session:
            self.trigger.run(session, self.clock.now())

    def settle(self, client: TestClient, run_id: int, ticks: int = 30) -> dict[str, Any]:
        """Tick until the run ends or waits for a person; return it."""
        for _ in range(ticks):
            self.tick()
            found = get_run(client, run_id)
            if found["state"] in ("succeeded", "failed", "cancelled", "waiting"):
                return found
        raise AssertionError(f"run {run_id} still {found['state']} after {ticks} ticks")


def push(client: TestClient, service: str, points: list[tuple[str, int, str, int]]) -> None:
    """Ingest telemetry as an SDK does: ``(operation, bucket, outcome, count)`` points."""
    from reliant.agent.protocol import INGEST_PATH, LATENCY_BOUNDS

    telemetry = []
    for operation, bucket, outcome, count in points:
        histogram = [0] * (len(LATENCY_BOUNDS) + 1)
        histogram[3] = count
        telemetry.append(
            {
                "operation": operation,
                "outcome": outcome,
                "bucket": bucket,
                "count": count,
                "sum": 0.01 * count,
                "histogram": histogram,
            }
        )
    body = {
        "protocol": 1,
        "service": service,
        "instance": "test:1",
        "sdk": "0.1.0",
        "sent_at": 0.0,
        "dropped": 0,
        "telemetry": telemetry,
        "events": [],
    }
    response = client.post(INGEST_PATH, json=body)
    assert 202 == response.status_code, response.text


def until(
    driver: Driver, client: TestClient, run_id: int, check: Any, ticks: int = 20
) -> dict[str, Any]:
    """Tick until ``check(run)`` holds; return the run."""
    for _ in range(ticks):
        found = get_run(client, run_id)
        if check(found):
            return found
        driver.tick()
    raise AssertionError(f"run {run_id}: condition not reached in {ticks} ticks: {states(found)}")
