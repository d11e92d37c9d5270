"""A real HTTP server for tests: any ASGI app under uvicorn, in a thread, on a free port.

Usage::

    with LiveServer(create_app(settings)) as server:
        httpx.get(f"{server.url}/livez")

The listening socket is bound before the server starts (port 0: the kernel picks a free
one), so there is no race for the port. Entering waits until ``GET /livez`` answers 200
(or the deadline passes); leaving asks uvicorn to shut down — running the app's lifespan
shutdown — and joins the thread.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from reliant.server.streams import close_streams

#: Seconds a server may take to answer its readiness probe.
READY_TIMEOUT = 15.0
#: Seconds a server may take to shut down.
STOP_TIMEOUT = 15.0


class LiveServer:
    """Serve an ASGI app on ``127.0.0.1`` from a background thread.

    Args:
        app: the ASGI application (e.g. ``create_app(settings)``).
        ready_path: the path polled for readiness; it must answer 200 without credentials.
        ready_timeout: seconds to wait for readiness before giving up.
        config: further ``uvicorn.Config`` options (e.g. ``timeout_graceful_shutdown=1``).
    """

    def __init__(
        self,
        app: Any,
        *,
        ready_path: str = "/livez",
        ready_timeout: float = READY_TIMEOUT,
        **config: Any,
    ) -> None:
        self.app = app
        self.ready_path = ready_path
        self.ready_timeout = ready_timeout
        options: dict[str, Any] = {"log_level": "warning", "ws": "none", "lifespan": "on"}
        options.update(config)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.host = "127.0.0.1"
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self._thread = threading.Thread(target=self._serve, name="live-server", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self._socket])
        except BaseException as exc:  # surfaced by start()/stop()
            self._error = exc

    def start(self) -> LiveServer:
        """Start serving and wait until the readiness path answers 200.

        Raises:
            RuntimeError: the server stopped, or was not ready before the deadline.
        """
        self._thread.start()
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer"
        with httpx.Client(base_url=self.url, timeout=1.0) as probe:
            while time.monotonic() < deadline:
                if not self._thread.is_alive():
                    raise RuntimeError(f"the live server stopped while starting: {self._error!r}")
                try:
                    response = probe.get(self.ready_path)
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if response.status_code == 200:
                        return self
                    last = f"{response.status_code} {response.text[:200]}"
                time.sleep(0.02)  # readiness polling, bounded by the deadline
        self.stop()
        raise RuntimeError(f"the live server was not ready within {self.ready_timeout}s: {last}")

    def stop(self) -> None:
        """End the app's open streams, ask the server to exit, wait for its thread.

        Raises:
            RuntimeError: the server did not stop within ``STOP_TIMEOUT`` seconds.
        """
        if hasattr(self.app, "state"):
            close_streams(self.app)  # uvicorn would wait for open event streams forever
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError(f"the live server did not stop within {STOP_TIMEOUT}s")

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
