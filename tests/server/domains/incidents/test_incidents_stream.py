"""An incident's live timeline over SSE, on a real server with a real streaming client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from live_server import LiveServer
from server_helpers import ADMIN, bearer

from reliant.server.streams import close_streams


class TimelineReader:
    """A streaming client of one incident's timeline; every read is bounded."""

    READ_TIMEOUT = 10.0

    def __init__(self, url: str, incident: int, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.Client(
            base_url=url,
            headers={**bearer(ADMIN), **(headers or {})},
            timeout=httpx.Timeout(self.READ_TIMEOUT),
        )
        path = f"/api/v1/incidents/{incident}/timeline/stream"
        self._context = self.http.stream("GET", path)
        self.response = self._context.__enter__()
        self.lines = self.response.iter_lines()

    def blocks(self) -> Iterator[dict[str, str]]:
        """The stream's blocks as field → value (comments dropped)."""
        block: dict[str, str] = {}
        for line in self.lines:
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    block[name] = value
                continue
            if block:
                yield block
            block = {}

    def entries(self, n: int) -> list[dict[str, Any]]:
        """The next ``n`` entries, checking each block's id is its event's."""
        found: list[dict[str, Any]] = []
        for block in self.blocks():
            if "data" not in block:
                continue
            entry = json.loads(block["data"])
            assert ("entry", entry["event_id"]) == (block["event"], int(block["id"]))
            found.append(entry)
            if len(found) == n:
                return found
        raise AssertionError(f"the stream ended after {len(found)} of {n} entries")

    def close(self) -> None:
        """Leave the stream."""
        self._context.__exit__(None, None, None)
        self.http.close()


@pytest.fixture
def live(app: FastAPI) -> Iterator[LiveServer]:
    """The control plane on loopback; its streams end before it stops."""
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
def readers(live: LiveServer) -> Iterator[Callable[..., TimelineReader]]:
    """Open timeline readers; all closed at the end."""
    opened: list[TimelineReader] = []

    def open_reader(incident: int, **kwargs: Any) -> TimelineReader:
        reader = TimelineReader(live.url, incident, **kwargs)
        opened.append(reader)
        return reader

    try:
        yield open_reader
    finally:
        for reader in opened:
            reader.close()


def declare(api: httpx.Client, **body: Any) -> int:
    response = api.post("/api/v1/incidents", json={"title": "t", "severity": "SEV2", **body})
    assert 201 == response.status_code, response.text
    return int(response.json()["id"])


def test_replays_the_timeline_then_streams_live_entries(
    api: httpx.Client, readers: Callable[..., TimelineReader]
) -> None:
    """A new stream sends the timeline so far, then new entries as they are appended:
    service events, notes, transitions; unrelated events are not sent."""
    incident = declare(api, services=["payments"])
    reader = readers(incident)
    assert ["incident.declared"] == [e["kind"] for e in reader.entries(1)]
    api.post("/api/v1/events", json={"kind": "deploy.finished", "service": "search"})
    api.post("/api/v1/events", json={"kind": "deploy.finished", "service": "payments"})
    note = api.post(f"/api/v1/incidents/{incident}/timeline", json={"text": "rolling back"})
    api.post(f"/api/v1/incidents/{incident}/transition", json={"to": "mitigated"})
    live = reader.entries(3)
    assert [
        ("event", "deploy.finished"),
        ("note", "incident.note_added"),
        ("event", "incident.mitigated"),
    ] == [(e["type"], e["kind"]) for e in live]
    assert ("payments", "rolling back", "incident mitigated") == (
        live[0]["service"],
        live[1]["text"],
        live[2]["text"],
    )
    assert live[1]["key"] == note.json()["key"]


def test_resume_with_last_event_id_has_no_gap_or_repeat(
    api: httpx.Client, readers: Callable[..., TimelineReader]
) -> None:
    """Reconnecting with Last-Event-ID sends exactly the entries missed."""
    incident = declare(api)
    first = readers(incident)
    (declared,) = first.entries(1)
    api.post(f"/api/v1/incidents/{incident}/timeline", json={"text": "one"})
    (one,) = first.entries(1)
    first.close()
    api.post(f"/api/v1/incidents/{incident}/timeline", json={"text": "two"})
    api.post(f"/api/v1/incidents/{incident}/timeline", json={"text": "three"})
    second = readers(incident, headers={"Last-Event-ID": str(one["event_id"])})
    assert ["two", "three"] == [e["text"] for e in second.entries(2)]
    assert declared["event_id"] < one["event_id"]


def test_pinned_state_is_sent(api: httpx.Client, readers: Callable[..., TimelineReader]) -> None:
    """Entries pinned before a stream starts arrive marked pinned."""
    incident = declare(api)
    key = api.post(f"/api/v1/incidents/{incident}/timeline", json={"text": "x"}).json()["key"]
    api.put(f"/api/v1/incidents/{incident}/timeline/{key}/pin")
    entries = readers(incident).entries(2)
    assert [False, True] == [e["pinned"] for e in entries]


def test_unknown_incident_and_bad_header_are_refused(api: httpx.Client) -> None:
    """No stream for a missing incident (404) or a malformed Last-Event-ID (422)."""
    assert 404 == api.get("/api/v1/incidents/77/timeline/stream").status_code
    incident = declare(api)
    bad = api.get(f"/api/v1/incidents/{incident}/timeline/stream", headers={"Last-Event-ID": "x"})
    assert 422 == bad.status_code
