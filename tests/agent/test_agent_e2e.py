"""End to end: the SDK's agent against a real control plane served by uvicorn on loopback.

The server is ``create_app`` on a SQLite file in the test's temporary directory; the test
creates an ingest token bound to the service, connects the agent, and checks that telemetry
and breaker events land in the API and that an operator's override reaches the breaker.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from agent_helpers import CREATED, wait_for

from reliant import CircuitBreaker, CircuitState, Retry
from reliant.agent import connect
from reliant.server.app import create_app
from reliant.server.settings import Settings
from reliant.telemetry.metered import metered

ADMIN = "rlt_000000000001_admin-secret-for-tests-only"
SERVICE = "payments"


class Served:
    """A control plane on a free loopback port, in a thread."""

    def __init__(self, tmp_path: Path) -> None:
        settings = Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'reliant.db'}",
            bootstrap_token=ADMIN,
            run_jobs=False,
        )
        self.app = create_app(settings)
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", ws="none", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.admin = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10.0
        )

    def __enter__(self) -> Served:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=15.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.admin.close()
        self.server.should_exit = True
        self.thread.join(15.0)
        self.socket.close()
        self.app.state.engine.dispose()

    def get(self, path: str, **params: Any) -> Any:
        response = self.admin.get(path, params=params)
        assert 200 == response.status_code, response.text
        return response.json()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with Served(tmp_path) as s:
        yield s


def test_the_agent_pushes_telemetry_and_events_and_obeys_an_override(served: Served) -> None:
    """Telemetry and a breaker event reach the API; a forced-open override reaches the breaker."""
    created = served.admin.post(
        "/api/v1/tokens", json={"name": "sdk", "role": "ingest", "service": SERVICE}
    )
    assert 201 == created.status_code, created.text
    breaker = CircuitBreaker(name="payments-db")
    charge = metered(Retry(attempts=1, name="charge"))
    agent = connect(
        served.url,
        created.json()["token"],
        SERVICE,
        flush_interval=0.1,
        event_delay=0.0,
        watch=[breaker],
    )
    CREATED.append(agent)
    for _ in range(5):
        charge.call(lambda: "ok")
    wait_for(lambda: agent.stats().config_version == 0)

    put = served.admin.put(
        f"/api/v1/services/{SERVICE}/overrides/breakers/payments-db", json={"state": "forced_open"}
    )
    assert 200 == put.status_code, put.text
    wait_for(lambda: breaker.state is CircuitState.FORCED_OPEN, timeout=2.0)

    deleted = served.admin.delete(f"/api/v1/services/{SERVICE}/overrides/breakers/payments-db")
    assert 204 == deleted.status_code, deleted.text
    wait_for(lambda: breaker.state is CircuitState.CLOSED, timeout=2.0)
    assert agent.close()

    stats = agent.stats()
    assert (0, None, True) == (stats.dropped, stats.last_error, stats.connected)
    telemetry = served.get(f"/api/v1/services/{SERVICE}/telemetry")
    assert "charge" in str(telemetry)
    events = served.get("/api/v1/events", service=SERVICE, limit=100)["items"]
    sdk = [(e["kind"], e["attributes"].get("to_state")) for e in events if e["source"] == "sdk"]
    assert ("circuit_breaker.state_changed", "forced_open") in sdk
    assert ("circuit_breaker.state_changed", "closed") in sdk
    instances = served.get(f"/api/v1/services/{SERVICE}/instances")["items"]
    assert [(agent.options.instance, 0)] == [(i["instance"], i["dropped"]) for i in instances]
