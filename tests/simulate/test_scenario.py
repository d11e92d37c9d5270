"""Tests for reliant.simulate.scenario and .errors: loading scenarios, and saying what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reliant.simulate import Scenario, ScenarioError
from reliant.simulate.scenario import format_time

GOOD = """\
name: ok
duration: 1m
traffic: {rate: 5}
candidates:
  - {name: bare}
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_yaml(path)
    assert str(path) == caught.value.source
    return caught.value.problems


def test_a_minimal_scenario_loads_with_defaults(tmp_path: Path) -> None:
    """Only name, duration, traffic and candidates are required; the rest has defaults.

    A one-minute run gets ten 6 s buckets rather than six of the default 10 s.
    """
    path = tmp_path / "ok.yaml"
    path.write_text(GOOD)
    scenario = Scenario.from_yaml(path)
    assert (60.0, 5.0, "poisson", 6.0) == (
        scenario.duration,
        scenario.traffic.rate,
        scenario.traffic.arrivals,
        scenario.bucket,
    )
    assert ("constant", 0.05, 0.0) == (
        scenario.dependency.latency.distribution,
        scenario.dependency.latency.value,
        scenario.dependency.failure_rate,
    )


def test_a_bare_duration_is_a_constant_latency(tiny: Callable[..., Scenario]) -> None:
    """`latency: 40ms` is shorthand for a constant latency of 40 ms."""
    scenario = tiny(dependency={"latency": "40ms"})
    assert ("constant", 0.04) == (
        scenario.dependency.latency.distribution,
        scenario.dependency.latency.value,
    )


def test_model_validate_accepts_plain_data() -> None:
    """Scenario.model_validate works on a dict, with pydantic's own error type."""
    scenario = Scenario.model_validate(
        {"name": "x", "duration": 5, "traffic": {"rate": 1}, "candidates": [{"name": "a"}]}
    )
    assert (5.0, 0.5) == (scenario.duration, scenario.bucket)
    with pytest.raises(ValidationError):
        Scenario.model_validate({"name": "x"})


def test_an_unknown_key_names_file_line_path_and_a_guess(tmp_path: Path) -> None:
    """A misspelt key is reported with its line, its path, a suggestion and the allowed keys."""
    text = GOOD.replace("traffic: {rate: 5}", "traffic: {rate: 5, arival: uniform}")
    problems = _problems(tmp_path, text)
    assert [
        f"{tmp_path / 'scenario.yaml'}:3: traffic.arival: unknown key; did you mean 'arrivals'? "
        "(allowed here: rate, arrivals, schedule)"
    ] == problems


def test_every_problem_gets_its_own_line_in_file_order(tmp_path: Path) -> None:
    """Several mistakes give several messages, sorted by line."""
    text = """\
name: bad
duration: 10x
traffic: {}
dependency:
  failure_rate: 1.5
candidates:
  - {name: "has space"}
"""
    problems = _problems(tmp_path, text)
    source = tmp_path / "scenario.yaml"
    assert [
        f"{source}:2: duration: expected a duration like '250ms', '2s', '5m', '1h30m' or "
        "a number of seconds, got '10x'",
        f"{source}:3: traffic: missing required key 'rate'",
        f"{source}:5: dependency.failure_rate: should be less than or equal to 1, got 1.5",
        f"{source}:7: candidates[0].name: use letters, digits, '_' and '-' only, got 'has space'",
    ] == problems


@pytest.mark.parametrize(
    ("latency", "message"),
    [
        (
            "{median: 40ms, p99: 400ms}",
            "dependency.latency: say which distribution; e.g. "
            "{distribution: lognormal, median: 40ms, p99: 400ms}",
        ),
        (
            "{distribution: lognormal, median: 40ms}",
            "dependency.latency: lognormal latency needs p99; e.g. "
            "{distribution: lognormal, median: 40ms, p99: 400ms}",
        ),
        (
            "{distribution: lognormal, median: 40ms, p99: 10ms}",
            "dependency.latency.p99: must be >= median (40ms)",
        ),
        (
            "{distribution: uniform, min: 1s, max: 2s, mean: 1s}",
            "dependency.latency.mean: not an option of uniform latency; e.g. "
            "{distribution: uniform, min: 20ms, max: 80ms}",
        ),
        ("{distribution: gamma}", "dependency.latency.distribution: should be 'constant', "),
    ],
)
def test_latency_problems_say_what_the_distribution_needs(
    tmp_path: Path, latency: str, message: str
) -> None:
    """Each latency distribution names its own options and shows an example."""
    text = GOOD + f"dependency:\n  latency: {latency}\n"
    [problem] = _problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'scenario.yaml'}:7: {message}")


def test_cross_field_problems_point_at_the_offending_key(tmp_path: Path) -> None:
    """Incidents past the end, overlapping incidents, and duplicate names are each located."""
    text = """\
name: bad
duration: 1m
traffic: {rate: 5, schedule: [{at: 2m, rate: 1}]}
dependency:
  incidents:
    - {start: 10s, end: 40s, failure_rate: 1}
    - {start: 30s, end: 2m, latency: 1s}
    - {start: 50s, end: 20s}
candidates:
  - {name: a}
  - {name: a}
"""
    problems = _problems(tmp_path, text)
    assert len(problems) == 2  # field errors stop the cross-field checks
    assert problems[0].endswith(":8: dependency.incidents[2].end: must be after start (50s)")
    assert problems[1].endswith(
        ":8: dependency.incidents[2]: changes nothing: give failure_rate, latency or latency_factor"
    )
    fixed = _problems(
        tmp_path, text.replace("{start: 50s, end: 20s}", "{start: 55s, end: 58s, failure_rate: 0}")
    )
    suffixes = [p.split(":", 1)[1] for p in fixed]
    assert [
        "3: traffic.schedule[0].at: must be before the end (1m)",
        "7: dependency.incidents[1].start: overlaps the incident from 10s to 40s; "
        "incidents must not overlap",
        "7: dependency.incidents[1].end: is after the end of the run (1m)",
        "8: dependency.incidents[2].start: overlaps the incident from 30s to 2m; "
        "incidents must not overlap",
        "11: candidates[1].name: 'a' is already the name of candidates[0]",
    ] == suffixes


def test_a_bad_policy_option_is_reported_at_its_path_in_the_pipeline(tmp_path: Path) -> None:
    """The registry's complaint is placed under candidates[i].pipeline[j]."""
    text = GOOD + (
        "  - name: retry\n"
        "    pipeline:\n"
        "      - {kind: timeout, seconds: 1s}\n"
        "      - {kind: retry, attempts: 0}\n"
    )
    [problem] = _problems(tmp_path, text)
    assert problem == (
        f"{tmp_path / 'scenario.yaml'}:9: candidates[1].pipeline[1].attempts: "
        "Retry: attempts must be an integer >= 1, got 0"
    )


def test_an_unknown_policy_kind_lists_the_kinds(tmp_path: Path) -> None:
    """A misspelt kind names the kinds there are."""
    text = GOOD + "  - name: r\n    pipeline: [{kind: retyr}]\n"
    [problem] = _problems(tmp_path, text)
    assert ":7: candidates[1].pipeline[0].kind: expected one of retry, " in problem


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ": the file is empty; it needs name, duration, traffic, dependency, candidates"),
        (
            "- a\n- b\n",
            ":1: a scenario is a mapping of keys (name, duration, traffic, "
            "dependency, candidates), not a list",
        ),
        ("name: [unclosed\n", ":2: not valid YAML: expected ',' or ']', but got '<stream end>'"),
        (
            GOOD + "name: again\n",
            ":6: duplicate key 'name' (first given on line 1); "
            "YAML would silently keep only the last",
        ),
    ],
)
def test_files_that_are_not_scenarios(tmp_path: Path, text: str, message: str) -> None:
    """Empty files, non-mappings, broken YAML and duplicate keys each get one clear line."""
    assert [f"{tmp_path / 'scenario.yaml'}{message}"] == _problems(tmp_path, text)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    """Loading a file that does not exist raises ScenarioError, not OSError."""
    with pytest.raises(ScenarioError, match="no such file"):
        Scenario.from_yaml(tmp_path / "absent.yaml")


def test_from_mapping_reports_like_from_yaml() -> None:
    """Validating parsed data gives the same kind of messages, without line numbers."""
    data: dict[str, Any] = {
        "name": "x",
        "duration": "1m",
        "traffic": {"rate": -1},
        "candidates": [],
    }
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_mapping(data, source="inline")
    assert [
        "inline: traffic.rate: should be greater than or equal to 0, got -1",
        "inline: candidates: needs at least 1 entry",
    ] == caught.value.problems


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250ms"),
        (2.0, "2s"),
        (60.0, "1m"),
        (210.0, "3m30s"),
        (5400.0, "1h30m"),
        (1.5, "1.5s"),
    ],
)
def test_format_time_writes_durations_as_a_scenario_would(seconds: float, text: str) -> None:
    """Times in messages, tables and charts read like the YAML that set them."""
    assert text == format_time(seconds)
