"""ReliantMiddleware: inbound rate limiting, load shedding and deadlines for ASGI apps.

A pure ASGI 3 middleware: it works with Starlette, FastAPI or any ASGI application
and imports none of them::

    app = FastAPI()
    app.add_middleware(
        ReliantMiddleware,
        limiter=reliant.RateLimiter.gcra(rate=100, per=60),
        key="api_key",
        shed=reliant.AdaptiveLimit(),
        health=Health(breakers=[payments_breaker]),
    )

For each HTTP request, in order: health probes are answered; the limiter decides by
the request's key (429 with ``Retry-After`` and the IETF RateLimit fields when it
denies); the concurrency limit admits or sheds (503); the deadline header becomes the
reliant deadline of the handler. WebSocket and lifespan traffic pass through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from reliant._core.clock import Clock
from reliant._core.deadline import pop, push
from reliant.exceptions import ConcurrencyLimitError, RateLimitedError
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

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["Health", "ReliantMiddleware", "Request"]


class ASGIRequest(Request):
    """A :class:`Request` over an ASGI HTTP scope."""

    __slots__ = ("_headers",)

    def __init__(self, scope: Scope) -> None:
        client = scope.get("client")
        super().__init__(client[0] if client else None, scope["method"], scope["path"])
        self._headers: list[tuple[bytes, bytes]] = scope["headers"]

    def header(self, name: str) -> str | None:
        """Return header ``name`` (lower case), repeated ones joined by ``, ``."""
        wanted = name.encode("latin-1")
        values = [v.decode("latin-1") for k, v in self._headers if k.lower() == wanted]
        return ", ".join(values) if values else None


def _encode(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def _answer(send: Send, status: int, headers: Headers, body: bytes) -> None:
    raw = _encode(headers)
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class ReliantMiddleware:
    """Protect an ASGI application: rate limits, load shedding, deadlines and health.

    Args:
        app: the ASGI application to wrap.
        limiter: the inbound :class:`~reliant.RateLimiter`; none by default.
        key: what partitions the limit: ``"ip"`` (default), ``"route"``,
            ``"header:NAME"``, ``"api_key"`` (``X-API-Key`` or a Bearer token, digested),
            ``"api_key:NAME"``, or a callable ``(Request) -> str | None`` (``None`` falls
            back to the client address).
        trusted_proxies: networks of the proxies whose forwarding header is believed;
            without any, the client is always the socket peer.
        forwarded_header: ``"x-forwarded-for"`` (default) or ``"forwarded"`` (RFC 7239).
        shed: an :class:`~reliant.AdaptiveLimit` that sheds requests over it with 503.
        deadline_header: the header carrying the caller's time budget in decimal
            seconds (default ``Request-Timeout``).
        max_deadline: the cap on a header's budget, seconds (default 300).
        default_deadline: the budget of a request without the header (default none).
        health: a :class:`Health` whose ``/livez`` and ``/readyz`` this middleware serves.
        exempt: paths neither limited nor shed (the health paths always are).
        policy_name: the policy's name in the RateLimit fields (default ``"default"``).
        clock: the clock deadlines are set on (default the monotonic clock).

    Raises:
        ValueError: on an invalid option.
    """

    __slots__ = ("_core", "_limiter", "_shed", "app", "health", "options")

    def __init__(
        self,
        app: ASGIApp,
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
            owner="ReliantMiddleware",
        )
        self._core = Inbound(self.options, clock)
        self._limiter = limiter
        self._shed = shed
        self.health = health

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        core = self._core
        path = scope["path"]
        health = self.health
        if health is not None:
            if path == health.livez_path:
                status, body = health.livez()
                await _answer(send, status, [("Content-Type", "application/json")], body)
                return
            if path == health.readyz_path:
                status, body = await health.areadyz()
                await _answer(send, status, [("Content-Type", "application/json")], body)
                return
        if path in core.exempt:
            await self.app(scope, receive, send)
            return
        request = ASGIRequest(scope)
        limiter = self._limiter
        if limiter is not None:
            try:
                decision = await limiter.aacquire(core.limit_key(request), max_wait=0.0)
            except RateLimitedError as exc:
                await _answer(send, *core.rejected(exc.retry_after))
                return
            extra = _encode(core.admitted(decision))
            inner = send

            async def send_fields(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), *extra]
                await inner(message)

            send = send_fields
        budget = core.deadline(request)
        if budget is not None:
            token, _ = push(budget, core.clock)
            try:
                await self._shed_or_run(scope, receive, send)
            finally:
                pop(token)
        else:
            await self._shed_or_run(scope, receive, send)

    async def _shed_or_run(self, scope: Scope, receive: Receive, send: Send) -> None:
        shed = self._shed
        if shed is None:
            await self.app(scope, receive, send)
            return
        entered = False

        async def run() -> None:
            nonlocal entered
            entered = True
            await self.app(scope, receive, send)

        try:
            await shed.acall(run)
        except ConcurrencyLimitError:
            if entered:  # raised by the application, not by the limit
                raise
            await _answer(send, *self._core.shed_answer())
