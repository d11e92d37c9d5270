"""A minimal HTTP client over ``http.client``, for the agent's threads only.

``http.client`` (and with it ``ssl``) is imported on first use, so importing the agent
costs nothing until it connects. Each request uses a fresh connection: the agent talks
to the control plane every few seconds, and a fresh connection never meets a keep-alive
socket the server has already closed (a POST cannot be retried blindly).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import http.client


class Response(NamedTuple):
    """A complete HTTP response (headers with lower-case names)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Endpoint:
    """The control plane's base URL and credentials.

    Args:
        url: ``http://host:port`` or ``https://…``, optionally with a path prefix.
        token: the bearer token sent with every request.

    Raises:
        ValueError: if ``url`` is not an absolute http(s) URL.
    """

    __slots__ = ("host", "port", "prefix", "scheme", "token")

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"connect: url must be an absolute http:// or https:// URL, got {url!r}"
            )
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.token = token

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        """Open (lazily) a connection to the control plane."""
        import http.client

        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def headers(self, extra: Mapping[str, str]) -> dict[str, str]:
        """Return the request headers: authorization, user agent, then ``extra``."""
        from reliant import __version__

        return {
            "Authorization": f"Bearer {self.token}",
            "User-Agent": f"reliant-python/{__version__}",
            **extra,
        }

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float,
    ) -> Response:
        """Send one request and read the whole response.

        Raises:
            OSError: on a connection error or timeout (``http.client`` protocol
                errors are raised as ``ConnectionError``).
        """
        import http.client

        conn = self.connection(timeout)
        try:
            conn.request(method, self.prefix + path, body=body, headers=self.headers(headers or {}))
            response = conn.getresponse()
            data = response.read()
        except http.client.HTTPException as exc:
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
