"""The ``Runbook`` kind offline: its model, templates, conditions, and ``reliant validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reliant.cli import main
from reliant.server.domains.config import OBJECT_NAME_PATTERN
from reliant.spec.models import SDK_OBJECT_PATTERN, RunbookSpec
from reliant.spec.runbooks import (
    SLO_METRICS,
    Condition,
    check_template,
    parse_condition,
    references,
    render,
)


def problems(spec: dict[str, Any]) -> str:
    """The validation error's text for ``spec``."""
    with pytest.raises(ValidationError) as caught:
        RunbookSpec.model_validate(spec)
    return str(caught.value)


def test_defaults() -> None:
    """Steps time out after 60 s, abort on failure and go on on success; 3 automatic runs
    an hour, no cooldown."""
    spec = RunbookSpec.model_validate({"steps": [{"id": "a", "kind": "manual"}]})
    step = spec.steps[0]
    assert ("60s", False, "abort", "next") == (
        step.timeout,
        step.destructive,
        step.on_failure,
        step.on_success,
    )
    assert (3, "0s", None) == (
        spec.guardrails.max_runs_per_hour,
        spec.guardrails.cooldown,
        spec.service,
    )


def test_the_sdk_object_pattern_is_the_config_domains() -> None:
    """SDK step targets follow the config domain's object names."""
    assert OBJECT_NAME_PATTERN == SDK_OBJECT_PATTERN


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"kind": "manual", "timeout": "2h"}, "timeout must be between 1s and 1h, got '2h'"),
        ({"kind": "sdk", "action": "set_rate", "target": "x"}, "set_rate needs rate"),
        (
            {"kind": "sdk", "action": "force_open", "target": "x", "rate": 1},
            "rate, per and burst belong to set_rate, not force_open",
        ),
        (
            {"kind": "wait_until", "condition": "x < 1"},
            "give exactly one of slo, operation and url",
        ),
        ({"kind": "wait_until", "slo": "a"}, "polling slo needs a condition"),
        (
            {"kind": "wait_until", "slo": "a", "condition": "requests > 1"},
            "unknown metric 'requests' here (one of budget_remaining, burn_rate_1h",
        ),
        (
            {"kind": "wait_until", "operation": "a", "condition": "error_ratio ~ 1"},
            "is not a condition",
        ),
        (
            {"kind": "shell", "command": ["{{ params.x }}"]},
            "command[0] names the executable itself",
        ),
        ({"kind": "http", "url": "ftp://x"}, "String should match pattern"),
        ({"kind": "teleport"}, "does not match any of the expected tags"),
    ],
)
def test_bad_steps(step: dict[str, Any], expected: str) -> None:
    """Each step kind checks its own fields."""
    assert expected in problems({"service": "s", "steps": [{"id": "a", **step}]})


def test_flow_and_templates_are_checked_together() -> None:
    """Every problem is reported with its key path: ids, gotos, templates, triggers."""
    text = problems(
        {
            "parameters": [{"name": "host", "required": True}, {"name": "host"}],
            "steps": [
                {"id": "a", "kind": "manual"},
                {"id": "b", "kind": "sdk", "action": "close", "target": "db"},
            ],
        }
    )
    assert "parameters[1]: 'host' is used by an earlier one too" in text
    text = problems(
        {
            "parameters": [{"name": "host", "required": True}],
            "steps": [
                {"id": "a", "kind": "manual", "on_success": {"goto": "c"}},
                {"id": "b", "kind": "sdk", "action": "close", "target": "db"},
                {
                    "id": "c",
                    "kind": "http",
                    "url": "http://{{ params.hots }}",
                    "on_failure": {"goto": "a"},
                },
            ],
            "triggers": [{"matchers": ["a=b"], "params": {"extra": "{{ labels.x }}"}}],
        }
    )
    for expected in [
        "steps[1].service: name the service (the runbook names none)",
        "steps[2].on_failure.goto: jumping back to 'a' makes a cycle (a → b → c → a)",
        "steps[2].url: unknown parameter 'hots' in {{ params.hots }} (host)",
        "triggers[0].params.extra: unknown parameter 'extra' (host)",
        "triggers[0].params: required parameter 'host' needs a value for automatic runs",
    ]:
        assert expected in text


def test_required_parameters_have_no_default() -> None:
    """A parameter is required or has a default, not both."""
    assert "is required and has a default: drop one" in problems(
        {
            "parameters": [{"name": "x", "required": True, "default": "1"}],
            "steps": [{"id": "a", "kind": "manual"}],
        }
    )


def test_templates() -> None:
    """Templates name params, run fields and (in triggers) labels; anything else is refused."""
    assert [("params", "a"), ("run", "id")] == references("x {{params.a}} {{ run.id }} }}")
    assert "hello eu #7" == render(
        "hello {{ params.region }} #{{ run.id }}", {"params": {"region": "eu"}, "run": {"id": "7"}}
    )
    assert [] == check_template("{{ labels.region }}", [], labels=True)
    assert ["unknown name labels.region (templates name params.*, run.*)"] == check_template(
        "{{ labels.region }}", []
    )
    assert ["unknown run field 'who' in {{ run.who }} (one of id, incident, runbook, service)"] == (
        check_template("{{ run.who }}", [])
    )
    assert check_template("{{ params.x | upper }}", ["x"])[0].startswith(
        "'{{ params.x | upper }}' is not a template"
    )
    assert [] == check_template('{"a": {"b": 1}}', [])


def test_conditions() -> None:
    """A condition compares a metric with a number; an unknown value never holds."""
    condition = parse_condition(" burn_rate_1h<1 ", SLO_METRICS)
    assert (Condition("burn_rate_1h", "<", 1.0), "burn_rate_1h < 1") == (condition, str(condition))
    assert [True, False, False] == [condition.holds(v) for v in (0.5, 1.0, None)]
    assert parse_condition("budget_remaining >= 0.25", SLO_METRICS).holds(0.25)
    with pytest.raises(ValueError, match="is not a condition"):
        parse_condition("burn_rate_1h < high", SLO_METRICS)


def test_reliant_validate_locates_runbook_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`reliant validate` reports a runbook's problems offline, each on its line and path."""
    path = tmp_path / "reliant.yaml"
    path.write_text(
        "apiVersion: reliant.dev/v1\n"
        "kind: Runbook\n"
        "metadata: {name: failover}\n"
        "spec:\n"
        "  service: payments\n"
        "  steps:\n"
        "    - {id: check, kind: http, url: 'http://db/{{ params.region }}'}\n"
        "    - {id: check, kind: manual, on_failure: {goto: nowhere}}\n"
    )
    assert 2 == main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Runbook failover: spec.steps[1]: 'check' is used by an earlier one too" in err
    path.write_text(path.read_text().replace("id: check, kind: manual", "id: done, kind: manual"))
    assert 2 == main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "spec.steps[1].on_failure.goto: no step has id 'nowhere' (ids: check, done)" in err
    assert (
        "spec.steps[0].url: unknown parameter 'region' in {{ params.region }} (none declared)"
        in err
    )
    path.write_text(
        path.read_text().replace("{goto: nowhere}", "continue").replace("{{ params.region }}", "eu")
    )
    assert 0 == main(["validate", str(path)])
    assert "OK: 1 document (1 Runbook)" in capsys.readouterr().out
