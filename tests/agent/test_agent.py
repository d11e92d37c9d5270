"""connect() and Agent: options, lifecycle, and the whole link running on its threads."""

from __future__ import annotations

from typing import Any

import pytest
from agent_helpers import CREATED, SERVICE, TOKEN, FakePlane, closed_port_url, plane, wait_for

from reliant import CircuitBreaker, CircuitState, Fault, RateLimiter, Retry
from reliant._core.events import BUS
from reliant.agent import Agent, AgentStats, connect
from reliant.agent.agent import DEFAULT_FORWARD, default_instance, severity
from reliant.telemetry.metered import metered


def start(url: str, **options: Any) -> Agent:
    """connect() with test defaults; the autouse fixture closes it."""
    agent = connect(url, TOKEN, SERVICE, **options)
    CREATED.append(agent)
    return agent


# -- options --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "variable"),
    [("url", "RELIANT_URL"), ("token", "RELIANT_TOKEN"), ("service", "RELIANT_SERVICE")],
)
def test_a_missing_setting_names_the_argument_and_the_variable(
    monkeypatch: pytest.MonkeyPatch, missing: str, variable: str
) -> None:
    """Without the argument or its variable, connect() says what to set."""
    for name in ("RELIANT_URL", "RELIANT_TOKEN", "RELIANT_SERVICE"):
        monkeypatch.delenv(name, raising=False)
    given = {"url": "http://127.0.0.1:1", "token": TOKEN, "service": SERVICE}
    del given[missing]
    with pytest.raises(
        ValueError, match=f"connect: {missing} is missing; pass {missing}= or set {variable}"
    ):
        connect(**given)
    assert not BUS.active


def test_settings_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """RELIANT_URL, RELIANT_TOKEN and RELIANT_SERVICE fill in what is not passed."""
    with plane() as fake:
        monkeypatch.setenv("RELIANT_URL", fake.url)
        monkeypatch.setenv("RELIANT_TOKEN", TOKEN)
        monkeypatch.setenv("RELIANT_SERVICE", SERVICE)
        agent = connect(config=False)
        CREATED.append(agent)
        assert (fake.url, TOKEN, SERVICE) == (
            agent.options.url,
            agent.options.token,
            agent.options.service,
        )
        assert TOKEN not in repr(agent.options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "127.0.0.1:7300"}, "connect: url must be an absolute http:// or https:// URL"),
        ({"service": "Payments"}, "connect: service must be lowercase letters"),
        ({"flush_interval": 0}, "connect: flush_interval must be a finite number > 0, got 0"),
        ({"max_buffer_bytes": 100}, "connect: max_buffer_bytes must be an integer >= 4096"),
        ({"max_batch_bytes": 5 * 1024 * 1024}, "connect: max_batch_bytes must be <= 4194304"),
        ({"config": "yes"}, "connect: config must be True or False"),
        ({"instance": "a\nb"}, "connect: instance must be 1 to 200 characters"),
    ],
)
def test_invalid_options_raise_before_anything_starts(
    options: dict[str, Any], message: str
) -> None:
    """Each bad option is named, with its accepted range; nothing is subscribed."""
    given = {"url": "http://127.0.0.1:1", "token": TOKEN, "service": SERVICE, **options}
    with pytest.raises(ValueError, match=message):
        connect(**given)
    assert not BUS.active


def test_the_default_instance_is_host_pid_and_a_random_tag() -> None:
    """Two connects from one process still tell their batches apart."""
    import os
    import socket

    host, pid, tag = default_instance().split(":")
    assert (socket.gethostname(), str(os.getpid()), 4) == (host, pid, len(tag))


def test_severity_marks_what_needs_attention() -> None:
    """Open, forced-open and disabled breakers, tripped thresholds and enabled faults warn."""
    assert [
        "warning", "info", "warning", "warning", "info", "warning",
    ] == [
        severity("circuit_breaker.state_changed", {"to_state": "open"}),
        severity("circuit_breaker.state_changed", {"to_state": "closed"}),
        severity("circuit_breaker.state_changed", {"to_state": "disabled"}),
        severity("fault.enabled", {}),
        severity("config.applied", {}),
        severity("config.rejected", {}),
    ]  # fmt: skip


def test_the_default_forward_set_holds_state_changes_only() -> None:
    """No per-call kind is forwarded by default."""
    assert not {"call.completed", "circuit_breaker.success", "retry.retrying"} & DEFAULT_FORWARD


# -- lifecycle ------------------------------------------------------------------------


def test_an_agent_is_a_context_manager_that_flushes_on_exit() -> None:
    """Leaving the with block unsubscribes and pushes what is left."""
    with plane() as fake:
        with start(fake.url, config=False) as agent:
            assert BUS.active
            charge = metered(Retry(attempts=1, name="charge"))
            charge.call(lambda: 1)
        assert not BUS.active
        assert [1] == [p["count"] for b in fake.batches for p in b["telemetry"]]
        assert AgentStats(1, 0, 0, 0, None, True, False, None) == agent.stats()


def test_watch_refuses_what_is_not_a_policy() -> None:
    """watch() takes policies and pipelines only."""
    agent = start(closed_port_url(), config=False)
    with pytest.raises(TypeError, match=r"Agent\.watch: expected reliant policies"):
        agent.watch("payments-db")  # type: ignore[arg-type]


def test_the_app_keeps_working_when_the_control_plane_is_down() -> None:
    """Calls succeed and close() returns promptly with False."""
    agent = start(closed_port_url(), flush_interval=0.01)
    charge = metered(Retry(attempts=1, name="charge"))
    assert [1] * 100 == [charge.call(lambda: 1) for _ in range(100)]
    wait_for(lambda: agent.stats().last_error is not None)
    assert not agent.close(timeout=1.0)
    assert not agent.stats().connected


# -- the whole link, on its threads ---------------------------------------------------


def test_telemetry_and_events_flow_on_the_uplink_thread() -> None:
    """With a short flush interval, points and a breaker event reach the server."""
    with plane() as fake:
        agent = start(fake.url, flush_interval=0.05, event_delay=0.0, config=False)
        breaker = CircuitBreaker(name="payments-db")
        charge = metered(breaker, name="charge")
        charge.call(lambda: 1)
        breaker.force_open()
        wait_for(lambda: agent.stats().sent >= 2)
        agent.close()
    kinds = [e["kind"] for b in fake.batches for e in b["events"]]
    assert ["circuit_breaker.state_changed"] == kinds
    assert 1 == sum(p["count"] for b in fake.batches for p in b["telemetry"])


def steer(fake: FakePlane, **sections: Any) -> None:
    fake.publish(**sections)


def test_the_config_stream_steers_breakers_limiters_and_faults() -> None:
    """Documents on the stream force a breaker open then reset it, change a rate, flip a fault."""
    with plane() as fake:
        breaker = CircuitBreaker(name="payments-db")
        limiter = RateLimiter.gcra(rate=100, name="inbound")
        fault = Fault(rate=1.0, name="payments-latency")
        agent = start(fake.url, event_delay=0.0, watch=[breaker, limiter, fault])
        wait_for(lambda: agent.stats().config_version == 0)

        steer(fake, breakers={"payments-db": {"state": "forced_open"}},
              limiters={"inbound": {"rate": 5.0, "burst": 2}},
              faults={"payments-latency": {"enabled": True}})  # fmt: skip
        wait_for(lambda: agent.stats().config_version == 1)
        assert CircuitState.FORCED_OPEN == breaker.state
        assert (5.0, 2) == (limiter.options.rate, limiter.options.burst)
        assert fault.enabled

        steer(fake)
        wait_for(lambda: agent.stats().config_version == 2)
        assert CircuitState.CLOSED == breaker.state
        assert (100, 100) == (limiter.options.rate, limiter.options.burst)
        assert not fault.enabled
        assert agent.stats().streaming
        agent.close()
    changes = [
        (e["kind"], e["name"], e["attributes"].get("change"))
        for b in fake.batches
        for e in b["events"]
        if e["kind"].startswith("config.")
    ]
    assert [
        ("config.applied", "payments-db", "forced_open"),
        ("config.applied", "inbound", "override"),
        ("config.applied", "payments-latency", "enabled"),
        ("config.applied", "payments-db", "automatic"),
        ("config.applied", "inbound", "code"),
        ("config.applied", "payments-latency", "code"),
    ] == changes


def test_a_managed_pipeline_follows_the_stream() -> None:
    """agent.pipeline(name) runs under the Policy the control plane defines."""
    with plane() as fake:
        agent = start(fake.url)
        charge = agent.pipeline("charge", default=[{"kind": "retry", "attempts": 1}])
        wait_for(lambda: agent.stats().config_version == 0)
        steer(fake, policies={"charge": {"description": "", "pipeline": [
            {"kind": "fallback", "value": "cached"}]}})  # fmt: skip
        wait_for(lambda: charge.version == 1)
        assert "cached" == charge.call(lambda: 1 / 0)


def test_flush_pushes_now_from_the_calling_thread() -> None:
    """flush() sends what is aggregated without waiting for the interval."""
    with plane() as fake:
        agent = start(fake.url, config=False)
        metered(Retry(attempts=1, name="charge")).call(lambda: 1)
        assert agent.flush(timeout=2.0)
        assert [1] == [p["count"] for b in fake.batches for p in b["telemetry"]]
