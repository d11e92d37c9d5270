"""Run one service of the demo's fleet: ``storefront``, ``payments`` or ``inventory``.

Usage::

    python -m reliant.demo.fleet SERVICE --port P --control-plane URL --token T
        [--upstream NAME=URL ...] [--seed N]

``storefront`` needs ``--upstream payments=URL --upstream inventory=URL``. Each service
serves on ``127.0.0.1:P``, answers ``GET /healthz`` with ``{"service": NAME}`` once it
listens, links to the control plane (telemetry, events, config stream) and stops cleanly
on SIGTERM or SIGINT, pushing what its link still holds. See ``docs/demo-fleet.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from reliant.agent.agent import connect

from .fleet_backends import Payments, inventory
from .fleet_run import Parser, Service, fail, listen, port_number, say, serve
from .fleet_storefront import Storefront

PROG = "python -m reliant.demo.fleet"
SERVICES = ("storefront", "payments", "inventory")
#: The services each one calls, named in ``--upstream NAME=URL``.
UPSTREAMS: dict[str, tuple[str, ...]] = {
    "storefront": ("payments", "inventory"),
    "payments": (),
    "inventory": (),
}
DEFAULT_SEED = 1
#: The link's settings: compressed for a game day that lasts minutes.
FLUSH_INTERVAL = 1.0
EVENT_DELAY = 0.2
POLL_INTERVAL = 1.0
CLOSE_TIMEOUT = 2.0


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def _upstream(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=URL, got {text!r}")
    return name, _url(url)


def _token(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a token of the control plane, got ''")
    return text


def parser() -> Parser:
    """The command line's parser (errors: one line, status 2)."""
    p = Parser(prog=PROG, description="Run one service of the reliant demo's fleet.")
    p.add_argument("service", choices=SERVICES, help="the service to run")
    p.add_argument("--port", type=port_number, required=True, help="port on 127.0.0.1")
    p.add_argument(
        "--control-plane", type=_url, required=True, metavar="URL", help="reliant server URL"
    )
    p.add_argument("--token", type=_token, required=True, help="token for the SDK's link")
    p.add_argument(
        "--upstream",
        type=_upstream,
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a service this one calls (storefront: payments and inventory)",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the random draws")
    return p


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line; exit with status 2 and one line when it is wrong.

    Returns:
        The arguments, ``upstreams`` a dict of name to base URL.
    """
    p = parser()
    args = p.parse_args(argv)
    wanted = UPSTREAMS[args.service]
    upstreams = dict(args.upstream)
    unknown = sorted(set(upstreams) - set(wanted))
    if unknown and not wanted:
        p.error(f"{args.service} calls no upstream; drop --upstream {unknown[0]}=…")
    if unknown:
        p.error(f"unknown upstream {unknown[0]!r}: {args.service} calls " + " and ".join(wanted))
    missing = [name for name in wanted if name not in upstreams]
    if missing:
        needed = " ".join(f"--upstream {name}=http://127.0.0.1:PORT" for name in missing)
        p.error(f"{args.service} needs {needed} (the base URL of each service it calls)")
    args.upstreams = upstreams
    return args


def build(
    args: argparse.Namespace, *, transport: httpx.AsyncBaseTransport | None = None
) -> Service:
    """The service named by ``args`` (from :func:`parse`), not yet serving.

    Args:
        args: the parsed command line.
        transport: storefront only: the httpx transport its calls go through.
    """
    if args.service == "storefront":
        return Storefront(
            payments_url=args.upstreams["payments"],
            inventory_url=args.upstreams["inventory"],
            seed=args.seed,
            transport=transport,
        ).service()
    if args.service == "payments":
        return Payments(seed=args.seed).service()
    return inventory()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT.

    Returns:
        0 after a clean stop; 1 when the port cannot be bound; 2 for a usage error.
    """
    args = parse(argv)
    service = build(args)
    name = service.name
    try:
        sock = listen(args.port)
    except OSError as exc:
        return fail(PROG, f"{name} cannot listen on 127.0.0.1:{args.port}: {exc.strerror}")
    port = sock.getsockname()[1]
    try:
        agent = connect(
            url=args.control_plane,
            token=args.token,
            service=name,
            flush_interval=FLUSH_INTERVAL,
            event_delay=EVENT_DELAY,
            poll_interval=POLL_INTERVAL,
            close_timeout=CLOSE_TIMEOUT,
            watch=service.watch,
        )
    except ValueError as exc:
        sock.close()
        return fail(PROG, str(exc), 2)
    service.link.agent = agent
    say(f"{name}: started on http://127.0.0.1:{port}, linked to {args.control_plane}")
    serve(service.app, sock, lambda: say(f"{name}: ready"))
    delivered = agent.close()
    stats = agent.stats()
    flushed = "flushed" if delivered else "not all flushed"
    say(f"{name}: stopped ({flushed}: sent {stats.sent}, dropped {stats.dropped})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
