"""ReliantMiddleware on a real FastAPI app served by uvicorn, called with httpx."""

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
from servers_b import TIMEOUT, Gate, Serve, fastapi_app, serve_asgi

import reliant
from reliant.integrations.asgi import ReliantMiddleware
from reliant.integrations.health import Health
from reliant.testing import VirtualClock


@pytest.fixture
def gate() -> Iterator[Gate]:
    """The gate /block waits on, released at teardown."""
    gate = Gate()
    yield gate
    gate.release.set()


@pytest.fixture
def serve(gate: Gate) -> Iterator[Serve]:
    """Start FastAPI + ReliantMiddleware(**options) under uvicorn; stop it at teardown."""
    with ExitStack() as stack:

        def start(**options: Any) -> str:
            health = options.setdefault("health", Health())
            app = fastapi_app(gate, **options)
            probe = health.livez_path
            return stack.enter_context(serve_asgi(app, probe))

        yield start


def test_sync_endpoint_in_the_threadpool_sees_the_deadline(serve: Serve) -> None:
    """A sync FastAPI endpoint (run in a worker thread) inherits the request's deadline."""
    base = serve(clock=VirtualClock())
    response = httpx.get(base + "/hello-sync", headers={"Request-Timeout": "1.5"}, timeout=TIMEOUT)
    assert {"deadline": 1.5} == response.json()


def test_readiness_runs_async_and_sync_checks(serve: Serve) -> None:
    """/readyz on the event loop reports each dependency check by name."""

    async def cache() -> bool:
        return True

    def database() -> bool:
        raise ConnectionError("down")

    base = serve(health=Health(checks={"cache": cache, "database": database}))
    response = httpx.get(base + "/readyz", timeout=TIMEOUT)
    assert 503 == response.status_code
    assert {
        "status": "fail",
        "checks": {
            "cache": {"status": "ok"},
            "database": {"status": "fail", "reason": "raised ConnectionError"},
        },
    } == response.json()


def test_admitted_fields_join_the_applications_own_headers(serve: Serve) -> None:
    """An admitted response keeps the app's headers and adds the RateLimit fields."""
    clock = VirtualClock()
    base = serve(limiter=reliant.RateLimiter.gcra(rate=5, per=1, clock=clock))
    response = httpx.get(base + "/hello", timeout=TIMEOUT)
    assert "application/json" == response.headers["content-type"]
    assert '"default";r=4;t=1' == response.headers["ratelimit"]


def test_non_http_scopes_pass_through_untouched() -> None:
    """Lifespan (and websocket) scopes go straight to the application."""
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = ReliantMiddleware(
        app, limiter=reliant.RateLimiter.gcra(rate=1, burst=1, clock=VirtualClock())
    )

    async def nothing() -> Any:
        return {}

    async def ignore(message: Any) -> None:
        return None

    for _ in range(3):
        VirtualClock().run(middleware({"type": "lifespan"}, nothing, ignore))
    assert ["lifespan"] * 3 == seen


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": "cookie:x"}, "key must be"),
        ({"trusted_proxies": ["not-a-network"]}, "trusted_proxies must be"),
        ({"forwarded_header": "x-real-ip"}, "forwarded_header"),
        ({"max_deadline": 0}, "max_deadline"),
        ({"default_deadline": -1.0}, "default_deadline"),
        ({"limiter": object()}, "limiter must be"),
        ({"shed": object()}, "shed must be"),
        ({"policy_name": 'a"b'}, "policy_name"),
    ],
)
def test_invalid_options_are_refused_at_construction(options: dict[str, Any], message: str) -> None:
    """A bad option raises ValueError naming the middleware and the option."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(ValueError, match=f"ReliantMiddleware: {message}"):
        ReliantMiddleware(app, **options)
