"""`reliant events list|tail` against a live control plane."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from fastapi import FastAPI
from live_server import LiveServer
from server_helpers import ADMIN, START, bearer

from reliant.cli import main
from reliant.cli.events import line, parse_sse
from reliant.server.app import create_app
from reliant.server.db import transaction
from reliant.server.events import append
from reliant.server.settings import Settings
from reliant.server.streams import close_streams

#: Seconds a test waits for a line of `reliant events tail`.
DEADLINE = 30.0


@pytest.fixture
def live(app: FastAPI) -> Iterator[LiveServer]:
    """The control plane on loopback."""
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        close_streams(app)
        server.stop()


def send(url: str, *events: dict[str, Any]) -> list[int]:
    """Ingest events as the admin; return their ids."""
    response = httpx.post(
        f"{url}/api/v1/events", json={"events": list(events)}, headers=bearer(ADMIN), timeout=10
    )
    assert 202 == response.status_code, response.text
    return list(response.json()["ids"])


class Tail:
    """`reliant events tail` as a user runs it: a process whose output lines are queued."""

    def __init__(self, url: str, *args: str, token: str = ADMIN) -> None:
        argv = [sys.executable, "-m", "reliant", "events", "tail", "--url", url, "--token", token]
        self.process = subprocess.Popen(
            [*argv, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.pumps = [
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            for stream, sink in (
                (self.process.stdout, self.out.put),
                (self.process.stderr, self.err.append),
            )
        ]
        for pump in self.pumps:
            pump.start()

    @staticmethod
    def _pump(stream: IO[str], sink: Any) -> None:
        for text in stream:
            sink(text.rstrip("\n"))

    def lines(self, n: int) -> list[str]:
        """The next ``n`` lines it prints (each awaited at most DEADLINE seconds)."""
        return [self.out.get(timeout=DEADLINE) for _ in range(n)]

    def wait(self) -> int:
        """Its exit code."""
        return self.process.wait(timeout=DEADLINE)

    def stop(self) -> None:
        """Kill it if it still runs, and close its pipes once read to the end."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pump in self.pumps:
            pump.join(DEADLINE)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def test_list_filters_and_json(live: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    """`events list -o json` prints the matching events, newest first."""
    send(
        live.url,
        {"kind": "breaker.opened", "service": "payments", "severity": "warning"},
        {"kind": "breaker.closed", "service": "payments"},
        {"kind": "deploy.finished", "service": "payments", "severity": "error"},
    )
    argv = ["events", "list", "--url", live.url, "--token", ADMIN, "-o", "json"]
    assert 0 == main([*argv, "--kind", "breaker.*", "--severity", "warning", "--since", "1h"])
    assert ["breaker.opened"] == [e["kind"] for e in json.loads(capsys.readouterr().out)]


def test_list_table_follows_pages_to_the_limit(
    live: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`events list --limit N` prints N rows as a table with a header."""
    send(live.url, *({"kind": f"page.e{i}", "attributes": {"i": i}} for i in range(5)))
    assert 0 == main(["events", "list", "--url", live.url, "--token", ADMIN, "--limit", "3"])
    header, *rows = capsys.readouterr().out.splitlines()
    assert ["ID", "TIME", "SEVERITY", "SERVICE", "KIND", "ATTRIBUTES"] == header.split()
    assert [["5", "page.e4"], ["4", "page.e3"], ["3", "page.e2"]] == [
        [r.split()[0], r.split()[5]] for r in rows
    ]


def test_list_bad_filter_is_one_line_and_exit_1(
    live: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server's problem becomes one line on stderr."""
    assert 1 == main(["events", "list", "--url", live.url, "--token", ADMIN, "--kind", "X"])
    assert capsys.readouterr().err.startswith("reliant: 422 Invalid Request: query.kind:")


def test_line_format() -> None:
    """A tail line: UTC time, severity, service, kind, then attributes as key=value."""
    event = {
        "time": START,
        "severity": "warning",
        "service": "payments",
        "kind": "breaker.opened",
        "attributes": {"name": "db", "rate": 0.5, "note": "two words"},
    }
    expected = (
        '2027-01-15 08:00:00  WARNING   payments  breaker.opened  name=db rate=0.5 note="two words"'
    )
    assert expected == line(event)
    assert "2027-01-15 08:00:00  INFO      -  a.b" == line(
        {"time": START, "severity": "info", "service": None, "kind": "a.b"}
    )


def test_parse_sse() -> None:
    """Blocks with an id are yielded; comments and id-less blocks are skipped."""
    lines = ["retry: 2000", "id: 4", "", ": keepalive", "", "id: 5", "event: event"]
    lines += ["data: {}", "", "data: orphan", ""]
    assert [(4, None), (5, "{}")] == list(parse_sse(iter(lines)))


def test_tail_prints_stored_then_live_events_and_stops_at_max(live: LiveServer) -> None:
    """`--from-start --max 3` prints what is stored, then live events, and exits 0."""
    ids = send(live.url, {"kind": "tail.one"}, {"kind": "tail.two"})
    tail = Tail(live.url, "--from-start", "--max", "3", "-o", "json")
    try:
        assert ids == [json.loads(t)["id"] for t in tail.lines(2)]
        ids += send(live.url, {"kind": "tail.three"})
        assert ids[2] == json.loads(tail.lines(1)[0])["id"]
        assert 0 == tail.wait()
    finally:
        tail.stop()


def test_tail_filters_and_ctrl_c_exits_0(live: LiveServer) -> None:
    """Only matching events are printed, one line each; Ctrl-C ends it with exit code 0."""
    tail = Tail(live.url, "--after", "0", "--service", "payments", "--severity", "error")
    try:
        send(
            live.url,
            {"kind": "a.quiet", "service": "payments"},
            {"kind": "a.loud", "service": "search", "severity": "critical"},
            {"kind": "a.loud", "service": "payments", "severity": "critical"},
        )
        assert "CRITICAL  payments  a.loud" in tail.lines(1)[0]
        tail.process.send_signal(signal.SIGINT)
        assert 0 == tail.wait()
        assert tail.out.empty()
    finally:
        tail.stop()


def test_tail_refused_token_exits_1(live: LiveServer) -> None:
    """A token the server refuses ends `tail` at once with the problem on stderr."""
    tail = Tail(live.url, token="rlt_000000000009_not-a-real-secret-at-all")
    try:
        assert 1 == tail.wait()
        assert tail.err[0].startswith("reliant: 401 Unauthorized")
    finally:
        tail.stop()


class PortServer(LiveServer):
    """A live server on a given port (to restart a server where clients know it)."""

    def __init__(self, app: FastAPI, port: int) -> None:
        super().__init__(app)
        self._socket.close()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = port


def test_tail_reconnects_and_misses_nothing(settings: Settings, tmp_path: Path) -> None:
    """After the server restarts, tail resumes after the last event shown: no gap, no repeat."""
    first_app = create_app(settings)
    first = LiveServer(first_app).start()
    url = first.url
    tail = Tail(url, "--from-start", "--max", "5", "-o", "json")
    second: LiveServer | None = None
    second_app: FastAPI | None = None
    try:
        ids = send(url, {"kind": "before.one"}, {"kind": "before.two"})
        assert ids == [json.loads(t)["id"] for t in tail.lines(2)]
        close_streams(first_app)
        first.stop()
        with transaction(first_app.state.sessions) as session:
            ids.append(append(session, kind="while.down", now=START).id)
        second_app = create_app(settings)
        second = PortServer(second_app, first.port).start()
        ids += send(url, {"kind": "after.one"}, {"kind": "after.two"})
        shown = [json.loads(t) for t in tail.lines(3)]
        assert ids[2:] == [e["id"] for e in shown]
        assert ["while.down", "after.one", "after.two"] == [e["kind"] for e in shown]
        assert 0 == tail.wait()
        assert any("reconnecting" in e for e in tail.err)
    finally:
        tail.stop()
        if second is not None and second_app is not None:
            close_streams(second_app)
            second.stop()
            second_app.state.engine.dispose()
        first_app.state.engine.dispose()
