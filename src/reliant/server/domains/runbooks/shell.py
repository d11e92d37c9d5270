"""Run an allow-listed command for a shell step: no shell, a minimal environment, output
captured and capped, the whole process group killed at the timeout or on cancellation.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reliant.server.domains.runbooks.masking import OUTPUT_LIMIT, Masker, capped

#: The PATH commands see.
PATH = "/usr/local/bin:/usr/bin:/bin"
#: Seconds between two looks at a running command (exit, timeout, cancellation).
POLL = 0.05
#: Seconds a command has to exit after SIGTERM before SIGKILL.
GRACE = 2.0

_LIVE: set[int] = set()
_LIVE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Finished:
    """How a command ended: its exit status (``None``: killed by us), output, and why."""

    status: int | None
    output: str
    reason: str | None


def _kill_all() -> None:
    # At interpreter exit: commands die with the server instead of running unwatched.
    with _LIVE_LOCK:
        groups = list(_LIVE)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


atexit.register(_kill_all)


def _reader(stream: object, kept: bytearray, total: list[int], keep: int) -> None:
    read = getattr(stream, "read1", None) or stream.read  # type: ignore[attr-defined]
    while chunk := read(65536):
        total[0] += len(chunk)
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    cancelled: threading.Event,
    masker: Masker,
    limit: int = OUTPUT_LIMIT,
) -> Finished:
    """Run ``argv`` (``argv[0]`` an absolute path) in a fresh directory and session.

    Args:
        env: variables added to the minimal environment (``PATH``, ``HOME``, ``LANG``).
        timeout: seconds before the process group is killed.
        cancelled: set to kill the process group early (the run was cancelled).
        masker: hides secrets in the output before it is cut.
    """
    with tempfile.TemporaryDirectory(prefix="reliant-step-") as home:
        environment = {"PATH": PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", **env}
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=home,
            start_new_session=True,
            close_fds=True,
        )
        with _LIVE_LOCK:
            _LIVE.add(process.pid)
        kept = bytearray()
        total = [0]
        reader = threading.Thread(
            target=_reader,
            args=(process.stdout, kept, total, limit + masker.longest),
            name="reliant-step-output",
            daemon=True,
        )
        reader.start()
        reason = _watch(process, timeout, cancelled)
        # Whatever the command left behind in its group goes too, so the pipe closes.
        _signal(process.pid, signal.SIGKILL)
        with _LIVE_LOCK:
            _LIVE.discard(process.pid)
        reader.join(timeout=5.0)
        assert process.stdout is not None
        process.stdout.close()
        status = process.wait() if reason is None else None
    return Finished(status, capped(bytes(kept), total[0], masker, limit=limit), reason)


def _watch(
    process: subprocess.Popen[bytes], timeout: float, cancelled: threading.Event
) -> str | None:
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if cancelled.is_set():
            _stop(process)
            return "cancelled: the command was killed"
        if time.monotonic() >= deadline:
            _stop(process)
            return f"timed out after {timeout:g}s: the command was killed"
        cancelled.wait(POLL)
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    _signal(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        _signal(process.pid, signal.SIGKILL)
        process.wait()


def _signal(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
