"""Acceptance: a real Prometheus scrapes a service instrumented by reliant.telemetry.prometheus."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_engine import PrometheusServer, free_port
from telemetry_helpers import breaker, flaky, invoke, trip

from reliant import Pipeline, RateLimiter, Retry
from reliant.resilience.backoff import Backoff
from reliant.telemetry.prometheus import instrument
from reliant.testing import VirtualClock

#: How long the test waits for the first scrape to be queryable.
QUERY_TIMEOUT = 20.0


@pytest.fixture
def service() -> Iterator[str]:
    """A /metrics endpoint on loopback exposing metrics of real reliant policies."""
    registry = CollectorRegistry()
    handle = instrument(registry)
    clock = VirtualClock()
    trip(breaker("payments", clock), "sync", clock)
    retry = Retry(attempts=3, backoff=Backoff.constant(0.1), name="ledger", clock=clock)
    limiter = RateLimiter(rate=1, per=60.0, name="signup", clock=clock)
    for _ in range(3):
        invoke(Pipeline(limiter, retry), "sync", flaky(1), clock)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        handle.close()


@pytest.fixture
def prometheus(service: str) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping the service every second."""
    server = PrometheusServer([service])
    try:
        server.start()
        yield server
    finally:
        server.close()


def test_prometheus_answers_promql_about_the_service(prometheus: PrometheusServer) -> None:
    """Prometheus scrapes the breaker, retry and limiter series and answers PromQL on them."""
    calls = 'reliant_circuit_breaker_calls_total{policy="payments",outcome="failure"}'
    deadline = time.monotonic() + QUERY_TIMEOUT
    result = prometheus.query(calls)
    while not result and time.monotonic() < deadline:
        time.sleep(0.25)  # poll interval of a bounded wait for the first scrape
        result = prometheus.query(calls)
    assert 1 == len(result), prometheus.log()[-2000:]
    assert "2" == result[0]["value"][1]
    [state] = prometheus.query('reliant_circuit_breaker_state{policy="payments"} == 1')
    assert "open" == state["metric"]["state"]
    [rejected] = prometheus.query('sum by (kind) (reliant_rejections_total{policy="signup"})')
    assert ("rate_limiter", "2") == (rejected["metric"]["kind"], rejected["value"][1])
    [retries] = prometheus.query('reliant_retry_attempts_total{policy="ledger"}')
    assert "1" == retries["value"][1]
    [up] = prometheus.query('up{job="reliant"}')
    assert "1" == up["value"][1]
