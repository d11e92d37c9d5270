"""ReliantWSGIMiddleware: inbound rate limiting, load shedding and deadlines for WSGI apps.

The WSGI twin of :class:`reliant.integrations.asgi.ReliantMiddleware`, for Flask,
Django or any WSGI application::

    app.wsgi_app = ReliantWSGIMiddleware(
        app.wsgi_app,
        limiter=reliant.RateLimiter.gcra(rate=100, per=60),
        trusted_proxies=["10.0.0.0/8"],
        health=Health(breakers=[payments_breaker]),
    )

The deadline and the concurrency slot cover the application call; a body the
application streams after returning is sent outside them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from reliant._core.clock import Clock
from reliant._core.deadline import pop, push
from reliant.exceptions import ConcurrencyLimitError
from reliant.integrations._keys import (
    DEFAULT_DEADLINE_HEADER,
    DEFAULT_MAX_DEADLINE,
    DEFAULT_POLICY_NAME,
    Headers,
    Inbound,
    InboundOptions,
    KeyFunc,
    Request,
)
from reliant.integrations.health import Health

if TYPE_CHECKING:
    from reliant.resilience.adaptive import AdaptiveLimit
    from reliant.resilience.ratelimit import RateLimiter

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

__all__ = ["Health", "ReliantWSGIMiddleware", "Request"]

_REASONS = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}


class WSGIRequest(Request):
    """A :class:`Request` over a WSGI environ."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Environ) -> None:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        peer = environ.get("REMOTE_ADDR") or None
        super().__init__(peer, environ.get("REQUEST_METHOD", "GET"), path or "/")
        self._environ = environ

    def header(self, name: str) -> str | None:
        """Return header ``name`` (lower case); the server has joined repeated ones."""
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = self._environ.get(key)
        return value if isinstance(value, str) else None


def _answer(
    start_response: StartResponse, status: int, headers: Headers, body: bytes
) -> list[bytes]:
    start_response(f"{status} {_REASONS[status]}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


class ReliantWSGIMiddleware:
    """Protect a WSGI application: rate limits, load shedding, deadlines and health.

    Takes the options of :class:`reliant.integrations.asgi.ReliantMiddleware`, which
    documents them. Readiness checks run on daemon threads with their timeout.

    Raises:
        ValueError: on an invalid option.
    """

    __slots__ = ("_core", "_limiter", "_shed", "app", "health", "options")

    def __init__(
        self,
        app: WSGIApp,
        *,
        limiter: RateLimiter | None = None,
        key: str | KeyFunc = "ip",
        trusted_proxies: Iterable[str] = (),
        forwarded_header: str = "x-forwarded-for",
        shed: AdaptiveLimit | None = None,
        deadline_header: str = DEFAULT_DEADLINE_HEADER,
        max_deadline: float = DEFAULT_MAX_DEADLINE,
        default_deadline: float | None = None,
        health: Health | None = None,
        exempt: Iterable[str] = (),
        policy_name: str = DEFAULT_POLICY_NAME,
        clock: Clock | None = None,
    ) -> None:
        self.app = app
        self.options = InboundOptions(
            limiter=limiter,
            key=key,
            trusted_proxies=trusted_proxies,
            forwarded_header=forwarded_header,
            shed=shed,
            deadline_header=deadline_header,
            max_deadline=max_deadline,
            default_deadline=default_deadline,
            health=health,
            exempt=exempt,
            policy_name=policy_name,
            owner="ReliantWSGIMiddleware",
        )
        self._core = Inbound(self.options, clock)
        self._limiter = limiter
        self._shed = shed
        self.health = health

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        core = self._core
        request = WSGIRequest(environ)
        path = request.path
        health = self.health
        if health is not None:
            if path == health.livez_path:
                return _answer(start_response, *_json(*health.livez()))
            if path == health.readyz_path:
                return _answer(start_response, *_json(*health.readyz()))
        if path in core.exempt:
            return self.app(environ, start_response)
        limiter = self._limiter
        if limiter is not None:
            decision = limiter.try_acquire(core.limit_key(request))
            if not decision.allowed:
                return _answer(start_response, *core.rejected(decision.retry_after))
            extra = core.admitted(decision)
            inner = start_response

            def start_response(status: str, headers: Headers, *exc_info: Any) -> Any:
                return inner(status, [*headers, *extra], *exc_info)

        budget = core.deadline(request)
        if budget is None:
            return self._shed_or_run(environ, start_response)
        token, _ = push(budget, core.clock)
        try:
            return self._shed_or_run(environ, start_response)
        finally:
            pop(token)

    def _shed_or_run(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        shed = self._shed
        if shed is None:
            return self.app(environ, start_response)
        entered = False

        def run() -> Iterable[bytes]:
            nonlocal entered
            entered = True
            return self.app(environ, start_response)

        try:
            return shed.call(run)
        except ConcurrencyLimitError:
            if entered:  # raised by the application, not by the limit
                raise
            return _answer(start_response, *self._core.shed_answer())


def _json(status: int, body: bytes) -> tuple[int, Headers, bytes]:
    return status, [("Content-Type", "application/json")], body
