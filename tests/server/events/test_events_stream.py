"""The live stream over Server-Sent Events, on a real server with a real streaming client."""

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
from events_helpers import SseReader
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from postgres_engine import free_port
from server_helpers import ADMIN, bearer

from reliant.server.db import transaction
from reliant.server.events import append, stream
from reliant.server.events.hub import HUB
from reliant.server.streams import close_streams

#: Bound on every wait of these tests.
DEADLINE = 20.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds, failing after DEADLINE seconds."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.02)  # polling interval of a probe, not a behavioural wait
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def live(app: FastAPI) -> Iterator[LiveServer]:
    """The control plane under uvicorn on loopback; its streams are ended before it stops."""
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        close_streams(app)
        server.stop()


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:
    """An admin client of the live server."""
    with httpx.Client(base_url=live.url, headers=bearer(ADMIN), timeout=10.0) as c:
        yield c


@pytest.fixture
def readers(live: LiveServer) -> Iterator[Callable[..., SseReader]]:
    """Open stream readers on the live server (as the admin); all closed at the end."""
    opened: list[SseReader] = []

    def open_reader(**kwargs: object) -> SseReader:
        reader = SseReader(live.url, ADMIN, **kwargs)  # type: ignore[arg-type]
        opened.append(reader)
        return reader

    try:
        yield open_reader
    finally:
        for reader in opened:
            reader.close()


def send(api: httpx.Client, *events: dict[str, object]) -> list[int]:
    """Ingest events on the live server; return their ids."""
    response = api.post("/api/v1/events", json={"events": list(events)})
    assert 202 == response.status_code, response.text
    return list(response.json()["ids"])


def test_stream_headers_and_starting_position(
    api: httpx.Client, readers: Callable[..., SseReader]
) -> None:
    """An SSE response that is not cached or buffered, starting with the newest id."""
    (newest,) = send(api, {"kind": "before.connect"})
    reader = readers()
    headers = reader.response.headers
    assert ("text/event-stream", "no-cache", "no") == (
        headers["content-type"].split(";")[0],
        headers["cache-control"],
        headers["x-accel-buffering"],
    )
    assert [f"retry: {stream.RETRY_MS}", f"id: {newest}"] == next(reader.blocks())


def test_live_events_arrive(api: httpx.Client, readers: Callable[..., SseReader]) -> None:
    """Events appended after connecting arrive in order, with their ids and JSON."""
    send(api, {"kind": "before.connect"})
    reader = readers()
    ids = send(api, {"kind": "live.one"}, {"kind": "live.two", "service": "payments"})
    ids += send(api, {"kind": "live.three", "attributes": {"n": 3}})
    events = reader.events(3)
    assert ids == [e["id"] for e in events]
    assert ["live.one", "live.two", "live.three"] == [e["kind"] for e in events]
    assert ("payments", {"n": 3}) == (events[1]["service"], events[2]["attributes"])


def test_resume_from_last_event_id_has_no_gap_or_duplicate(
    api: httpx.Client, readers: Callable[..., SseReader]
) -> None:
    """After reconnecting with Last-Event-ID, every later event arrives exactly once."""
    ids = send(api, *({"kind": f"resume.e{i}"} for i in range(5)))
    first = readers(headers={"Last-Event-ID": str(ids[1])}, params={"after": 0})
    assert ids[2:] == [e["id"] for e in first.events(3)]
    ids += send(api, {"kind": "resume.e5"})
    assert [ids[5]] == [e["id"] for e in first.events(1)]
    first.close()
    ids += send(api, {"kind": "resume.e6"}, {"kind": "resume.e7"})
    second = readers(headers={"Last-Event-ID": str(ids[5])})
    ids += send(api, {"kind": "resume.e8"})
    assert ids[6:] == [e["id"] for e in second.events(3)]


def test_after_and_filters(api: httpx.Client, readers: Callable[..., SseReader]) -> None:
    """`after=0` replays the stored events, then live ones, both through the filters."""
    matching = {"kind": "breaker.opened", "service": "payments", "severity": "error"}
    send(
        api,
        matching,
        {"kind": "breaker.opened", "service": "search", "severity": "error"},
        {"kind": "deploy.finished", "service": "payments", "severity": "error"},
        {"kind": "breaker.closed", "service": "payments", "severity": "info"},
        {"kind": "breaker.half_open", "service": "payments", "severity": "warning"},
    )
    params = {"after": 0, "service": "payments", "kind": "breaker.*", "severity": "warning"}
    reader = readers(params=params)
    assert ["breaker.opened", "breaker.half_open"] == [e["kind"] for e in reader.events(2)]
    send(api, {"kind": "breaker.closed", "service": "payments"}, {**matching, "kind": "breaker.x"})
    assert ["breaker.x"] == [e["kind"] for e in reader.events(1)]


def test_other_replicas_events_arrive_by_polling(
    app: FastAPI, readers: Callable[..., SseReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row another process committed (no wake-up here) is found by the next poll."""
    reader = readers()
    next(reader.blocks())
    monkeypatch.setattr(HUB, "poke", lambda: None)
    with transaction(app.state.sessions) as session:
        row = append(session, kind="replica.wrote", now=0.0)
    assert [row.id] == [e["id"] for e in reader.events(1)]


def test_keepalive_comments_in_silence(
    readers: Callable[..., SseReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quiet stream sends `: keepalive` comments so proxies keep it open."""
    monkeypatch.setattr(stream, "KEEPALIVE_SECONDS", 0.2)
    reader = readers()
    blocks = reader.blocks()
    next(blocks)
    assert [": keepalive"] == next(blocks)


def test_close_streams_ends_open_streams(
    app: FastAPI, api: httpx.Client, readers: Callable[..., SseReader]
) -> None:
    """Closing the app's streams ends each response, so the server can stop."""
    reader = readers()
    send(api, {"kind": "a.b"})
    reader.events(1)
    close_streams(app)
    assert [] == list(reader.blocks())


def test_leaving_client_releases_its_stream(
    api: httpx.Client, readers: Callable[..., SseReader]
) -> None:
    """When the client disconnects, the server's stream stops and unsubscribes."""
    before = HUB.waiting
    reader = readers()
    next(reader.blocks())
    assert before + 1 == HUB.waiting
    reader.close()
    send(api, {"kind": "after.leave"})
    wait_for(lambda: HUB.waiting == before, "the stream to end")


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"kind": "NOPE"}, {}),
        ({"after": -1}, {}),
        ({"after": 2**64}, {}),
        ({}, {"Last-Event-ID": "abc"}),
        ({}, {"Last-Event-ID": str(2**64)}),
        ({"since": "soon"}, {}),
    ],
)
def test_bad_stream_request_is_422(
    client: TestClient, params: dict[str, object], headers: dict[str, str]
) -> None:
    """Bad filters or positions are refused before streaming starts."""
    response = client.get("/api/v1/events/stream", params=params, headers=headers)
    assert 422 == response.status_code
    assert "application/problem+json" == response.headers["content-type"]


def test_server_stops_on_sigterm_with_open_streams(db_url: str, tmp_path: Path) -> None:
    """`reliant server` ends its streams on SIGTERM instead of waiting for the clients."""
    port = free_port()
    env = {**os.environ, "RELIANT_DATABASE_URL": db_url, "RELIANT_BOOTSTRAP_TOKEN": ADMIN}
    argv = [sys.executable, "-m", "reliant", "server", "--port", str(port)]
    argv += ["--data-dir", str(tmp_path), "--log-level", "warning"]
    process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    reader: SseReader | None = None
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, "the server to start")
        reader = SseReader(url, ADMIN)
        next(reader.blocks())
        process.send_signal(signal.SIGTERM)
        assert [] == list(reader.blocks())
        process.wait(timeout=DEADLINE)
    finally:
        if reader is not None:
            reader.close()
        if process.poll() is None:
            process.kill()
            process.wait()
