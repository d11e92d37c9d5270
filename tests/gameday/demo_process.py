"""Running `reliant demo` as a child process in tests, and reading what it prints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: Set-up (control plane, fleet) may take this long on a loaded machine, seconds.
SET_UP = 120.0


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def demo(out: Path, *, ignoring_sigint: bool = False) -> subprocess.Popen[str]:
    """``reliant demo --exit --plain --out OUT``; ``ignoring_sigint`` starts it as a shell
    starts a background job (``&``): with SIGINT ignored."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "reliant", "demo", "--exit", "--plain", "--out", str(out)]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=_ignore_sigint if ignoring_sigint else None,
    )


def read_until(process: subprocess.Popen[str], marker: str, deadline: float) -> list[str]:
    """Lines of the demo's output up to the first holding ``marker``."""
    assert process.stdout is not None
    lines: list[str] = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} in the output:\n{''.join(lines)}")


def running_children(out: Path) -> dict[str, int]:
    """The game day's running children by name, from its pids.json."""
    return {k: int(v) for k, v in json.loads((out / "pids.json").read_text()).items()}
