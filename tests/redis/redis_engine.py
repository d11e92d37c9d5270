"""A real redis-server for the tests: temp dir, free port, PING readiness, stop by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

#: How long a server may take to answer PING after it was started.
READY_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ping(port: int) -> bool:
    """Whether a Redis on ``port`` answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on loopback, restartable on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="reliant-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait (bounded) until it answers PING."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(Path(self._dir.name)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT
        while not ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)  # readiness polling, bounded by READY_TIMEOUT

    def kill(self) -> None:
        """Kill the server at once (SIGKILL by PID), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop the server by PID (SIGTERM, then SIGKILL) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        self._dir.cleanup()


def hammer(
    url: str, key: str, emission_us: int, tolerance_us: int, seconds: float, go: Any, out: Any
) -> None:
    """Put on ``out`` the admissions 4 threads get hammering ``key`` for ``seconds``.

    Runs in a spawned process (so it lives here, not in a test module), after waiting
    on the ``go`` barrier; fail-closed, so a Redis hiccup can only deny, never admit.
    """
    import threading

    from reliant.redis import RedisBackend

    backend = RedisBackend.from_url(url, fail_mode="closed", read_timeout=2.0, connect_timeout=2.0)
    counts = [0] * 4
    stop = 0.0

    def worker(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            if backend.gcra(key, emission_us, tolerance_us, 1).allowed:
                n += 1
        counts[i] = n

    backend.gcra(key + ":warm", emission_us, tolerance_us, 0)  # connect and load the script
    go.wait(timeout=60)
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    backend.close()
    out.put(sum(counts))
