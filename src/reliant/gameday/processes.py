"""The processes a game day starts: each recorded by PID, each stopped by PID, always.

Children run in sessions of their own, so a Ctrl-C at the terminal reaches the game day
alone and it stops them in order; on Linux each also gets ``SIGTERM`` if the game day
itself dies (``PR_SET_PDEATHSIG``), so none outlives a ``kill -9`` of its parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: Seconds a process has to exit after SIGTERM before it gets SIGKILL.
STOP_GRACE = 5.0
_PR_SET_PDEATHSIG = 1


class ProcessError(Exception):
    """A process did not start or did not become ready; the message says which and why."""


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(slots=True)
class Child:
    """A started process: its name, PID handle, port and log file."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 8) -> str:
        """The last lines of its log, for error messages."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Starts processes, waits for them to serve, and stops every one it started.

    Args:
        directory: where each process's log goes (``<name>.log``) and ``pids.json``, the
            PIDs of the processes running, kept current so tests and people can check.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.children: list[Child] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        env: Mapping[str, str] | None = None,
    ) -> Child:
        """Start ``argv`` with its output in ``<directory>/<name>.log``.

        Raises:
            ProcessError: the program could not be started.
        """
        log = self.directory / f"{name}.log"
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with open(log, "ab") as out:
            try:
                process = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=environment,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,  # only prctl: no locks taken
                )
            except OSError as exc:
                raise ProcessError(f"{name}: cannot start {argv[0]!r}: {exc}") from None
        child = Child(name=name, process=process, port=port, log=log)
        self.children.append(child)
        self._record()
        return child

    def wait_ready(
        self,
        child: Child,
        probe: Callable[[], bool],
        *,
        timeout: float,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> None:
        """Poll ``probe`` until it is true.

        Raises:
            ProcessError: the process exited, or ``timeout`` passed, first.
        """
        deadline = time.monotonic() + timeout
        while not probe():
            if (code := child.process.poll()) is not None:
                raise ProcessError(
                    f"{child.name} exited with status {code} before it was ready; "
                    f"the end of {child.log}:\n{child.tail()}"
                )
            if time.monotonic() > deadline:
                raise ProcessError(
                    f"{child.name} was not ready within {timeout:g} s; "
                    f"the end of {child.log}:\n{child.tail()}"
                )
            if interrupted():
                return
            time.sleep(0.1)

    def exited(self) -> list[Child]:
        """Children that have exited by themselves."""
        return [c for c in self.children if c.process.poll() is not None]

    def stop_all(self, *, grace: float = STOP_GRACE) -> None:
        """SIGTERM every child, newest first; SIGKILL those still running after ``grace``."""
        running = [c for c in reversed(self.children) if c.process.poll() is None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in running:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                child.process.wait()
        self._record()

    def _record(self) -> None:
        pids = {c.name: c.process.pid for c in self.children if c.process.poll() is None}
        path = self.directory / "pids.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(pids), encoding="utf-8")
        temporary.replace(path)


def open_log(path: Path) -> IO[str]:
    """A line-buffered text log (the game day's own)."""
    return open(path, "a", encoding="utf-8", buffering=1)
