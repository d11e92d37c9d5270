"""Tests for reliant.cli: `reliant simulate` end to end through main([...])."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from reliant.cli import main

SCENARIO = """\
name: cli
seed: 4
duration: 20s
traffic: {rate: 10, arrivals: uniform}
dependency:
  latency: 20ms
  incidents: [{name: outage, start: 10s, end: 15s, failure_rate: 1}]
candidates:
  - {name: bare}
  - name: retry
    pipeline: [{kind: retry, attempts: 2, backoff: {kind: constant, delay: 10ms}}]
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A small valid scenario file."""
    path = tmp_path / "cli.yaml"
    path.write_text(SCENARIO)
    return path


def test_simulate_prints_a_table_by_default(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`reliant simulate FILE` prints the side-by-side table and exits 0."""
    assert 0 == main(["simulate", str(scenario)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert ("cli (seed 4)", ["bare", "retry"]) == (lines[0], lines[4].split())
    assert ["load", "amplification", "1.00x", "1.25x"] == next(
        line.split() for line in lines if line.startswith("load amplification")
    )


def test_simulate_prints_json(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--output json prints only the JSON report on stdout."""
    assert 0 == main(["simulate", str(scenario), "--output", "json"])
    data = json.loads(capsys.readouterr().out)
    assert (["bare", "retry"], 200, 250) == (
        [c["name"] for c in data["candidates"]],
        data["candidates"][0]["requests"],
        data["candidates"][1]["attempts"],
    )


def test_simulate_prints_yaml(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--output yaml prints the same data as YAML."""
    assert 0 == main(["simulate", str(scenario), "-o", "yaml"])
    data = yaml.safe_load(capsys.readouterr().out)
    assert ("cli", 0.75) == (data["scenario"]["name"], data["candidates"][0]["success_rate"])


def test_seed_overrides_the_scenario_seed(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--seed N replaces the seed written in the file."""
    assert 0 == main(["simulate", str(scenario), "--output", "json", "--seed", "99"])
    assert 99 == json.loads(capsys.readouterr().out)["scenario"]["seed"]


def test_a_bad_scenario_exits_2_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Problems go to stderr, one per line, and the exit code is 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.replace("rate: 10,", "rat: 10,").replace("20ms", "fast"))
    assert 2 == main(["simulate", str(bad)])
    captured = capsys.readouterr()
    assert "" == captured.out
    assert [
        f"{bad}:4: traffic: missing required key 'rate'",
        f"{bad}:4: traffic.rat: unknown key; did you mean 'rate'? "
        "(allowed here: rate, arrivals, schedule)",
        f"{bad}:6: dependency.latency.value: expected a duration like '250ms', '2s', '5m', "
        "'1h30m' or a number of seconds, got 'fast'",
    ] == captured.err.splitlines()


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario path that does not exist is a bad-input error."""
    assert 2 == main(["simulate", str(tmp_path / "absent.yaml")])
    assert f"{tmp_path / 'absent.yaml'}: no such file\n" == capsys.readouterr().err


def test_bad_arguments_exit_2(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A negative seed or an unknown output format is a usage error."""
    assert 2 == main(["simulate", str(scenario), "--seed", "-1"])
    assert "must be an integer >= 0" in capsys.readouterr().err
    assert 2 == main(["simulate", str(scenario), "--output", "xml"])
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_the_chart_is_written_as_a_png(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--chart FILE.png writes the chart and says so on stderr, leaving stdout to the report."""
    chart = tmp_path / "out.png"
    assert 0 == main(["simulate", str(scenario), "--output", "json", "--chart", str(chart)])
    captured = capsys.readouterr()
    assert b"\x89PNG\r\n\x1a\n" == chart.read_bytes()[:8]
    assert f"chart written to {chart}\n" == captured.err
    assert "cli" == json.loads(captured.out)["scenario"]["name"]


def test_a_chart_without_matplotlib_exits_1(
    scenario: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without matplotlib the report still prints, then the install hint, exit code 1."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert 1 == main(["simulate", str(scenario), "--chart", str(tmp_path / "x.png")])
    captured = capsys.readouterr()
    assert captured.out.startswith("cli (seed 4)")
    assert "reliant simulate: the chart needs matplotlib: pip install 'reliant[chart]'\n" == (
        captured.err
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`reliant --version` prints the package version and exits 0."""
    assert 0 == main(["--version"])
    assert capsys.readouterr().out.startswith("reliant 0.")


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """`reliant` alone lists the commands on stderr."""
    assert 2 == main([])
    assert "simulate" in capsys.readouterr().err
