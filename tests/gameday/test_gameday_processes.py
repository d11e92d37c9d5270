"""The game day's processes: recorded by PID, stopped by PID, never outliving it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliant.gameday.processes import ProcessError, Supervisor, free_port

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(60)",
]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent has not reaped it yet).
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: object, what: str, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_children_are_recorded_and_stopped(tmp_path: Path) -> None:
    """pids.json lists the running children; stop_all ends them and empties it."""
    supervisor = Supervisor(tmp_path)
    child = supervisor.start("sleeper", SLEEPER, port=free_port())
    wait_until(lambda: "up" in child.log.read_text(), "the child's output in its log")
    assert {"sleeper": child.process.pid} == json.loads((tmp_path / "pids.json").read_text())
    supervisor.stop_all()
    assert (False, {}) == (
        alive(child.process.pid),
        json.loads((tmp_path / "pids.json").read_text()),
    )


def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    """After the grace period SIGKILL follows."""
    supervisor = Supervisor(tmp_path)
    child = supervisor.start("stubborn", STUBBORN, port=free_port())
    wait_until(lambda: "up" in child.log.read_text(), "the child to ignore SIGTERM")
    supervisor.stop_all(grace=0.3)
    assert -signal.SIGKILL == child.process.returncode


def test_a_child_that_exits_before_it_is_ready_is_reported(tmp_path: Path) -> None:
    """The error names the process, its status and the end of its log."""
    supervisor = Supervisor(tmp_path)
    argv = [sys.executable, "-c", "import sys; print('no config'); sys.exit(3)"]
    child = supervisor.start("broken", argv, port=free_port())
    with pytest.raises(ProcessError, match=r"broken exited with status 3 .*\n.*no config"):
        supervisor.wait_ready(child, lambda: False, timeout=30.0)


def test_a_child_that_never_gets_ready_times_out(tmp_path: Path) -> None:
    """A probe that never holds fails after the timeout, and the child is still stopped."""
    supervisor = Supervisor(tmp_path)
    child = supervisor.start("slow", SLEEPER, port=free_port())
    with pytest.raises(ProcessError, match=r"slow was not ready within 0\.2 s"):
        supervisor.wait_ready(child, lambda: False, timeout=0.2)
    supervisor.stop_all()
    assert not alive(child.process.pid)


def test_an_unknown_program_is_a_clear_error(tmp_path: Path) -> None:
    """A missing executable is named."""
    with pytest.raises(ProcessError, match="ghost: cannot start '/nonexistent/ghost'"):
        Supervisor(tmp_path).start("ghost", ["/nonexistent/ghost"], port=free_port())


def test_children_die_with_the_game_day(tmp_path: Path) -> None:
    """A game day killed with SIGKILL takes its children along (PR_SET_PDEATHSIG)."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from reliant.gameday.processes import Supervisor, free_port\n"
        f"supervisor = Supervisor(Path({str(tmp_path)!r}))\n"
        f"child = supervisor.start('sleeper', {SLEEPER!r}, port=free_port())\n"
        "print(child.process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert alive(pid)
        parent.kill()
    wait_until(lambda: not alive(pid), "the orphaned child to exit")
