"""A service's health at a glance: pure rules over policies, telemetry and events."""

from __future__ import annotations

from typing import Any

import pytest

from reliant.server.web.health import (
    POLICY_STALE,
    STALE_AFTER,
    Health,
    PolicyState,
    assess,
    policy_states,
)

NOW = 1_800_000_000.0


def _breaker(name: str, to_state: str, ago: float = 10.0) -> dict[str, Any]:
    return {
        "kind": "circuit_breaker.state_changed",
        "time": NOW - ago,
        "attributes": {"name": name, "from_state": "closed", "to_state": to_state},
    }


def test_the_newest_report_of_each_breaker_wins() -> None:
    """Reports come newest first: the first one seen per name is the state."""
    states = policy_states([_breaker("db", "open", 5), _breaker("db", "closed", 50)])
    assert [PolicyState("breaker", "db", "open", NOW - 5)] == states


def test_faults_limiters_and_overrides_are_merged_and_sorted() -> None:
    """Fault reports, limiter rejections and overrides give one state per (kind, name)."""
    reports = [{"kind": "fault.enabled", "time": NOW - 1, "attributes": {"name": "latency"}}]
    overrides = [
        {
            "kind": "breakers",
            "name": "api",
            "value": {"state": "forced_open"},
            "updated_by": "alice",
            "updated_at": NOW - 3,
        },
        {"kind": "unknown", "name": "x", "value": {}},
    ]
    states = policy_states(reports, overrides, {"inbound": 4})
    assert [("breaker", "api"), ("fault", "latency"), ("limiter", "inbound")] == [
        (s.kind, s.name) for s in states
    ]
    assert "forced_open" == states[0].forced
    assert "alice" == states[0].override_by
    assert states[1].fault_on is True
    assert 4 == states[2].rejections


def test_reports_without_a_name_or_of_other_kinds_are_ignored() -> None:
    """Only named breaker and fault reports describe a policy."""
    reports = [
        {"kind": "circuit_breaker.state_changed", "time": NOW, "attributes": {"to_state": "open"}},
        {"kind": "retry.exhausted", "time": NOW, "attributes": {"name": "r"}},
    ]
    assert [] == policy_states(reports)


@pytest.mark.parametrize(
    ("state", "label", "level"),
    [
        (PolicyState("breaker", "b", "open", NOW), "open", "critical"),
        (PolicyState("breaker", "b", "half_open", NOW), "half open", "warning"),
        (PolicyState("breaker", "b", "closed", NOW), "closed", "ok"),
        (PolicyState("breaker", "b", "open", NOW - POLICY_STALE - 1), "open", "unknown"),
        (PolicyState("breaker", "b"), "no report yet", "unknown"),
        (
            PolicyState("breaker", "b", "open", NOW, override={"state": "forced_open"}),
            "forced open",
            "warning",
        ),
        (
            PolicyState("breaker", "b", "open", NOW, override={"state": "disabled"}),
            "disabled",
            "ok",
        ),
        (PolicyState("fault", "f", "enabled", NOW), "on", "warning"),
        (PolicyState("fault", "f", "enabled", NOW, override={"enabled": False}), "off", "ok"),
        (PolicyState("fault", "f"), "no report yet", "unknown"),
        (PolicyState("limiter", "l", rejections=9), "as coded", "ok"),
        (PolicyState("limiter", "l", override={"rate": 50.0, "per": 1.0}), "50 per 1 s", "ok"),
    ],
)
def test_each_policy_state_has_a_label_and_a_level(
    state: PolicyState, label: str, level: str
) -> None:
    """Labels say the state in words; the level is what it means for the service."""
    assert (label, level) == (state.label(), state.level(NOW))


def test_an_open_breaker_is_critical_and_named_first() -> None:
    """The worst reason is the label; the others follow."""
    policies = [
        PolicyState("breaker", "db", "open", NOW),
        PolicyState("fault", "f", "enabled", NOW),
    ]
    health = assess(policies=policies, now=NOW, requests=10, error_ratio=0.0, warnings=2)
    assert Health(
        "critical", "breaker db open", ("breaker db open", "fault f on", "2 warnings")
    ) == (health)


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (0.0, Health("ok", "healthy")),
        (0.0099, Health("ok", "healthy")),
        (0.01, Health("warning", "1.0% errors", ("1.0% errors",))),
        (0.05, Health("critical", "5.0% errors", ("5.0% errors",))),
    ],
)
def test_error_ratio_thresholds(ratio: float, expected: Health) -> None:
    """At or over 1 % errors is a warning, at or over 5 % critical."""
    assert expected == assess(policies=[], now=NOW, requests=100, error_ratio=ratio)


def test_error_events_are_critical_and_warnings_warn() -> None:
    """Error events make a service critical; warning events a warning."""
    assert "critical" == assess(policies=[], now=NOW, errors=1).level
    assert Health("warning", "1 warning", ("1 warning",)) == assess(
        policies=[], now=NOW, warnings=1
    )


def test_silence_is_unknown_and_recent_reports_are_healthy() -> None:
    """Nothing heard within STALE_AFTER: unknown; a recent report and nothing wrong: ok."""
    assert Health("unknown", "no recent data") == assess(policies=[], now=NOW)
    old = assess(policies=[], now=NOW, last_event_at=NOW - STALE_AFTER - 1)
    assert "unknown" == old.level
    assert Health("ok", "healthy") == assess(policies=[], now=NOW, last_event_at=NOW - 60)
