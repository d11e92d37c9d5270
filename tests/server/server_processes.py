"""Real server processes for tests: `reliant server` and friends, on loopback, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from server_helpers import ADMIN

#: Bound on every wait of this test.
DEADLINE = 30.0


def wait_for(condition: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``condition`` until it returns a truthy value, failing after ``deadline`` s."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            value = condition()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.05)  # polling interval of a readiness probe
    raise AssertionError(f"timed out waiting for {what}")


class Process:
    """A child process serving HTTP on a loopback port, stopped by PID."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(self.live, f"{argv[1:3]} to answer")
        except BaseException:
            # A server that did not answer in time must not outlive the test (and load
            # the machine for every test after it).
            self.process.kill()
            self.process.wait()
            raise

    def live(self) -> bool:
        """Whether it answers HTTP."""
        if self.process.poll() is not None:
            raise AssertionError(f"process exited with {self.process.returncode}")
        return httpx.get(f"{self.url}/livez", timeout=1).status_code < 500

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def control_plane(port: int, data_dir: Path, env: dict[str, str] | None = None) -> Process:
    """`reliant server` on ``port`` with its store in ``data_dir`` (or ``env``'s URL)."""
    argv = [
        sys.executable,
        "-m",
        "reliant",
        "server",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
    ]
    return Process(argv, port, {"RELIANT_BOOTSTRAP_TOKEN": ADMIN, **(env or {})})
