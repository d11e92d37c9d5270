"""Ctrl-C in any phase of `reliant demo`: it says where it was and leaves nothing running."""

from __future__ import annotations

import signal
from pathlib import Path

from demo_process import SET_UP, alive, demo, read_until, running_children


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
    assert "interrupted in phase provider-fails; stopping everything" in said[-1], output
    assert "stopped 5 processes" in output, output
    assert [] == [name for name, pid in children.items() if alive(pid)], output


def test_ctrl_c_during_set_up_stops_what_started(tmp_path: Path) -> None:
    """SIGINT once the control plane serves, before the fleet is ready: nothing is left;
    also when the demo was started with SIGINT ignored, as a shell's background job is."""
    with demo(tmp_path, ignoring_sigint=True) as process:
        read_until(process, "web UI http://127.0.0.1:", SET_UP)
        children = running_children(tmp_path)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60.0)
    assert 130 == process.returncode, output
    assert "interrupted; stopping everything" in output, output
    assert "control-plane" in children, output
    assert [] == [name for name, pid in children.items() if alive(pid)], output
