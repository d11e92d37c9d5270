"""Security headers for the web UI's responses (pages, fragments, static files).

Pages may load scripts, styles, images and connections from this origin only — no inline
script or style, no eval, no framing — so an injected tag cannot run. API routes
(``/api/...``) keep their own headers: the OpenAPI browser at ``/api/v1/docs`` loads its
assets from a CDN and is not part of the UI.
"""

from __future__ import annotations

from typing import Any

#: The Content-Security-Policy of every HTML response of the UI.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
_HTML = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)


class SecurityHeaders:
    """ASGI middleware adding the UI's security headers to every non-API response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                extra = _ALWAYS + (_HTML if content_type.startswith(b"text/html") else ())
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
