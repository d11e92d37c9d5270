"""What every demo program shares: one-line argument errors, a socket, serving until a signal.

The fleet's services and the pager run under uvicorn on ``127.0.0.1``. uvicorn handles
SIGTERM and SIGINT by shutting down gracefully and then raising the signal again; the
handlers installed here receive that second delivery, so the program goes on to close its
link to the control plane and exits with status 0 instead of dying by the signal.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any, NoReturn

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request

from reliant._core.policy import Policy
from reliant.agent.agent import Agent
from reliant.integrations.asgi import ReliantMiddleware
from reliant.integrations.health import Health
from reliant.resilience.ratelimit import RateLimiter

HOST = "127.0.0.1"
#: Exit status of a usage error (as argparse's).
USAGE = 2
#: Seconds uvicorn gives requests in flight at shutdown.
GRACEFUL_SHUTDOWN = 2.0
#: The inbound limiter of every service: requests per second, and at once from idle.
INBOUND_RATE = 200.0
INBOUND_BURST = 50
#: Paths the inbound limiter never refuses: the runner's probe and the state page.
EXEMPT = ("/healthz", "/state")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``PROG: error: MESSAGE`` and status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line to stderr and exit with status 2."""
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def port_number(text: str) -> int:
    """An ``argparse`` type: a TCP port, 0 to let the system choose.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not an integer in 0..65535.
    """
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}")
    return port


def listen(port: int) -> socket.socket:
    """A TCP socket bound to ``127.0.0.1:port`` (port 0: any free one).

    Raises:
        OSError: the port cannot be bound (in use, or not allowed).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def say(line: str) -> None:
    """Print one line of the program's log to stdout, at once."""
    print(line, flush=True)


class _Server(uvicorn.Server):
    """uvicorn's server, reporting once it listens (or stopping, if a signal came first)."""

    def __init__(
        self, config: uvicorn.Config, on_ready: Callable[[], None], received: list[int]
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._received = received

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._received:  # a signal arrived before uvicorn was listening for it
            self.should_exit = True
        elif not self.should_exit:
            self._on_ready()


def serve(app: Any, sock: socket.socket, on_ready: Callable[[], None]) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or SIGINT, then return.

    Args:
        app: the ASGI application.
        sock: the bound listening socket (see :func:`listen`).
        on_ready: called once the server accepts connections.
    """
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN),
    )
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _Server(config, on_ready, received).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


class Link:
    """The service's link to the control plane, as ``GET /state`` shows it."""

    def __init__(self) -> None:
        self.agent: Agent | None = None

    def state(self) -> dict[str, Any]:
        """``connected``, ``sent``, ``dropped``, ``streaming``, ``config_version``."""
        if self.agent is None:
            return {
                "connected": False,
                "sent": 0,
                "dropped": 0,
                "streaming": False,
                "config_version": None,
            }
        stats = self.agent.stats()
        return {
            "connected": stats.connected,
            "sent": stats.sent,
            "dropped": stats.dropped,
            "streaming": stats.streaming,
            "config_version": stats.config_version,
        }


def fail(prog: str, message: str, status: int = 1) -> int:
    """Print ``PROG: error: MESSAGE`` to stderr and return ``status`` (for ``main``)."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return status


@dataclass(slots=True, kw_only=True)
class Service:
    """One service of the fleet, built and ready to serve.

    Attributes:
        name: its catalog name (``storefront``, ``payments``, ``inventory``).
        app: the ASGI application (inbound middleware included).
        watch: the policies the control plane may steer, given to ``reliant.connect``.
        link: where the agent goes once connected, for ``GET /state``.
    """

    name: str
    app: Starlette
    watch: tuple[Policy, ...]
    link: Link


def inbound_limiter() -> RateLimiter:
    """The limiter named ``inbound``: ``INBOUND_RATE`` requests a second per client."""
    return RateLimiter.gcra(rate=INBOUND_RATE, per=1.0, burst=INBOUND_BURST, name="inbound")


def inbound(limiter: RateLimiter) -> list[Middleware]:
    """Starlette middleware: ``limiter`` by client address, ``/livez`` and ``/readyz``."""
    return [Middleware(ReliantMiddleware, limiter=limiter, health=Health(), exempt=EXEMPT)]


async def read_json(request: Request, fields: Mapping[str, type]) -> dict[str, Any] | str:
    """The request's JSON object if it has ``fields`` of those types, else why not.

    Args:
        request: the request.
        fields: required field names and their types (``bool`` never counts as ``int``).

    Returns:
        The decoded object, or a one-line reason for a 400 answer.
    """
    try:
        body = await request.json()
    except ValueError:
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "expected a JSON object"
    for name, kind in fields.items():
        value = body.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"{name!r} must be a {kind.__name__}"
    return body
