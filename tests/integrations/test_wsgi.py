"""ReliantWSGIMiddleware on a real Flask app served by werkzeug, called with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from middleware_cases_b import (  # noqa: F401 (collected by pytest here)
    test_concurrency_over_the_adaptive_limit_is_shed_with_503,
    test_deadline_header_becomes_the_handler_deadline,
    test_deadline_header_name_is_configurable,
    test_forwarded_client_is_the_key_behind_a_trusted_proxy,
    test_health_paths_are_configurable,
    test_health_probes_are_never_limited,
    test_hostile_forwarding_header_from_trusted_proxy_falls_back_to_peer,
    test_key_by_api_key_accepts_header_or_bearer_token,
    test_key_by_callable,
    test_key_by_header,
    test_key_by_route,
    test_limit_reached_answers_429_with_exact_fields,
    test_malformed_deadline_is_ignored_with_a_log_line,
    test_peers_are_separate_keys_without_proxies,
    test_policy_field_names_quota_and_window,
    test_readiness_fails_while_a_breaker_is_forced_open,
    test_retry_after_is_rounded_up_to_whole_seconds,
    test_rfc7239_forwarded_header_behind_a_trusted_proxy,
    test_spoofed_forwarding_header_from_untrusted_peer_is_ignored,
    test_without_the_header_the_default_deadline_applies,
)
from servers_b import TIMEOUT, Gate, Serve, flask_app, serve_wsgi

import reliant
from reliant.integrations.health import Health
from reliant.integrations.wsgi import ReliantWSGIMiddleware
from reliant.testing import VirtualClock


@pytest.fixture
def gate() -> Iterator[Gate]:
    """The gate /block waits on, released at teardown."""
    gate = Gate()
    yield gate
    gate.release.set()


@pytest.fixture
def serve(gate: Gate) -> Iterator[Serve]:
    """Start Flask + ReliantWSGIMiddleware(**options) under werkzeug; stop it at teardown."""
    with ExitStack() as stack:

        def start(**options: Any) -> str:
            health = options.setdefault("health", Health())
            return stack.enter_context(serve_wsgi(flask_app(gate, **options), health.livez_path))

        yield start


def test_readiness_runs_sync_and_async_checks_on_threads(serve: Serve) -> None:
    """/readyz under WSGI runs sync and async checks, each named in the answer."""

    async def cache() -> bool:
        return False

    def database() -> None:
        return None

    base = serve(health=Health(checks={"cache": cache, "database": database}))
    response = httpx.get(base + "/readyz", timeout=TIMEOUT)
    assert 503 == response.status_code
    assert {
        "status": "fail",
        "checks": {
            "cache": {"status": "fail", "reason": "returned False"},
            "database": {"status": "ok"},
        },
    } == response.json()


def test_exempt_paths_are_neither_limited_nor_shed(serve: Serve) -> None:
    """A path in exempt= passes however spent the caller's limit is."""
    base = serve(
        limiter=reliant.RateLimiter.gcra(rate=1, burst=1, clock=VirtualClock()),
        exempt=["/hello"],
    )
    statuses = [httpx.get(base + "/hello", timeout=TIMEOUT).status_code for _ in range(3)]
    assert [200, 200, 200] == statuses


def test_the_deadline_ends_with_the_request() -> None:
    """After the application returns, no deadline is left in the serving context."""

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [repr(reliant.deadline_remaining()).encode()]

    middleware = ReliantWSGIMiddleware(app, clock=VirtualClock())
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_REQUEST_TIMEOUT": "4"}
    body = middleware(environ, lambda status, headers, *exc: None)
    assert ([b"4.0"], None) == (body, reliant.deadline_remaining())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": "header:"}, "key must be"),
        ({"trusted_proxies": "10.0.0.0/33"}, "trusted_proxies must be"),
        ({"deadline_header": ""}, "deadline_header"),
    ],
)
def test_invalid_options_are_refused_at_construction(options: dict[str, Any], message: str) -> None:
    """A bad option raises ValueError naming the WSGI middleware and the option."""
    with pytest.raises(ValueError, match=f"ReliantWSGIMiddleware: {message}"):
        ReliantWSGIMiddleware(lambda environ, start_response: [], **options)
