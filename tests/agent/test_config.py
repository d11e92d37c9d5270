"""The config watcher: SSE parsing, the stream with resume, and the ETag polling fallback."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from agent_helpers import SERVICE, TOKEN, FakePlane, closed_port_url, plane, wait_for

from reliant.agent._http import Endpoint
from reliant.agent.config import ConfigWatcher, SSEParser


def feed(parser: SSEParser, text: str) -> list[tuple[str, str]]:
    events = []
    for line in text.splitlines(keepends=True):
        event = parser.feed(line.encode())
        if event is not None:
            events.append(event)
    return events


def test_sse_events_are_split_on_blank_lines() -> None:
    """Event type, multi-line data joined by newlines, comments ignored."""
    parser = SSEParser()
    stream = ': keepalive\n\nevent: config\nid: 7\ndata: {"a":\ndata: 1}\n\ndata: x\n\n'
    assert [("config", '{"a":\n1}'), ("message", "x")] == feed(parser, stream)
    assert "7" == parser.last_id


def test_sse_accepts_crlf_and_a_missing_space() -> None:
    """``data:x`` and CRLF line ends are valid event-stream syntax."""
    parser = SSEParser()
    assert [("config", "x")] == feed(parser, "event:config\r\ndata:x\r\n\r\n")


def test_sse_ignores_an_event_without_data() -> None:
    """A blank line after only an event type dispatches nothing and resets the type."""
    parser = SSEParser()
    assert [("message", "y")] == feed(parser, "event: config\n\ndata: y\n\n")


class Received:
    """Collects the documents a watcher hands over."""

    def __init__(self) -> None:
        self.documents: list[Mapping[str, Any]] = []

    def __call__(self, document: Mapping[str, Any]) -> None:
        self.documents.append(document)

    @property
    def versions(self) -> list[int]:
        return [d["version"] for d in self.documents]


def watcher(url: str, received: Received, **options: Any) -> ConfigWatcher:
    return ConfigWatcher(
        endpoint=Endpoint(url, TOKEN),
        service=SERVICE,
        on_document=received,
        timeout=2.0,
        rng=random.Random(3),
        log=lambda message: None,
        **options,
    )


@pytest.fixture
def fake() -> Iterator[FakePlane]:
    with plane() as p:
        yield p


def test_the_stream_delivers_the_current_document_then_each_change(fake: FakePlane) -> None:
    """On connect the current document arrives, then one per change."""
    received = Received()
    w = watcher(fake.url, received)
    w.start()
    try:
        wait_for(lambda: received.versions == [0])
        assert w.streaming
        fake.publish(breakers={"db": {"state": "forced_open"}})
        wait_for(lambda: received.versions == [0, 1])
    finally:
        w.close(2.0)
    assert {"db": {"state": "forced_open"}} == received.documents[1]["breakers"]
    assert f"Bearer {TOKEN}" == fake.stream_requests[0]["Authorization"]


def test_a_dropped_stream_resumes_with_last_event_id(fake: FakePlane) -> None:
    """After a cut the watcher reconnects with Last-Event-ID and gets no repeat."""
    received = Received()
    fake.publish()
    w = watcher(fake.url, received, reconnect_initial=0.01)
    w.start()
    try:
        wait_for(lambda: received.versions == [1])
        fake.cut_streams()
        wait_for(lambda: len(fake.stream_requests) == 2)
        fake.publish()
        wait_for(lambda: received.versions == [1, 2])
    finally:
        w.close(2.0)
    assert "1" == fake.stream_requests[1]["Last-Event-ID"]


def test_polling_uses_the_etag_and_applies_only_new_versions(fake: FakePlane) -> None:
    """200 applies and keeps the ETag; 304 changes nothing; a new version applies."""
    received = Received()
    w = watcher(fake.url, received)
    assert w.poll_once()
    assert not w.poll_once()
    fake.publish(faults={"latency": {"enabled": True}})
    assert w.poll_once()
    assert [0, 1] == received.versions
    assert [None, '"0"', '"0"'] == [r.get("If-None-Match") for r in fake.config_requests]


def test_when_the_stream_fails_the_watcher_polls(fake: FakePlane) -> None:
    """A stream answering 404 makes the watcher poll the document instead."""
    fake.stream_status = 404
    received = Received()
    w = watcher(fake.url, received, reconnect_initial=0.01, poll_interval=0.02)
    w.start()
    try:
        wait_for(lambda: received.versions == [0])
        fake.publish()
        wait_for(lambda: received.versions == [0, 1])
    finally:
        w.close(2.0)
    assert not w.streaming
    assert "config stream answered 404" == w.last_error
    assert any(r.get("If-None-Match") == '"0"' for r in fake.config_requests)


def test_an_unreachable_control_plane_is_reported_not_raised() -> None:
    """Connection errors of the stream and of polls end up in last_error."""
    received = Received()
    w = watcher(closed_port_url(), received)
    assert not w.stream_once()
    assert not w.poll_once()
    assert (w.last_error or "").startswith("config poll failed: ConnectionRefusedError")


def test_a_document_without_a_version_is_refused(fake: FakePlane) -> None:
    """A malformed document is an error, and nothing is applied."""
    fake.document = {"service": SERVICE, "version": "seven"}
    received = Received()
    w = watcher(fake.url, received)
    assert not w.poll_once()
    assert (
        [],
        "config poll failed: ValueError: a config document needs an integer version, got 'seven'",
    ) == (
        received.documents,
        w.last_error,
    )


def test_close_interrupts_an_open_stream(fake: FakePlane) -> None:
    """close() shuts the socket: the thread ends at once, not at the read timeout."""
    received = Received()
    w = watcher(fake.url, received)
    w.start()
    wait_for(lambda: received.versions == [0])
    started = time.monotonic()
    w.close(5.0)
    assert time.monotonic() - started < 2.0
    assert w._thread is not None
    assert not w._thread.is_alive()
