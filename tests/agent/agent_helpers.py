"""A stand-in control plane on loopback for the agent's tests, and small helpers.

``FakePlane`` serves the three endpoints of the SDK link protocol with the standard
library's HTTP server, in a thread: it records every push (gunzipped and decoded),
answers pushes with statuses queued by the test, serves the config document with an
``ETag`` and ``If-None-Match``, and streams it as Server-Sent Events.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reliant.agent.agent import Agent, AgentOptions
from reliant.agent.protocol import INGEST_PATH, config_path, config_stream_path
from reliant.testing import VirtualClock

SERVICE = "payments"
TOKEN = "ingest-token"
#: 2027-01-15T08:00:00Z, a multiple of the bucket size.
WALL_START = 1_800_000_000.0


#: Every agent the helpers made; the autouse fixture in conftest.py closes them.
CREATED: list[Agent] = []


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``condition`` until true (readiness polling with a deadline, never a sleep for time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.005)


class FakePlane:
    """Records pushes and serves a config document; see the module docstring."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        self.push_headers: list[dict[str, str]] = []
        self.config_requests: list[dict[str, str]] = []
        self.stream_requests: list[dict[str, str]] = []
        self.statuses: deque[int] = deque()
        self.document: dict[str, Any] = {"service": SERVICE, "version": 0}
        self.stream_status = 200
        self._changed = threading.Condition()
        self._generation = 0  # bumped to cut every open stream
        self._closing = False
        plane = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                plane._ingest(self)

            def do_GET(self) -> None:
                if self.path == config_stream_path(SERVICE):
                    plane._stream(self)
                elif self.path == config_path(SERVICE):
                    plane._config(self)
                else:
                    self.send_error(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- test controls ----------------------------------------------------------------

    def publish(self, **sections: Any) -> None:
        """Replace the document's sections and bump its version (streams get it)."""
        with self._changed:
            version = self.document["version"] + 1
            self.document = {"service": SERVICE, "version": version, **sections}
            self._changed.notify_all()

    def cut_streams(self) -> None:
        """Close every open stream (clients should reconnect)."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # -- handlers ---------------------------------------------------------------------

    def _ingest(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers["Content-Length"]))
        if h.path != INGEST_PATH:
            h.send_error(404)
            return
        headers = dict(h.headers.items())
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.push_headers.append(headers)
        self.batches.append(json.loads(body))
        status = self.statuses.popleft() if self.statuses else 202
        reply = json.dumps({"detail": "test says no"} if status >= 300 else {}).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(reply)))
        h.end_headers()
        h.wfile.write(reply)

    def _config(self, h: BaseHTTPRequestHandler) -> None:
        self.config_requests.append(dict(h.headers.items()))
        document = self.document
        etag = f'"{document["version"]}"'
        if h.headers.get("If-None-Match") == etag:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body = json.dumps(document).encode()
        h.send_response(200)
        h.send_header("ETag", etag)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _stream(self, h: BaseHTTPRequestHandler) -> None:
        self.stream_requests.append(dict(h.headers.items()))
        if self.stream_status != 200:
            h.send_error(self.stream_status)
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        last = h.headers.get("Last-Event-ID")
        sent = int(last) if last is not None else None
        generation = self._generation
        try:
            h.wfile.write(b": hello\n\n")
            while True:
                with self._changed:
                    document = self.document
                    if document["version"] == sent:
                        self._changed.wait(0.05)
                        if self._closing or self._generation != generation:
                            return
                        continue
                data = json.dumps(document)
                h.wfile.write(
                    f"event: config\nid: {document['version']}\ndata: {data}\n\n".encode()
                )
                h.wfile.flush()
                sent = document["version"]
        except OSError:
            return  # the client went away


@contextmanager
def plane() -> Iterator[FakePlane]:
    """A running FakePlane, closed afterwards."""
    fake = FakePlane()
    try:
        yield fake
    finally:
        fake.close()


def make_agent(url: str, **options: Any) -> tuple[Agent, VirtualClock, VirtualClock]:
    """An agent on virtual clocks, subscribed but with no threads: tests drive it.

    Returns:
        ``(agent, clock, wall)``: the scheduling clock and the wall clock.
    """
    clock = VirtualClock()
    wall = VirtualClock(WALL_START)
    defaults: dict[str, Any] = {
        "url": url,
        "token": TOKEN,
        "service": SERVICE,
        "instance": "test:1:abcd",
        "timeout": 2.0,
    }
    import random

    agent = Agent(
        AgentOptions(**{**defaults, **options}),
        clock=clock,
        wall=wall.now,
        rng=random.Random(7),
        start=False,
    )
    agent.start(threads=False)
    CREATED.append(agent)
    return agent, clock, wall


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connections are refused at once)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
