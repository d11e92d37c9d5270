"""Behaviour both inbound middlewares share, run against real servers.

``test_asgi.py`` and ``test_wsgi.py`` import these tests and give them a ``serve``
fixture (``serve(**middleware_options) -> base URL``) for their own server, and a
``gate`` fixture (a :class:`servers_b.Gate` the ``/block`` endpoint waits on).
"""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from servers_b import TIMEOUT, Gate, Serve

import reliant
from reliant.integrations._headers import parse_fields
from reliant.integrations.health import Health
from reliant.testing import VirtualClock

LOGGER = "reliant.integrations"


def _limiter(rate: float, per: float, burst: int, clock: VirtualClock) -> reliant.RateLimiter:
    return reliant.RateLimiter.gcra(rate=rate, per=per, burst=burst, clock=clock)


def _get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]


def _ignored(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_limit_reached_answers_429_with_exact_fields(serve: Serve) -> None:
    """Past its burst a key gets 429, Retry-After and the IETF RateLimit fields."""
    base = serve(limiter=_limiter(2, 60, 2, VirtualClock()))
    first, second, third = (_get(base + "/hello") for _ in range(3))
    assert [200, 200, 429] == [first.status_code, second.status_code, third.status_code]
    assert '"default";q=2;w=60' == first.headers["RateLimit-Policy"]
    assert '"default";r=1;t=30' == first.headers["RateLimit"]
    assert '"default";r=0;t=60' == second.headers["RateLimit"]
    assert "30" == third.headers["Retry-After"]
    assert '"default";q=2;w=60' == third.headers["RateLimit-Policy"]
    assert '"default";r=0;t=30' == third.headers["RateLimit"]
    assert {"default": {"r": 0, "t": 30}} == parse_fields(third.headers["RateLimit"])
    assert "application/problem+json" == third.headers["Content-Type"]
    problem = third.json()
    assert (429, "Too Many Requests", "about:blank") == (
        problem["status"],
        problem["title"],
        problem["type"],
    )


def test_policy_field_names_quota_and_window(serve: Serve) -> None:
    """100 per 60 s is announced as q=100;w=60 under the configured policy name."""
    base = serve(limiter=_limiter(100, 60, 100, VirtualClock()), policy_name="api")
    response = _get(base + "/hello")
    assert '"api";q=100;w=60' == response.headers["RateLimit-Policy"]
    assert '"api";r=99;t=1' == response.headers["RateLimit"]


@pytest.mark.parametrize(
    ("rate", "per", "advance", "expected"),
    [(100, 60, 0.0, "1"), (100, 60, 0.5, "1"), (1, 2.5, 0.0, "3"), (1, 2.5, 1.2, "2")],
)
def test_retry_after_is_rounded_up_to_whole_seconds(
    serve: Serve, rate: float, per: float, advance: float, expected: str
) -> None:
    """Retry-After is the limiter's retry_after rounded up (0.6 s -> 1, 2.5 s -> 3)."""
    clock = VirtualClock()
    base = serve(limiter=_limiter(rate, per, 1, clock))
    assert 200 == _get(base + "/hello").status_code
    clock.advance(advance)
    denied = _get(base + "/hello")
    assert (429, expected) == (denied.status_code, denied.headers["Retry-After"])


def test_health_probes_are_never_limited(serve: Serve) -> None:
    """/livez and /readyz answer even when the caller's limit is spent."""
    base = serve(limiter=_limiter(1, 60, 1, VirtualClock()))
    _get(base + "/hello")
    assert 429 == _get(base + "/hello").status_code
    assert [200, 200] == [_get(base + p).status_code for p in ("/livez", "/readyz")]


def test_spoofed_forwarding_header_from_untrusted_peer_is_ignored(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """Without trusted proxies, X-Forwarded-For cannot buy a fresh limit; it is logged."""
    base = serve(limiter=_limiter(1, 60, 1, VirtualClock()))
    first = _get(base + "/hello", headers={"X-Forwarded-For": "203.0.113.1"})
    second = _get(base + "/hello", headers={"X-Forwarded-For": "203.0.113.2"})
    assert [200, 429] == [first.status_code, second.status_code]
    assert any("untrusted peer 127.0.0.1" in m for m in _ignored(caplog))


def test_forwarded_client_is_the_key_behind_a_trusted_proxy(serve: Serve) -> None:
    """From a trusted proxy, the forwarded client address partitions the limit."""
    base = serve(limiter=_limiter(1, 60, 1, VirtualClock()), trusted_proxies=["127.0.0.0/8"])
    statuses = [
        _get(base + "/hello", headers={"X-Forwarded-For": f"198.51.100.9, {ip}"}).status_code
        for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.1")
    ]
    assert [200, 200, 429] == statuses


def test_rfc7239_forwarded_header_behind_a_trusted_proxy(serve: Serve) -> None:
    """forwarded_header="forwarded" reads RFC 7239 for= nodes, ports and brackets removed."""
    base = serve(
        limiter=_limiter(1, 60, 1, VirtualClock()),
        trusted_proxies=["127.0.0.1"],
        forwarded_header="forwarded",
    )
    nodes = ('for="203.0.113.7:4711"', 'for="[2001:db8::1]:80"', "for=203.0.113.7;proto=http")
    statuses = [_get(base + "/hello", headers={"Forwarded": n}).status_code for n in nodes]
    assert [200, 200, 429] == statuses


def test_peers_are_separate_keys_without_proxies(serve: Serve) -> None:
    """Two loopback peers (127.0.0.1 and 127.0.0.2) have separate limits."""
    base = serve(limiter=_limiter(1, 60, 1, VirtualClock()))
    other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with other:
        assert 200 == _get(base + "/hello").status_code
        assert 200 == other.get(base + "/hello", timeout=TIMEOUT).status_code
        assert 429 == other.get(base + "/hello", timeout=TIMEOUT).status_code


def test_hostile_forwarding_header_from_trusted_proxy_falls_back_to_peer(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """A malformed or oversized X-Forwarded-For is ignored with a log line, never a 500."""
    base = serve(limiter=_limiter(3, 60, 3, VirtualClock()), trusted_proxies=["127.0.0.1"])
    hostile = ["not-an-ip", "1.2.3.4, " * 600 + "1.2.3.4"]
    statuses = [_get(base + "/hello", headers={"X-Forwarded-For": h}).status_code for h in hostile]
    assert [200, 200] == statuses
    # Both fell back to the peer's key: one request of its three is left.
    assert 200 == _get(base + "/hello").status_code
    assert 429 == _get(base + "/hello").status_code
    messages = _ignored(caplog)
    assert any("malformed x-forwarded-for hop" in m for m in messages)
    assert any("longer than 2048" in m for m in messages)


def test_key_by_header(serve: Serve) -> None:
    """key="header:X-Tenant" gives each tenant its own limit."""
    base = serve(limiter=_limiter(1, 60, 1, VirtualClock()), key="header:X-Tenant")
    statuses = [_get(base + "/hello", headers={"X-Tenant": t}).status_code for t in ("a", "b", "a")]
    assert [200, 200, 429] == statuses


def test_key_by_api_key_accepts_header_or_bearer_token(serve: Serve) -> None:
    """key="api_key" reads X-API-Key or a Bearer token, the same key either way."""
    base = serve(limiter=_limiter(1, 60, 1, VirtualClock()), key="api_key")
    assert 200 == _get(base + "/hello", headers={"X-API-Key": "k1"}).status_code
    assert 200 == _get(base + "/hello", headers={"X-API-Key": "k2"}).status_code
    bearer = _get(base + "/hello", headers={"Authorization": "Bearer k1"})
    assert 429 == bearer.status_code


def test_key_by_route(serve: Serve) -> None:
    """key="route" limits each method and path on its own."""
    base = serve(limiter=_limiter(1, 60, 1, VirtualClock()), key="route")
    statuses = [_get(base + p).status_code for p in ("/hello", "/missing", "/hello")]
    assert [200, 404, 429] == statuses


def test_key_by_callable(serve: Serve) -> None:
    """A callable key chooses the partition; None falls back to the client address."""
    base = serve(
        limiter=_limiter(1, 60, 1, VirtualClock()),
        key=lambda request: request.header("x-user"),
    )
    assert 200 == _get(base + "/hello", headers={"X-User": "u1"}).status_code
    assert 200 == _get(base + "/hello").status_code  # the peer's own key
    assert 429 == _get(base + "/hello").status_code


def test_concurrency_over_the_adaptive_limit_is_shed_with_503(serve: Serve, gate: Gate) -> None:
    """With one slot taken, the next request is shed: 503 problem+json."""
    shed = reliant.AdaptiveLimit(algorithm="aimd", initial=1, min_limit=1, max_limit=1)
    base = serve(shed=shed)
    held: list[int] = []
    blocker = threading.Thread(target=lambda: held.append(_get(base + "/block").status_code))
    blocker.start()
    try:
        assert gate.entered.wait(TIMEOUT)
        shed_response = _get(base + "/hello")
    finally:
        gate.release.set()
        blocker.join(TIMEOUT)
    assert 503 == shed_response.status_code
    assert "application/problem+json" == shed_response.headers["Content-Type"]
    assert 503 == shed_response.json()["status"]
    assert [200] == held
    assert 200 == _get(base + "/hello").status_code


@pytest.mark.parametrize(("header", "expected"), [("2.5", 2.5), ("0.25", 0.25), ("1000", 10.0)])
def test_deadline_header_becomes_the_handler_deadline(
    serve: Serve, header: str, expected: float
) -> None:
    """Request-Timeout seconds reach the handler as its reliant deadline, capped."""
    base = serve(clock=VirtualClock(), max_deadline=10.0)
    response = _get(base + "/hello", headers={"Request-Timeout": header})
    assert {"deadline": expected} == response.json()


def test_without_the_header_the_default_deadline_applies(serve: Serve) -> None:
    """default_deadline is the budget of requests that send none."""
    base = serve(clock=VirtualClock(), default_deadline=5.0)
    assert {"deadline": 5.0} == _get(base + "/hello").json()


def test_deadline_header_name_is_configurable(serve: Serve) -> None:
    """deadline_header names the header read (here X-Request-Deadline)."""
    base = serve(clock=VirtualClock(), deadline_header="X-Request-Deadline")
    response = _get(base + "/hello", headers={"X-Request-Deadline": "3"})
    assert {"deadline": 3.0} == response.json()


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf", "1e999", "1" * 100])
def test_malformed_deadline_is_ignored_with_a_log_line(
    serve: Serve, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    """A malformed deadline means no deadline and one log line, never a 500."""
    base = serve(clock=VirtualClock())
    response = _get(base + "/hello", headers={"Request-Timeout": value})
    assert (200, {"deadline": None}) == (response.status_code, response.json())
    assert 1 == sum("Request-Timeout header" in m for m in _ignored(caplog))


def test_readiness_fails_while_a_breaker_is_forced_open(serve: Serve) -> None:
    """/readyz turns 503 while a registered breaker is forced open, 200 after reset."""
    breaker = reliant.CircuitBreaker(name="payments")
    base = serve(health=Health(breakers=[breaker]))
    ready = _get(base + "/readyz")
    breaker.force_open()
    not_ready = _get(base + "/readyz")
    breaker.reset()
    again = _get(base + "/readyz")
    assert [200, 503, 200] == [r.status_code for r in (ready, not_ready, again)]
    assert {
        "status": "fail",
        "checks": {"breaker:payments": {"status": "fail", "state": "forced_open"}},
    } == not_ready.json()
    assert {"status": "ok", "checks": {}} == _get(base + "/livez").json()
    assert "ok" == json.loads(again.content)["status"]


def test_health_paths_are_configurable(serve: Serve) -> None:
    """livez_path and readyz_path move the probes."""
    base = serve(health=Health(livez_path="/healthz", readyz_path="/ready"))
    assert [200, 200] == [_get(base + p).status_code for p in ("/healthz", "/ready")]
