"""Real servers on loopback for the middleware tests: uvicorn (ASGI) and werkzeug (WSGI).

Each server listens on a socket bound before it starts, so a request sent early
waits in the listen backlog: the readiness probe (GET /livez) needs no polling loop.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

import reliant
from reliant.integrations.asgi import ReliantMiddleware
from reliant.integrations.health import Health
from reliant.integrations.wsgi import ReliantWSGIMiddleware

#: Seconds any single step of a test may take before it fails instead of hanging.
TIMEOUT = 10.0


class Gate:
    """Holds a request inside the application until the test lets it go."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        self.release.wait(TIMEOUT)


def _probe(base_url: str, path: str) -> None:
    response = httpx.get(base_url + path, timeout=TIMEOUT)
    assert 200 == response.status_code


def fastapi_app(gate: Gate, **options: Any) -> Any:
    """A FastAPI app behind ReliantMiddleware (a Health is mounted unless one is given)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, Any]:
        return {"deadline": reliant.deadline_remaining()}

    @app.get("/hello-sync")
    def hello_sync() -> dict[str, Any]:
        return {"deadline": reliant.deadline_remaining()}

    @app.get("/block")
    def block() -> dict[str, Any]:
        gate.hold()
        return {"held": True}

    options.setdefault("health", Health())
    app.add_middleware(ReliantMiddleware, **options)
    return app


def flask_app(gate: Gate, **options: Any) -> Any:
    """A Flask app behind ReliantWSGIMiddleware (a Health is mounted unless one is given)."""
    from flask import Flask

    app = Flask("reliant-test")

    @app.get("/hello")
    def hello() -> dict[str, Any]:
        return {"deadline": reliant.deadline_remaining()}

    @app.get("/block")
    def block() -> dict[str, Any]:
        gate.hold()
        return {"held": True}

    options.setdefault("health", Health())
    app.wsgi_app = ReliantWSGIMiddleware(app.wsgi_app, **options)  # type: ignore[method-assign]
    return app


@contextmanager
def serve_asgi(app: Any, probe: str = "/livez") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        ws="none",
        http="h11",
        access_log=False,
        proxy_headers=False,  # the middleware, not uvicorn, judges forwarding headers
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _probe(base_url, probe)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()
        assert not thread.is_alive()


@contextmanager
def serve_wsgi(app: Any, probe: str = "/livez") -> Iterator[str]:
    """Serve ``app`` with werkzeug's threaded server on a free loopback port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        _probe(base_url, probe)
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)
        assert not thread.is_alive()


#: ``serve(**middleware_options) -> base URL``, as the ``serve`` fixtures return it.
Serve = Callable[..., str]
