"""`reliant demo`, end to end: every phase happens, and nothing is left running after it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reliant.cli.gameday import DEMO
from reliant.gameday.scenario import GameDay

#: Set-up (control plane, fleet) may take this long on a loaded machine, seconds.
SET_UP = 120.0


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def demo(out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "reliant", "demo", "--exit", "--plain", "--out", str(out)]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
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


def test_the_demo_plays_every_phase(tmp_path: Path) -> None:
    """`reliant demo --exit` passes every phase, writes the postmortem, stops its processes."""
    game = GameDay.from_yaml(DEMO)
    with demo(tmp_path) as process:
        output, _ = process.communicate(timeout=SET_UP + game.longest)
    assert 0 == process.returncode, output
    summary = output[output.index("game day storefront-payments-outage: every phase passed") :]
    for phase in game.phases:
        assert f"✔ {phase.name} " in summary, output
    postmortem = next(tmp_path.glob("postmortem-*.md")).read_text(encoding="utf-8")
    assert "# Postmortem: Checkout charges failing (StorefrontChargesBurn)" in postmortem
    assert "PAGE firing   StorefrontChargesBurn" in (tmp_path / "pager.log").read_text()
    pids = [int(p) for p in json.loads((tmp_path / "pids.json").read_text()).values()]
    assert [] == pids  # pids.json lists the running children: none
    assert "stopped 5 processes" in output


def running_children(out: Path) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads((out / "pids.json").read_text()).items()}


def test_ctrl_c_mid_game_day_stops_everything(tmp_path: Path) -> None:
    """SIGINT while the fault is on, and again while stopping: exit 130, nothing left."""
    with demo(tmp_path) as process:
        read_until(process, "▶ provider-fails", SET_UP + 60.0)
        children = running_children(tmp_path)
        assert {"control-plane", "pager", "inventory", "payments", "storefront"} == set(children)
        process.send_signal(signal.SIGINT)
        said = read_until(process, "stopping everything", 30.0)
        process.send_signal(signal.SIGINT)  # an impatient second Ctrl-C
        output, _ = process.communicate(timeout=60.0)
    assert 130 == process.returncode, output
    assert "interrupted in phase provider-fails; stopping everything" in said[-1]
    assert "stopped 5 processes" in output
    assert [] == [name for name, pid in children.items() if alive(pid)]


def test_ctrl_c_during_set_up_stops_what_started(tmp_path: Path) -> None:
    """SIGINT once the control plane serves, before the fleet is ready: nothing is left."""
    with demo(tmp_path) as process:
        read_until(process, "web UI http://127.0.0.1:", SET_UP)
        children = running_children(tmp_path)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60.0)
    assert 130 == process.returncode, output
    assert "interrupted; stopping everything" in output
    assert "control-plane" in children
    assert [] == [name for name, pid in children.items() if alive(pid)]
