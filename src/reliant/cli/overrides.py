"""Run-time overrides of a service's SDK objects, pushed through its config stream.

``reliant breakers force-open|disable|metrics-only|auto SERVICE NAME``,
``reliant limiters set SERVICE NAME --rate R [--per S] [--burst N]`` / ``reset``,
``reliant faults enable|disable|reset SERVICE NAME`` and ``reliant overrides list SERVICE``.
The service's SDK (``reliant.connect``) applies each change within its stream's latency.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from reliant.cli._client import Client, add_connection_args, add_output_arg, render, run_command

COLUMNS = ["kind", "name", "value", "updated_by", "updated_at", "version"]
#: Breaker verbs and the state each forces (``None``: back to automatic).
BREAKER_VERBS: dict[str, str | None] = {
    "force-open": "forced_open",
    "disable": "disabled",
    "metrics-only": "metrics_only",
    "auto": None,
}
FAULT_VERBS: dict[str, bool | None] = {"enable": True, "disable": False, "reset": None}


def _path(service: str, kind: str, name: str) -> str:
    return f"/api/v1/services/{quote(service, safe='')}/overrides/{kind}/{quote(name, safe='/:')}"


def _verb(
    verbs: Any, name: str, help_text: str, fn: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(name, help=help_text)
    parser.add_argument("service", help="the service whose SDK holds the object")
    parser.add_argument("name", help="the object's name in code (name= of the policy)")
    add_connection_args(parser)
    add_output_arg(parser)
    parser.set_defaults(run=lambda a: run_command(fn, a))
    return parser


def _noun(subparsers: Any, name: str, help_text: str) -> Any:
    parser = subparsers.add_parser(name, help=help_text)
    parser.set_defaults(run=lambda a: parser.print_help(sys.stderr) or 2)
    return parser.add_subparsers(title="verbs", metavar="VERB")


def register(subparsers: Any) -> None:
    """Add ``reliant breakers``, ``limiters``, ``faults`` and ``overrides``."""
    breakers = _noun(subparsers, "breakers", "force circuit breakers of a service")
    for verb, state in BREAKER_VERBS.items():
        what = f"force the breaker {verb.replace('-', ' ')}" if state else "back to automatic"
        _verb(breakers, verb, what, partial(_breaker, state=state))
    limiters = _noun(subparsers, "limiters", "change rate limiters of a service")
    setter = _verb(limiters, "set", "override a limiter's rate", _limiter_set)
    setter.add_argument("--rate", type=float, required=True, help="requests per --per seconds")
    setter.add_argument("--per", type=float, default=None, help="seconds (default: the code's)")
    setter.add_argument("--burst", type=int, default=None, help="admitted at once from idle")
    _verb(limiters, "reset", "return the limiter to its code's rate", _limiter_reset)
    faults = _noun(subparsers, "faults", "switch injected faults of a service")
    for verb, enabled in FAULT_VERBS.items():
        what = (
            "back to the code's setting"
            if enabled is None
            else f"switch the fault {'on' if enabled else 'off'}"
        )
        _verb(faults, verb, what, partial(_fault, enabled=enabled))
    overrides = _noun(subparsers, "overrides", "list the overrides of a service")
    listing = overrides.add_parser("list", help="every override of a service")
    listing.add_argument("service")
    add_connection_args(listing)
    add_output_arg(listing)
    listing.set_defaults(run=lambda a: run_command(_list, a))


def _send(args: argparse.Namespace, kind: str, body: dict[str, Any] | None) -> int:
    client = Client.from_args(args)
    path = _path(args.service, kind, args.name)
    try:
        if body is None:
            client.delete(path)
            print(f"{kind[:-1]} {args.name!r} of {args.service}: back to its code's setting")
            return 0
        render(client.put(path, json=body), args.output, COLUMNS)
    finally:
        client.close()
    return 0


def _breaker(args: argparse.Namespace, *, state: str | None) -> int:
    return _send(args, "breakers", None if state is None else {"state": state})


def _limiter_set(args: argparse.Namespace) -> int:
    body = {"rate": args.rate, "per": args.per, "burst": args.burst}
    return _send(args, "limiters", {k: v for k, v in body.items() if v is not None})


def _limiter_reset(args: argparse.Namespace) -> int:
    return _send(args, "limiters", None)


def _fault(args: argparse.Namespace, *, enabled: bool | None) -> int:
    return _send(args, "faults", None if enabled is None else {"enabled": enabled})


def _list(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        page = client.get(f"/api/v1/services/{quote(args.service, safe='')}/overrides")
    finally:
        client.close()
    rows = [{**item, "kind": item["kind"][:-1]} for item in page["items"]]
    render(rows, args.output, COLUMNS)
    return 0
