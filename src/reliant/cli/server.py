"""``reliant server``: run the control plane (API, web UI, background jobs)."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import sys
from pathlib import Path
from typing import Any

from reliant.server.settings import DEFAULT_PORT


def register(subparsers: Any) -> None:
    """Add ``reliant server`` to the command line."""
    parser = subparsers.add_parser(
        "server",
        help="run the control plane",
        description=(
            "Run the reliant control plane: REST API under /api/v1, web UI, background jobs. "
            "Stores its data in SQLite under --data-dir unless RELIANT_DATABASE_URL (or "
            "--database-url) names a PostgreSQL database."
        ),
    )
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--data-dir", type=Path, default=None, help="embedded store directory")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL of the store")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Start the server and serve until interrupted."""
    import uvicorn

    from reliant.server.app import create_app
    from reliant.server.settings import Settings

    try:
        settings = Settings.from_env(
            host=args.host, port=args.port, data_dir=args.data_dir, database_url=args.database_url
        )
        app = create_app(settings)
    except ValueError as exc:
        print(f"reliant server: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(settings.host):
        print(
            f"reliant server: listening on {settings.host}, beyond this machine; "
            "put TLS in front of it",
            file=sys.stderr,
        )
    if app.state.bootstrap_token:
        print(
            "reliant server: created the first admin token; it is shown only now, keep it:\n"
            f"  {app.state.bootstrap_token}\n"
            f"  reliant login --url http://{settings.host}:{settings.port} --token <it>",
            file=sys.stderr,
        )
    print(
        f"reliant server: store {_safe(settings.url)}; web UI http://{settings.host}:{settings.port}/",
        file=sys.stderr,
    )
    _tune_collector()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level)
    return 0


#: Container allocations between young-generation collections in the server (Python: 700).
GC_THRESHOLD = 10_000


def _tune_collector() -> None:
    """Make the cyclic garbage collector cheap for a long-running server.

    Everything built so far (modules, the app, its routes and schemas: a few hundred
    thousand objects) lives as long as the process, so it is frozen out of collections;
    and young collections wait for more allocations, since a large ingest batch makes tens
    of thousands of short-lived containers (it doubled the server's cost of a 5,000-point
    batch).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
