"""End to end: a real FastAPI service using the SDK, linked to a real `reliant server`.

Its telemetry and breaker events reach the API and the live stream; an operator forces the
breaker open from the CLI and the service obeys within 2 s; stopping the control plane does
not disturb the service, and what it buffered meanwhile arrives after the restart.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from postgres_engine import free_port
from server_helpers import ADMIN, bearer
from server_processes import Process, control_plane, wait_for

HERE = Path(__file__).resolve().parent


class Collector:
    """Reads the live event stream in a thread, keeping every event's data."""

    def __init__(self, url: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        params = {"service": "storefront", "kind": "circuit_breaker.*"}
        with httpx.stream(
            "GET",
            f"{url}/api/v1/events/stream",
            params=params,
            headers=bearer(ADMIN),
            timeout=httpx.Timeout(5, read=None),
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    self.events.append(json.loads(line[5:]))
                if self._stop.is_set():
                    return

    def close(self) -> None:
        """Stop reading (at the next line the server sends)."""
        self._stop.set()


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Process]:
    """A control plane on a fixed port (so it can come back on the same one)."""
    server = control_plane(free_port(), tmp_path / "plane")
    try:
        yield server
    finally:
        server.stop()


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    """Run the `reliant` CLI as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "reliant", *args, "--url", url, "--token", ADMIN],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def totals(url: str) -> dict[str, int]:
    """The control plane's telemetry totals of storefront's `charge` operation."""
    body = httpx.get(
        f"{url}/api/v1/services/storefront/telemetry", headers=bearer(ADMIN), timeout=5
    ).json()
    for op in body["operations"]:
        if op["operation"] == "charge":
            t = op["totals"]
            return {"success": t["count"] - t["errors"], "failed": t["errors"]}
    return {"success": 0, "failed": 0}


def test_service_linked_to_the_control_plane(plane: Process, tmp_path: Path) -> None:
    """Telemetry and events flow, overrides obey within 2 s, an outage of the plane is harmless."""
    token = httpx.post(
        f"{plane.url}/api/v1/tokens",
        headers=bearer(ADMIN),
        timeout=5,
        json={"name": "storefront-sdk", "role": "ingest", "service": "storefront"},
    ).json()["token"]
    port = free_port()
    shop = Process(
        [sys.executable, str(HERE / "e2e_storefront.py"), str(port), plane.url, token], port
    )
    stream = Collector(plane.url)
    try:
        call = lambda: httpx.get(f"{shop.url}/call", timeout=5).json()  # noqa: E731
        state = lambda: httpx.get(f"{shop.url}/state", timeout=5).json()  # noqa: E731
        assert all(call()["ok"] for _ in range(10))
        httpx.post(f"{shop.url}/fail", params={"on": 1}, timeout=5)
        assert [False] * 4 == [call()["ok"] for _ in range(4)]
        assert "open" == state()["state"]
        httpx.post(f"{shop.url}/fail", params={"on": 0}, timeout=5)

        # Telemetry and the breaker's events arrive in the API and the live stream.
        wait_for(lambda: totals(plane.url) == {"success": 10, "failed": 4}, "telemetry")
        listed = httpx.get(
            f"{plane.url}/api/v1/events",
            headers=bearer(ADMIN),
            timeout=5,
            params={"service": "storefront", "kind": "circuit_breaker.state_changed"},
        ).json()["items"]
        assert "open" in [e["attributes"]["to_state"] for e in listed]
        wait_for(
            lambda: any(e["attributes"].get("to_state") == "open" for e in stream.events),
            "the breaker event on the live stream",
        )

        # An operator forces the breaker open from the CLI; the service obeys within 2 s of
        # the change being stored (the CLI has exited), its own start-up not counted.
        wait_for(
            lambda: state()["state"] == "closed" or call()["state"] == "closed",
            "the breaker to close again after open_for",
        )
        cli("breakers", "force-open", "storefront", "payments-db", url=plane.url)
        started = time.monotonic()
        wait_for(lambda: state()["state"] == "forced_open", "the forced state", deadline=2.0)
        obeyed = time.monotonic() - started
        assert obeyed <= 2.0
        assert not call()["ok"]
        cli("breakers", "auto", "storefront", "payments-db", url=plane.url)
        wait_for(lambda: state()["state"] == "closed", "the breaker back to automatic")
        wait_for(lambda: state()["buffered"] == 0, "the service to push what it had")
        before = totals(plane.url)

        # The control plane goes away: the service keeps serving, buffering telemetry.
        plane.stop()
        assert all(call()["ok"] for _ in range(20))
        wait_for(lambda: not state()["connected"], "the service to notice the outage")
        assert state()["buffered"] > 0

        # It comes back on the same port and store: the buffered telemetry arrives.
        back = control_plane(plane.port, tmp_path / "plane")
        plane.process = back.process
        expected = {"success": before["success"] + 20, "failed": before["failed"]}
        wait_for(
            lambda: totals(plane.url) == expected, "buffered telemetry after restart", deadline=90.0
        )
        assert 0 == state()["dropped"]
    finally:
        stream.close()
        shop.stop()
