"""The config stream over real HTTP: a live server on loopback, changes arriving as events."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from live_server import LiveServer
from postgres_engine import free_port
from server_helpers import ADMIN, bearer
from sqlalchemy import text

from reliant.agent.protocol import config_stream_path
from reliant.server.db import transaction
from reliant.server.domains.config.notify import HUB, Hub
from reliant.server.domains.config.stream import config_events
from reliant.server.streams import Closing, close_streams

#: Seconds a test waits for something the server should do at once.
DEADLINE = 10.0
#: Seconds a real `reliant server` process may take to start and migrate a fresh store.
STARTUP = 60.0
BREAKER = "/api/v1/services/payments/overrides/breakers/payments-db"


class SseReader:
    """Reads a text/event-stream response event by event (comments included)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def next(self) -> dict[str, str]:
        """The next event or comment block: its fields (``comment`` for ``: ...`` lines)."""
        fields: dict[str, str] = {}
        for line in self.lines:
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    def next_config(self) -> tuple[int, dict[str, Any]]:
        """The next ``config`` event's id and document, skipping hints and keepalives."""
        while True:
            fields = self.next()
            if fields.get("event") == "config":
                return int(fields["id"]), json.loads(fields["data"])


@pytest.fixture
def server(app: FastAPI) -> Iterator[LiveServer]:
    """The test app served on loopback (LiveServer closes streams before it stops)."""
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """An admin client of the live server."""
    with httpx.Client(base_url=server.url, headers=bearer(ADMIN), timeout=DEADLINE) as c:
        yield c


def _stream(http: httpx.Client, service: str = "payments", **headers: str) -> Any:
    return http.stream("GET", config_stream_path(service), headers=headers)


def test_connect_sends_the_document_then_live_changes(http: httpx.Client) -> None:
    """On connect the document comes at once; an operator's change follows live."""
    with _stream(http) as response:
        assert "text/event-stream" in response.headers["content-type"]
        reader = SseReader(response)
        assert {"retry": "1000"} == reader.next()
        version, doc = reader.next_config()
        assert (0, {}) == (version, doc["breakers"])
        assert 200 == http.put(BREAKER, json={"state": "forced_open"}).status_code
        version, doc = reader.next_config()
        assert (1, 1, {"payments-db": {"state": "forced_open"}}) == (
            version,
            doc["version"],
            doc["breakers"],
        )
        http.delete(BREAKER)
        assert (2, {}) == (lambda v, d: (v, d["breakers"]))(*reader.next_config())


def test_resume_with_current_last_event_id_sends_nothing_first(http: httpx.Client) -> None:
    """A client that already has the current version gets only later changes."""
    http.put(BREAKER, json={"state": "disabled"})
    with _stream(http, **{"Last-Event-ID": "1"}) as response:
        reader = SseReader(response)
        http.put(BREAKER, json={"state": "metrics_only"})
        version, doc = reader.next_config()
        assert (2, {"state": "metrics_only"}) == (version, doc["breakers"]["payments-db"])


def test_resume_with_an_older_id_gets_the_current_document(http: httpx.Client) -> None:
    """A client behind the current version gets the document at once."""
    http.put(BREAKER, json={"state": "disabled"})
    http.put(BREAKER, json={"state": "forced_open"})
    with _stream(http, **{"Last-Event-ID": "1"}) as response:
        assert 2 == SseReader(response).next_config()[0]


def test_changes_from_another_replica_arrive_by_polling(http: httpx.Client, app: FastAPI) -> None:
    """A version bumped in the store without this process' wake-up still reaches streams."""
    with _stream(http) as response:
        reader = SseReader(response)
        assert 0 == reader.next_config()[0]
        with transaction(app.state.sessions) as session:  # as another replica would write
            session.execute(
                text(
                    "INSERT INTO config_versions (service, version, updated_at)"
                    " VALUES ('payments', 5, 0)"
                )
            )
        assert 5 == reader.next_config()[0]


def test_bound_ingest_token_streams_its_service(http: httpx.Client) -> None:
    """The SDK's own token opens its service's stream."""
    created = http.post(
        "/api/v1/tokens", json={"name": "sdk", "role": "ingest", "service": "payments"}
    )
    with _stream(http, **bearer(created.json()["token"])) as response:
        assert 0 == SseReader(response).next_config()[0]


def _wait_for(condition: Any, within: float = DEADLINE, state: Any = None) -> None:
    deadline = time.monotonic() + within
    while not condition():
        seen = "" if state is None else f" (state: {state()})"
        assert time.monotonic() < deadline, f"the server did not react in time{seen}"
        time.sleep(0.02)  # polling with a deadline, not a behavioural wait


def test_stream_ends_when_the_client_leaves(http: httpx.Client) -> None:
    """Closing the connection ends the server's stream (it unsubscribes)."""
    with _stream(http, "leaver") as response:
        SseReader(response).next_config()
        # The stream is subscribed while the client reads (polled: a loaded machine may
        # run the server's generator a moment behind the bytes the client already has).
        _wait_for(lambda: HUB.count("leaver") == 1, state=lambda: HUB.count("leaver"))
    _wait_for(lambda: HUB.count("leaver") == 0, state=lambda: HUB.count("leaver"))


def test_close_streams_ends_open_streams_and_lets_the_server_stop(app: FastAPI) -> None:
    """close_streams(app) ends open streams, so stopping the server does not wait on them."""
    live = LiveServer(app).start()
    try:
        with (
            httpx.Client(base_url=live.url, headers=bearer(ADMIN), timeout=DEADLINE) as http,
            _stream(http) as response,
        ):
            reader = SseReader(response)
            reader.next_config()
            close_streams(app)
            with pytest.raises(EOFError):
                reader.next()
            started = time.monotonic()
            live.stop()
            assert time.monotonic() - started < DEADLINE
    finally:
        if live._thread.is_alive():
            live.stop()


class _Fake:
    """A store whose version the test sets, and a client that may leave."""

    def __init__(self) -> None:
        self.version = 0
        self.gone = False

    async def read_version(self) -> int:
        return self.version

    async def read_document(self) -> dict[str, Any]:
        return {"service": "s", "version": self.version}

    async def disconnected(self) -> bool:
        return self.gone


def test_keepalive_comments_during_silence() -> None:
    """After `keepalive` seconds without an event, a `: keepalive` comment goes out."""

    async def scenario() -> list[str]:
        fake, hub = _Fake(), Hub()
        stream = config_events(
            "s",
            read_version=fake.read_version,
            read_document=fake.read_document,
            disconnected=fake.disconnected,
            closing=Closing(),
            last_event_id=0,
            hub=hub,
            poll=0.01,
            keepalive=0.05,
        )
        out = [await anext(stream), await anext(stream)]
        fake.version = 1
        hub.notify({"s"})
        out.append(await anext(stream))
        fake.gone = True
        out += [chunk async for chunk in stream]
        return out

    assert [
        "retry: 1000\n\n",
        ": keepalive\n\n",
        'event: config\nid: 1\ndata: {"service":"s","version":1}\n\n',
    ] == asyncio.run(scenario())


def test_closing_ends_the_generator_and_unsubscribes() -> None:
    """A closed app's stream returns, leaving no subscription behind."""

    async def scenario() -> tuple[list[str], int]:
        fake, hub = _Fake(), Hub()
        closing = Closing()
        stream = config_events(
            "s",
            read_version=fake.read_version,
            read_document=fake.read_document,
            disconnected=fake.disconnected,
            closing=closing,
            hub=hub,
            poll=5.0,
        )
        out = [await anext(stream), await anext(stream)]
        closing.close()
        out += [chunk async for chunk in stream]
        return out, hub.count()

    chunks, left = asyncio.run(scenario())
    assert (2, 0) == (len(chunks), left)


def test_server_stops_on_sigterm_with_open_config_streams(db_url: str, tmp_path: Path) -> None:
    """`reliant server` ends its config streams on SIGTERM instead of waiting for clients."""
    port = free_port()
    env = {**os.environ, "RELIANT_DATABASE_URL": db_url, "RELIANT_BOOTSTRAP_TOKEN": ADMIN}
    argv = [sys.executable, "-m", "reliant", "server", "--port", str(port)]
    argv += ["--data-dir", str(tmp_path), "--log-level", "warning"]
    process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(ready, STARTUP)  # a fresh store migrates first; slow on a loaded machine
        with (
            httpx.Client(base_url=url, headers=bearer(ADMIN), timeout=DEADLINE) as http,
            _stream(http) as response,
        ):
            reader = SseReader(response)
            assert 0 == reader.next_config()[0]
            process.send_signal(signal.SIGTERM)
            with pytest.raises(EOFError):
                reader.next()
        # uvicorn re-raises the captured SIGTERM once it has shut down: -15, not 0.
        assert process.wait(timeout=DEADLINE) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
