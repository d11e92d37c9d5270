"""A deadline crosses two real hops: middleware in, httpx transport out, header forwarded.

A caller sends ``Request-Timeout`` to a FastAPI (uvicorn) or Flask (werkzeug) app behind
the reliant middleware; its handler calls a second real server through an httpx client
on the reliant transport, which forwards what is left of the deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from servers_b import TIMEOUT, serve_asgi, serve_wsgi
from servers_c import Script, serve

from reliant.integrations.asgi import ReliantMiddleware
from reliant.integrations.health import Health
from reliant.integrations.httpx import AsyncReliantTransport, ReliantTransport
from reliant.integrations.wsgi import ReliantWSGIMiddleware

#: The middleware's cap on a caller's budget in these tests, seconds.
CAP = 5.0

#: ``(downstream base URL) -> context manager yielding the relay's base URL``.
Relay = Callable[[str], AbstractContextManager[str]]


def _fastapi_relay(downstream: str) -> AbstractContextManager[str]:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/relay")
    async def relay() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=AsyncReliantTransport(), timeout=TIMEOUT) as c:
            response = await c.get(downstream + "/work")
        return {"status": response.status_code}

    app.add_middleware(ReliantMiddleware, max_deadline=CAP, health=Health())
    return serve_asgi(app)


def _flask_relay(downstream: str) -> AbstractContextManager[str]:
    from flask import Flask

    app = Flask("reliant-deadline-e2e")

    @app.get("/relay")
    def relay() -> dict[str, Any]:
        with httpx.Client(transport=ReliantTransport(), timeout=TIMEOUT) as c:
            response = c.get(downstream + "/work")
        return {"status": response.status_code}

    app.wsgi_app = ReliantWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, max_deadline=CAP, health=Health()
    )
    return serve_wsgi(app)


@pytest.fixture(params=[_fastapi_relay, _flask_relay], ids=["fastapi", "flask"])
def relay(request: pytest.FixtureRequest) -> Relay:
    """Serves the relay app of one framework (ASGI with the async transport, or WSGI)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def script() -> Script:
    """What the downstream server saw."""
    return Script()


@pytest.fixture
def downstream(script: Script) -> Iterator[str]:
    """The base URL of the second real server."""
    with serve(script) as url:
        yield url


def _call(relay: Relay, downstream: str, headers: dict[str, str]) -> httpx.Response:
    with relay(downstream) as base:
        return httpx.get(base + "/relay", headers=headers, timeout=TIMEOUT)


def _forwarded(script: Script) -> list[str | None]:
    return [seen.headers.get("request-timeout") for seen in script.seen]


def test_remaining_deadline_is_forwarded_to_the_next_hop(
    relay: Relay, downstream: str, script: Script
) -> None:
    """Request-Timeout: 2 on the first hop reaches the second hop as what is left, in (0, 2]."""
    response = _call(relay, downstream, {"Request-Timeout": "2"})
    assert (200, {"status": 200}) == (response.status_code, response.json())
    [value] = _forwarded(script)
    assert value is not None
    assert 0 < float(value) <= 2


@pytest.mark.parametrize(
    "hostile",
    ["nan", "inf", "1e999", "-1", "0", "abc", "1" * 10_240],
    ids=["nan", "inf", "1e999", "negative", "zero", "text", "10KB"],
)
def test_hostile_deadline_header_is_ignored_and_nothing_is_forwarded(
    relay: Relay, downstream: str, script: Script, hostile: str
) -> None:
    """An invalid Request-Timeout gives a normal response and no deadline downstream."""
    response = _call(relay, downstream, {"Request-Timeout": hostile})
    assert (200, {"status": 200}) == (response.status_code, response.json())
    assert [None] == _forwarded(script)


def test_deadline_over_the_cap_is_forwarded_capped(
    relay: Relay, downstream: str, script: Script
) -> None:
    """A huge but valid Request-Timeout is capped at max_deadline before it is forwarded."""
    response = _call(relay, downstream, {"Request-Timeout": "1e9"})
    assert (200, {"status": 200}) == (response.status_code, response.json())
    [value] = _forwarded(script)
    assert value is not None
    assert 0 < float(value) <= CAP
