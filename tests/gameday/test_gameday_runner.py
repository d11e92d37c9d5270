"""Running game days: failures name the phase and what did not happen; bad set-ups are clear."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import httpx
import pytest

from reliant.gameday.processes import Supervisor, free_port
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


EXTERNAL = """\
name: external
phases:
  - name: switch
    do:
      - http: {method: GET, url: "{control_plane}/livez", expect_status: [200]}
      - override: {service: checkout, fault: chaos, enabled: true}
    expect:
      - event: {kind: config.changed, service: checkout, since: phase,
                attributes: {target: fault, name: chaos, change: set}}
    then:
      - override: {service: checkout, fault: chaos, remove: true}
  - name: switched-back
    expect:
      - event: {kind: config.changed, service: checkout, attributes: {name: chaos, change: removed}}
"""


def test_a_game_day_against_a_running_control_plane(tmp_path: Path) -> None:
    """--server/--token: nothing is started; overrides and checks go to that server."""
    token = "rlt_0123456789ab_" + "x" * 32
    supervisor = Supervisor(tmp_path)
    port = free_port()
    argv = [sys.executable, "-m", "reliant", "server", "--port", str(port)]
    argv += ["--data-dir", str(tmp_path / "store"), "--log-level", "warning"]
    plane = supervisor.start("plane", argv, port=port, env={"RELIANT_BOOTSTRAP_TOKEN": token})
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{plane.url}/readyz", timeout=2.0).is_success
            except httpx.HTTPError:
                return False

        supervisor.wait_ready(plane, ready, timeout=60.0)
        source = tmp_path / "gameday.yaml"
        source.write_text(EXTERNAL, encoding="utf-8")
        out = io.StringIO()
        options = RunOptions(exit=True, server=plane.url, token=token, out=tmp_path / "run")
        code = GameDayRun(GameDay.from_yaml(source), source, options, out).run()
        overrides = httpx.get(
            f"{plane.url}/api/v1/services/checkout/overrides",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5.0,
        ).json()
    finally:
        supervisor.stop_all()
    assert 0 == code, out.getvalue()
    assert "game day external: every phase passed (2/2 phases" in out.getvalue()
    assert "stopped" not in out.getvalue()  # it started nothing
    assert (2, []) == (overrides["version"], overrides["items"])  # set, then removed
