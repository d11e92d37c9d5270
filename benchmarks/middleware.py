"""Inbound middleware: the per-request cost of rate limiting by client address.

Each request is one call of the application, driven directly — no server, no socket:
the ASGI rows ``await app(scope, receive, send)`` with a fresh copy of one HTTP scope
on one event loop, the WSGI rows call ``app(environ, start_response)`` with a fresh copy
of one environ and read the body. Every app is the smallest that answers ``GET /``
with ``ok``; the bare app is the floor, and *overhead* is a row's figure minus that
floor. Admitted rows use a limit no run reaches; rejected rows use one request an
hour per address, spent before timing, so every timed request gets a 429.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import reliant as r
from benchmarks.harness import Case, Config, Section, Table, table

TITLE = "Inbound middleware — rate limiting by client address, per request"

#: Far above any rate a run reaches: every request is admitted (reliant's GCRA: a
#: million a second with a burst of a billion; slowapi: a billion a second).
RATE = 1_000_000
BURST = 1_000_000_000
#: slowapi's limit string for the admitted rows, and for the rejected ones.
PEER_LIMIT = f"{BURST}/second"
PEER_DENY = "1/hour"

CLIENT = ("203.0.113.7", 50_000)
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"bench"), (b"user-agent", b"bench")],
    "client": CLIENT,
    "server": ("bench", 80),
}

BARE = "(bare Starlette app)"
REF = "reliant ReliantMiddleware(limiter=RateLimiter.gcra(...))"
SLOWAPI_ASGI = "slowapi SlowAPIASGIMiddleware (default_limits)"
SLOWAPI_ROUTE = "slowapi @limiter.limit on the route"
FLASK_BARE = "(bare Flask app)"
FLASK_REF = "reliant ReliantWSGIMiddleware(limiter=RateLimiter.gcra(...))"
FLASK_DENY = "reliant ReliantWSGIMiddleware, every request rejected"
OVERHEAD = "overhead µs"
OVERHEAD_RATIO = "overhead ratio (peer/reliant)"

Request = Callable[[], Any]


def _limiter(admit: bool) -> r.RateLimiter:
    if admit:
        return r.RateLimiter.gcra(rate=RATE, burst=BURST)
    return r.RateLimiter.gcra(rate=1, per=3600)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _driver(app: Any) -> Request:
    """An ``async () -> status`` making one request to ``app``."""

    async def request() -> int:
        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(SCOPE), _receive, send)
        return status

    return request


def _spend(request: Request) -> Request:
    """Make requests until one is rejected, so that every timed one is."""
    for _ in range(10):
        if asyncio.run(request()) == 429:
            return request
    raise RuntimeError("the limiter never rejected")


def _starlette(decorate: Callable[[Any], Any] | None = None) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def home(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse("ok")

    endpoint = decorate(home) if decorate is not None else home
    return Starlette(routes=[Route("/", endpoint)])


def bare() -> Request:
    """The Starlette app alone."""
    return _driver(_starlette())


def reliant(admit: bool) -> Request:
    """``ReliantMiddleware`` limiting by IP (the default key) with an in-memory GCRA."""
    from reliant.integrations.asgi import ReliantMiddleware

    app = _starlette()
    app.add_middleware(ReliantMiddleware, limiter=_limiter(admit))
    request = _driver(app)
    return request if admit else _spend(request)


def _closer(limiter: Any) -> Callable[[], None]:
    """Stop the expiry timer thread of a slowapi limiter's limits ``MemoryStorage``."""
    return lambda: limiter._storage.timer.cancel()


def slowapi_asgi(admit: bool) -> tuple[Request, Callable[[], None]]:
    """slowapi's pure-ASGI middleware applying ``default_limits`` by remote address."""
    from slowapi import Limiter
    from slowapi.middleware import SlowAPIASGIMiddleware
    from slowapi.util import get_remote_address

    app = _starlette()
    app.state.limiter = Limiter(
        key_func=get_remote_address, default_limits=[PEER_LIMIT if admit else PEER_DENY]
    )
    app.add_middleware(SlowAPIASGIMiddleware)
    request = _driver(app)
    return (request if admit else _spend(request)), _closer(app.state.limiter)


def slowapi_route(admit: bool) -> tuple[Request, Callable[[], None]]:
    """slowapi's documented use: ``@limiter.limit`` on the endpoint, 429 by its handler."""
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.util import get_remote_address

    limiter = Limiter(key_func=get_remote_address)
    app = _starlette(limiter.limit(PEER_LIMIT if admit else PEER_DENY))
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
    request = _driver(app)
    return (request if admit else _spend(request)), _closer(limiter)


def _flask(admit: bool | None) -> Request:
    """A Flask app, bare (``None``) or under ``ReliantWSGIMiddleware``; returns the status."""
    from flask import Flask
    from werkzeug.test import EnvironBuilder

    from reliant.integrations.wsgi import ReliantWSGIMiddleware

    flask = Flask("bench")
    flask.add_url_rule("/", "home", lambda: "ok")
    app: Any = flask.wsgi_app
    if admit is not None:
        app = ReliantWSGIMiddleware(app, limiter=_limiter(admit))
    environ = EnvironBuilder(path="/", environ_base={"REMOTE_ADDR": CLIENT[0]}).get_environ()

    def request() -> int:
        status = ""

        def start_response(line: str, headers: Any, exc_info: Any = None) -> None:
            nonlocal status
            status = line

        body = app(dict(environ), start_response)
        b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return int(status[:3])

    if admit is False:
        for _ in range(10):
            if request() == 429:
                return request
        raise RuntimeError("the limiter never rejected")
    return request


def _status(expected: int) -> Callable[[Any], bool]:
    return lambda status: status == expected


def _with_overheads(t: Table, floor: str, ref: str) -> Table:
    """Add each limited row's cost above ``floor`` and its ratio to ``ref``'s.

    A row cheaper than the floor (a 429 that never reaches the app) gets neither.
    """
    base, ref_value = t.value(floor), t.value(ref)
    for row in t.rows:
        if row.value is None or base is None or row.library == floor or row.value < base:
            continue
        row.extras[OVERHEAD] = row.value - base
        if ref_value is not None and ref_value > base:
            row.extras[OVERHEAD_RATIO] = (row.value - base) / (ref_value - base)
    t.extra_columns = (OVERHEAD, OVERHEAD_RATIO, *t.extra_columns)
    return t


def _asgi_cases(admit: bool) -> list[Case]:
    status = _status(200 if admit else 429)
    return [
        Case(BARE, bare, check=_status(200)),
        Case(REF, lambda: reliant(admit), reference=True, check=status),
        Case(SLOWAPI_ASGI, lambda: slowapi_asgi(admit), check=status),
        Case(SLOWAPI_ROUTE, lambda: slowapi_route(admit), check=status),
    ]


def _note(t: Table, what: str) -> str:
    ref = t.row(REF).extras.get(OVERHEAD)
    parts = []
    for peer in (SLOWAPI_ASGI, SLOWAPI_ROUTE):
        ratio = t.row(peer).extras.get(OVERHEAD_RATIO)
        if ratio is not None:
            parts.append(f"{peer}: {ratio:.2f}×")
    if ref is None or not parts:
        return f"{what}: slowapi overhead / reliant overhead not measured."
    return f"{what}: reliant adds {ref:.1f} µs; slowapi overhead / reliant's — " + "; ".join(parts)


def run(cfg: Config) -> Section:
    """Measure the ASGI tables (admitted, rejected) and the WSGI one."""
    section = Section("middleware", TITLE)
    unit = "µs/request"
    admitted = table(cfg, "asgi, admitted (200)", _asgi_cases(True), is_async=True, unit=unit)
    rejected = table(cfg, "asgi, rejected (429)", _asgi_cases(False), is_async=True, unit=unit)
    wsgi = table(
        cfg,
        "wsgi (Flask)",
        [
            Case(FLASK_BARE, lambda: _flask(None), check=_status(200)),
            Case(FLASK_REF, lambda: _flask(True), reference=True, check=_status(200)),
            Case(FLASK_DENY, lambda: _flask(False), check=_status(429)),
        ],
        is_async=False,
        unit=unit,
    )
    section.tables = [
        _with_overheads(admitted, BARE, REF),
        _with_overheads(rejected, BARE, REF),
        _with_overheads(wsgi, FLASK_BARE, FLASK_REF),
    ]
    section.notes += [
        _note(admitted, "admitted"),
        _note(rejected, "rejected"),
        "reliant adds the IETF RateLimit fields to every response; slowapi adds its "
        "X-RateLimit headers only with headers_enabled=True (off here, its default).",
        "A rejected WSGI request never reaches Flask, so it costs less than the bare app.",
        "slowapi's 429 is built by its exception handler (route decorator) or inside its "
        "middleware; reliant's is a problem+json body with Retry-After.",
    ]
    return section
