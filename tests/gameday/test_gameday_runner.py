"""Running game days: failures name the phase and what did not happen; bad set-ups are clear."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from reliant.gameday.runner import GameDayError, GameDayRun, RunOptions, fill
from reliant.gameday.scenario import GameDay

NEVER = """\
name: never
phases:
  - name: calm
    do:
      - say: nothing happens
  - name: waits-for-a-page
    say: An alert that nobody raises.
    expect:
      - alert: {labels: {alertname: NeverFires}}
      - event: {kind: runbook.run_started, attributes: {runbook: nope}}
    timeout: 2s
  - name: never-reached
    expect:
      - incident: {state: resolved}
"""


def run(tmp_path: Path, text: str) -> tuple[int, str]:
    source = tmp_path / "gameday.yaml"
    source.write_text(text, encoding="utf-8")
    out = io.StringIO()
    game = GameDay.from_yaml(source)
    options = RunOptions(exit=True, out=tmp_path / "run")
    code = GameDayRun(game, source, options, out).run()
    return code, out.getvalue()


def test_a_phase_that_does_not_happen_fails_the_run(tmp_path: Path) -> None:
    """Exit 1; the summary names the phase, each missing outcome and what was seen instead."""
    code, output = run(tmp_path, NEVER)
    assert 1 == code, output
    assert "game day never: FAILED (1/3 phases" in output
    assert (
        "✘ waits-for-a-page failed: not within 2 s: alert: labels alertname=NeverFires, "
        "state firing (last seen: no such alert yet); event: kind runbook.run_started, "
        "attributes runbook=nope (last seen: 0 runbook.run_started events, none matching)"
    ) in output
    assert "  - never-reached" in output
    assert {} == json.loads((tmp_path / "run" / "pids.json").read_text())


def test_a_fleet_process_that_crashes_is_reported(tmp_path: Path) -> None:
    """A process exiting before it is ready stops the set-up, quoting its log."""
    text = (
        "name: crash\nfleet:\n  - name: broken\n"
        f"    command: [{sys.executable!r}, -c, 'import sys; print(\"bad config\"); sys.exit(4)']\n"
        "phases:\n  - {name: only}\n"
    )
    code, output = run(tmp_path, text)
    assert 1 == code
    assert "could not set up crash: broken exited with status 4 before it was ready" in output
    assert "bad config" in output


def test_unknown_job_names_stop_the_embedded_control_plane(tmp_path: Path) -> None:
    """A job interval for a job that does not exist is refused, listing the jobs."""
    text = (
        "name: jobs\ncontrol_plane:\n  job_intervals: {slo.evaluat: 2s}\n"
        "phases:\n  - {name: only}\n"
    )
    code, output = run(tmp_path, text)
    assert 1 == code
    assert "control-plane exited with status 2" in output
    assert "unknown jobs ['slo.evaluat']; the jobs are" in output


def test_placeholders_are_filled_and_unknown_ones_named() -> None:
    """Known placeholders are replaced, {n} is kept for the traffic, others are refused."""
    values = {"port": "81", "url:payments": "http://127.0.0.1:82"}
    text = "--port {port} --upstream payments={url:payments} order-{n}"
    expected = "--port 81 --upstream payments=http://127.0.0.1:82 order-{n}"
    assert expected == fill(text, values)
    with pytest.raises(
        GameDayError, match=r"unknown placeholder \{nope\} in 'x{nope}'; known: \{port\}"
    ):
        fill("x{nope}", values)
